"""`/manage/<token>`, linked from every mail: variant, due date, a birth, a loss, stopping."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kizuna import family_follows, subscriptions
from kizuna.core.status import ChildStatus, SubscriberStatus
from kizuna.family import INVITABLE_ROLES
from kizuna.i18n import LOCALE_NAMES, LOCALES, html_lang
from kizuna.tokens import Purpose
from kizuna.web.family_roles import ROLE_NAMES
from kizuna.web.pages import (
    N_,
    VARIANTS,
    Site,
    SiteDep,
    choose_locale,
    date_problem,
    notice,
    now,
    subscriber_locale,
)

router = APIRouter()
EDITABLE = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)
ENTER_DATE = N_("Please enter the date.")
BIRTH_ERRORS = {  # subscriptions.check_dates problem -> friendly msgid
    "due_date": N_("This birth date is too far from the due date. Please check it."),
    "date": ENTER_DATE,
}


class Manage:
    """One request to a settings page: whose it is, in which locale, and its form."""

    def __init__(self, request: Request, site: Site, token: str, form=None) -> None:
        self.request, self.site, self.token, self.form = request, site, token, form or {}
        self.subscriber_id = site.tokens.read(Purpose.MANAGE, token)
        self.subscription = (
            None
            if self.subscriber_id is None
            else subscriptions.subscription(site.runtime.engine, subscriber_id=self.subscriber_id)
        )
        saved = self.subscription.locale if self.subscription else None
        self.locale = choose_locale(request, asked=str(self.form.get("lang") or ""), saved=saved)

    @classmethod
    async def posted(cls, request: Request, site: Site, token: str) -> Manage:
        return cls(request, site, token, await request.form())

    def refusal(self) -> HTMLResponse | None:
        """The page to show instead when the link is bad, the form stale, or nothing editable."""
        if self.subscription is None:
            return notice(self.request, self.site, self.locale, "broken_link", status_code=404)
        if self.form and not self.site.pages.csrf_ok(self.request, self.form):
            return notice(self.request, self.site, self.locale, "expired", status_code=403,
                          back=self.here)  # fmt: skip
        if self.form and self.subscription.status not in EDITABLE:
            return self.page(status_code=409)
        return None

    @property
    def here(self) -> str:
        return f"/manage/{self.token}"

    def child(self, child_id: int) -> subscriptions.FollowedChild | None:
        """A child this subscriber may report for; None for anyone else's."""
        for child in self.subscription.children:
            if child.child_id == child_id and child.may_report:
                return child
        return None

    def today(self) -> date:
        zone = self.subscription.timezone or self.site.runtime.settings.timezone
        return subscriptions.local_today(now(self.request), zone)

    def day(self, name: str) -> date | None:
        try:
            return date.fromisoformat(str(self.form.get(name) or ""))
        except ValueError:
            return None

    def page(self, *, status_code: int = 200, **context: object) -> HTMLResponse:
        fresh = subscriptions.subscription(
            self.site.runtime.engine, subscriber_id=self.subscriber_id
        )
        return self.site.pages.render(
            self.request, "manage.html", locale=self.locale, status_code=status_code,
            here=self.here, subscription=fresh, editable=fresh.status in EDITABLE,
            variants=VARIANTS, unsubscribe=self.site.url(Purpose.UNSUBSCRIBE, fresh.subscriber_id),
            locale_names=[(code, html_lang(code), LOCALE_NAMES[code]) for code in LOCALES],
            caregivers=family_follows.caregivers(
                self.site.runtime.engine, manager_id=self.subscriber_id
            ),
            role_names=ROLE_NAMES, invitable_roles=INVITABLE_ROLES,
            **context,
        )  # fmt: skip


