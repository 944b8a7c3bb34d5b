"""The staff console's sessions: signing in and out, the first password, who may see what."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kizuna import audit, staff
from kizuna.core.status import SignInStatus
from kizuna.i18n import LOCALE_NAMES, Catalogs
from kizuna.runtime import Runtime
from kizuna.tokens import Tokens
from kizuna.web.pages import Pages, now, site


def S_(msgid: str) -> str:  # noqa: N802 - gettext's N_, for the staff domain
    """Marks a msgid of the staff console's own catalogs (staff.po, see locales/README.md)."""
    return msgid


STAFF_LOCALES = ("ja", "en")  # municipal staff work in Japanese; English for the rest
LANG_COOKIE = "kizuna_staff_lang"
SESSION_COOKIE = "kizuna_staff_session"
router = APIRouter(prefix="/staff")
NOT_FOUND = S_("This page does not exist")
LOCKED = S_(
    "Too many wrong passwords: this account is locked for 15 minutes. Ask your administrator "
    "if you need it sooner."
)
PASSWORD_PROBLEMS = {
    "short": S_("The password needs at least %(min)s characters."),
    "long": S_("The password may have at most %(max)s characters."),
    "email": S_("The password must not contain your email address."),
    "different": S_("The two passwords are not the same."),
}


@dataclass
class StaffSite:
    """What the console's pages share: the runtime, its own catalogs, tokens and passwords."""

    runtime: Runtime
    pages: Pages
    tokens: Tokens
    passwords: staff.Passwords
    secure: bool


def staff_site(request: Request) -> StaffSite:
    state = request.app.state
    found = getattr(state, "staff_site", None)
    if found is None:
        shared = site(request)  # refuses to start without KIZUNA_SECRET_KEY
        secure = shared.runtime.settings.base_url.startswith("https://")
        catalogs = Catalogs(shared.runtime.settings.locales_dir, domain="staff")
        pages = Pages(catalogs, shared.tokens, secure_cookies=secure)
        passwords = getattr(state, "staff_passwords", None) or staff.Passwords()
        found = state.staff_site = StaffSite(
            shared.runtime, pages, shared.tokens, passwords, secure
        )
    return found


def staff_locale(request: Request) -> str:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in STAFF_LOCALES:
            return candidate
    accepted = request.headers.get("accept-language", "").lower()
    return "en" if accepted.startswith("en") else "ja"


def render(
    request: Request, template: str, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    """A console page in the staff member's language (a `?lang=` choice is remembered)."""
    console = staff_site(request)
    locale = staff_locale(request)
    path = str(context.get("here") or request.url.path)
    choices = [(LOCALE_NAMES[code], code, f"{path}?lang={code}", code == locale)
               for code in STAFF_LOCALES]  # fmt: skip
    response = console.pages.render(
        request, f"staff/{template}", locale=locale, status_code=status_code,
        staff_languages=choices, **context,
    )  # fmt: skip
    if request.query_params.get("lang") in STAFF_LOCALES:
        response.set_cookie(LANG_COOKIE, locale, httponly=True, samesite="lax",
                            secure=console.secure, path="/staff")  # fmt: skip
    return response


def problem(request: Request, title: str, *, status_code: int, **context) -> HTMLResponse:
    return render(request, "notice.html", status_code=status_code, title=title, **context)


def signed_in(request: Request) -> staff.StaffRecord | None:
    """The staff member of this request's session cookie, if it is live."""
    console = staff_site(request)
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    read = console.tokens.read_staff_session(
        value, now=now(request), max_age=staff.SESSION_LIFETIME
    )
    return None if read is None else staff.session_staff(console.runtime.engine, *read)


class StaffRequest:
    """One request to a municipality's console pages: who is signed in, and may they."""

    def __init__(self, request: Request, code: str, form=None) -> None:
        self.request, self.code, self.form = request, code, form
        self.site = staff_site(request)
        self.engine = self.site.runtime.engine
        self.staff = signed_in(request)
        self.at = now(request)

    @classmethod
    async def posted(cls, request: Request, code: str) -> StaffRequest:
        return cls(request, code, await request.form())

    def refusal(self) -> Response | None:
        """Sign in first; another municipality's pages do not exist for this staff member
        (404, exactly like a code nobody has); a form without our CSRF token is refused."""
        if self.staff is None:
            return RedirectResponse("/staff/login", status_code=303)
        if self.staff.municipality_code != self.code:
            return problem(self.request, NOT_FOUND, status_code=404)
        if self.form is not None and not self.site.pages.csrf_ok(self.request, self.form):
            return problem(self.request, S_("This page has expired"), status_code=403,
                           back=self.here)  # fmt: skip
        return None

    @property
    def here(self) -> str:
        return f"/staff/{self.code}"

    def audit(self, action: str, **detail: int | str) -> None:
        with self.engine.begin() as connection:
            audit.record(connection, actor=audit.staff_actor(self.staff.id), action=action,
                         at=self.at, detail={"municipality": self.code, **detail})  # fmt: skip

    def render(self, template: str, *, status_code: int = 200, **context) -> HTMLResponse:
        here = context.pop("here", self.request.url.path)  # after a POST: the form's page
        return render(self.request, template, status_code=status_code, code=self.code,
                      here=here, staff=self.staff, **context)  # fmt: skip


def record(request: Request, staff_id: int, action: str, code: str) -> None:
    with staff_site(request).runtime.engine.begin() as connection:
        audit.record(connection, actor=audit.staff_actor(staff_id), action=action,
                     at=now(request), detail={"municipality": code})  # fmt: skip


@router.get("", response_class=HTMLResponse)
def start(request: Request) -> Response:
    found = signed_in(request)
    target = f"/staff/{found.municipality_code}" if found else "/staff/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", here="/staff/login")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await request.form()
    console = staff_site(request)
    email = str(form.get("email") or "")
    if not console.pages.csrf_ok(request, form):
        return render(request, "login.html", status_code=403, email=email,
                      error=S_("This form has expired. Please sign in again."))  # fmt: skip
    # argon2 takes a third of a second of CPU on purpose: off the event loop, which also
    # runs the scheduler.
    attempt = await asyncio.to_thread(
        staff.sign_in, console.runtime.engine, console.passwords, email,
        str(form.get("password") or ""),
        now=now(request), max_failed=console.runtime.settings.staff_max_failed_logins,
    )  # fmt: skip
    if attempt.locked_now:
        record(request, attempt.staff.id, "staff-lockout", attempt.staff.municipality_code)
    if attempt.status is SignInStatus.LOCKED:
        return render(request, "login.html", status_code=423, email=email, error=LOCKED)
    if attempt.status is SignInStatus.WRONG:
        return render(request, "login.html", status_code=401, email=email,
                      error=S_("The email address or the password is not right."))  # fmt: skip
    record(request, attempt.staff.id, "staff-login", attempt.staff.municipality_code)
    return start_session(request, attempt.staff)


def start_session(request: Request, member: staff.StaffRecord) -> Response:
    console = staff_site(request)
    value = console.tokens.issue_staff_session(member.id, member.session_version, now=now(request))
    response = RedirectResponse(f"/staff/{member.municipality_code}", status_code=303)
    # Strict: no other site can make a browser send it, on any request.
    response.set_cookie(
        SESSION_COOKIE, value, max_age=int(staff.SESSION_LIFETIME.total_seconds()),
        httponly=True, samesite="strict", secure=console.secure, path="/staff",
    )  # fmt: skip
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request) -> Response:
    form = await request.form()
    console, member = staff_site(request), signed_in(request)
    if member is not None and not console.pages.csrf_ok(request, form):
        return problem(request, S_("This page has expired"), status_code=403,
                       back=f"/staff/{member.municipality_code}")  # fmt: skip
    if member is not None:
        staff.end_sessions(console.runtime.engine, member.id)
        record(request, member.id, "staff-logout", member.municipality_code)
    response = render(request, "login.html", signed_out=True, here="/staff/login")
    response.delete_cookie(SESSION_COOKIE, path="/staff")
    return response


@router.get("/password/{token}", response_class=HTMLResponse)
def password_page(request: Request, token: str) -> HTMLResponse:
    """Shows the form and uses nothing up: only setting the password does."""
    console = staff_site(request)
    if staff.link_staff(console.runtime.engine, token, now=now(request)) is None:
        return problem(request, S_("This link does not work"), status_code=404, link=True)
    return render(request, "password.html", here=request.url.path, minimum=staff.PASSWORD_MIN)


@router.post("/password/{token}", response_class=HTMLResponse)
async def set_password(request: Request, token: str) -> Response:
    form = await request.form()
    console = staff_site(request)
    if not console.pages.csrf_ok(request, form):
        return problem(request, S_("This page has expired"), status_code=403,
                       back=request.url.path)  # fmt: skip
    password = str(form.get("password") or "")
    try:
        if password != str(form.get("again") or ""):
            raise staff.PasswordRefused("different")
        member = await asyncio.to_thread(
            staff.set_password, console.runtime.engine, console.passwords, token, password,
            now=now(request),
        )  # fmt: skip
    except staff.PasswordRefused as refused:
        if refused.reason == "link":
            return problem(request, S_("This link does not work"), status_code=404, link=True)
        return render(request, "password.html", status_code=422, here=request.url.path,
                      minimum=staff.PASSWORD_MIN, error=PASSWORD_PROBLEMS[refused.reason],
                      values={"min": staff.PASSWORD_MIN, "max": staff.PASSWORD_MAX})  # fmt: skip
    record(request, member.id, "staff-password", member.municipality_code)
    return start_session(request, member)