@router.get("/manage/{token}", response_class=HTMLResponse)
def manage_page(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    manage = Manage(request, site, token)
    return manage.refusal() or manage.page()


@router.post("/manage/{token}/variant", response_class=HTMLResponse)
async def change_variant(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    variant = str(manage.form.get("variant") or "")
    if variant not in VARIANTS:
        return manage.page(status_code=422, error=N_("Please choose how the messages are written."))
    # On the Japanese pages the variant chosen is also the Japanese of pages and footers.
    manage.locale = subscriber_locale(manage.locale, variant)
    subscriptions.change_variant(
        site.runtime.engine, subscriber_id=manage.subscriber_id, variant=variant,
        locale=manage.locale,
    )  # fmt: skip
    return manage.page(saved=True)


@router.post("/manage/{token}/locale", response_class=HTMLResponse)
async def change_locale(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    """The language of these pages, of mail footers and of LINE replies; the messages keep
    their Japanese."""
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    chosen = str(manage.form.get("locale") or "")
    if chosen not in LOCALES:
        return manage.page(status_code=422, error=N_("Please choose a language."))
    manage.locale = chosen
    subscriptions.change_variant(
        site.runtime.engine, subscriber_id=manage.subscriber_id,
        variant=manage.subscription.variant, locale=chosen,
    )  # fmt: skip
    return manage.page(saved=True)


@router.post("/manage/{token}/children/{child_id}/due-date", response_class=HTMLResponse)
async def correct_due_date(
    request: Request, token: str, child_id: int, site: SiteDep
) -> HTMLResponse:
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    child, day = manage.child(child_id), manage.day("due_date")
    if child is None or child.status != ChildStatus.EXPECTED:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    problem = (
        N_("Please enter the date.")
        if day is None
        else date_problem("pregnant", day, manage.today())
    )
    if problem:
        return manage.page(status_code=422, error=problem, error_child=child_id)
    subscriptions.correct_due_date(site.runtime.engine, child_id=child_id, due_date=day)
    return manage.page(saved=True)


@router.post("/manage/{token}/children/{child_id}/birth", response_class=HTMLResponse)
async def report_birth(request: Request, token: str, child_id: int, site: SiteDep) -> HTMLResponse:
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    child, day = manage.child(child_id), manage.day("birth_date")
    if child is None or child.status != ChildStatus.EXPECTED:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    today = manage.today()
    problem = ENTER_DATE if day is None else date_problem("child", day, today)
    if problem is None:
        problems = subscriptions.check_dates(child.due_date, day, today)
        problem = next((BIRTH_ERRORS.get(name) for name in problems), None)
    if problem:
        return manage.page(status_code=422, error=problem, error_child=child_id)
    subscriptions.report_birth(site.runtime.engine, child_id=child_id, birth_date=day)
    return manage.page(saved=True)


@router.get("/manage/{token}/children/{child_id}/loss", response_class=HTMLResponse)
def loss_page(request: Request, token: str, child_id: int, site: SiteDep) -> HTMLResponse:
    """A gentle page that asks before anything is recorded."""
    manage = Manage(request, site, token)
    if refused := manage.refusal():
        return refused
    child = manage.child(child_id)
    if child is None or child.status == ChildStatus.LOSS:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    return site.pages.render(
        request, "loss.html", locale=manage.locale, action=request.url.path, back=manage.here
    )


@router.post("/manage/{token}/children/{child_id}/loss", response_class=HTMLResponse)
async def report_loss(request: Request, token: str, child_id: int, site: SiteDep) -> HTMLResponse:
    """From now on nothing about this child is sent to anyone following it."""
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    child = manage.child(child_id)
    if child is None:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    if child.status != ChildStatus.LOSS:
        subscriptions.report_loss(site.runtime.engine, child_id=child_id, loss_date=manage.today())
    support = manage.form.get("support") == "yes"
    subscriptions.set_loss_support(
        site.runtime.engine, subscriber_id=manage.subscriber_id, child_id=child_id, on=support
    )
    return notice(request, site, manage.locale, "loss", back=manage.here, here=manage.here)
