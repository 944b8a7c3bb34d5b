"""`/family/<token>`: signing up by a family invitation — one's own address, Japanese, hour
and time zone, no dates (the child has them); double opt-in, the follow made on confirming."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kizuna import family, subscriptions
from kizuna.consent import WEB_NOTICE, consent_version, notice_values
from kizuna.core.status import ChannelName
from kizuna.enrollment import InvitationUnusable
from kizuna.i18n import default_variant
from kizuna.tokens import Purpose
from kizuna.web.family_roles import ROLE_NAMES
from kizuna.web.pages import (
    N_,
    VARIANTS,
    Site,
    SiteDep,
    choose_locale,
    notice,
    now,
    subscriber_locale,
)
from kizuna.web.signup import send_signup_mail

router = APIRouter()
FAMILY_CONSENT = N_(
    "I agree that Kizuna keeps my email address and settings, and sends me messages about "
    "this child by email. I can stop them at any time."
)
TIMEZONES = ("Asia/Tokyo", "Asia/Seoul", "Asia/Shanghai", "Asia/Manila", "Asia/Ho_Chi_Minh",
             "Asia/Jakarta", "Asia/Kathmandu", "America/Sao_Paulo", "Europe/London",
             "America/New_York", "America/Los_Angeles", "Australia/Sydney")  # fmt: skip


@dataclass
class FamilyForm:
    email: str = ""
    variant: str = ""
    hour: str = ""
    timezone: str = ""
    consent: bool = False
    consent_version: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # field -> msgid

    @classmethod
    def read(cls, form) -> FamilyForm:
        text = {name: str(form.get(name) or "").strip() for name in ("email", "variant",
                "hour", "timezone", "consent_version")}  # fmt: skip
        return cls(**text, consent=form.get("consent") == "yes")

    def check(self, *, consent_version: str) -> None:
        errors = self.errors
        if not self.email:
            errors["email"] = N_("Please enter your email address.")
        elif "@" not in self.email or any(ch.isspace() for ch in self.email):
            errors["email"] = N_("This email address does not look right. Please check it.")
        if self.variant not in VARIANTS:
            errors["variant"] = N_("Please choose how the messages are written.")
        if not (self.hour.isdigit() and 0 <= int(self.hour) <= 23):
            errors["hour"] = N_("Please choose the hour the messages arrive.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = N_("Please choose your time zone.")
        if not self.consent:
            errors["consent"] = N_("Please read the text and tick the box to agree.")
        elif self.consent_version != consent_version:
            errors["consent"] = N_("The text you agreed to has changed. Please read it again.")


def family_consent_version(site: Site, locale: str) -> str:
    """Names the exact words shown: a change of wording makes a new version."""
    words = site.pages.text(locale, WEB_NOTICE, **notice_values(site.runtime.settings))
    return consent_version("web", locale, site.pages.text(locale, FAMILY_CONSENT) + words)


def _invitation(site: Site, token: str, request: Request) -> family.Invitation | None:
    invitation_id = site.tokens.read(Purpose.FAMILY, token)
    if invitation_id is None:
        return None
    try:
        return family.find_invitation(site.runtime.engine, invitation_id=invitation_id,
                                      now=now(request))  # fmt: skip
    except InvitationUnusable:
        return None


def _page(request, site: Site, invitation, form: FamilyForm, locale: str, status_code=200):
    return site.pages.render(
        request, "family_signup.html", locale=locale, status_code=status_code,
        here=request.url.path, form=form, role=ROLE_NAMES.get(invitation.role, ROLE_NAMES["other"]),
        consent=FAMILY_CONSENT, consent_version=family_consent_version(site, locale),
        notice=WEB_NOTICE, notice_values=notice_values(site.runtime.settings),
        timezones=TIMEZONES,
    )  # fmt: skip


@router.get("/family/{token}", response_class=HTMLResponse)
def family_page(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    locale = choose_locale(request)
    invitation = _invitation(site, token, request)
    if invitation is None:  # unknown, used and expired look the same
        return notice(request, site, locale, "broken_link", status_code=404)
    settings = site.runtime.settings
    form = FamilyForm(variant=default_variant(locale), hour=str(settings.delivery_hour),
                      timezone=settings.timezone)  # fmt: skip
    return _page(request, site, invitation, form, locale)


@router.post("/family/{token}", response_class=HTMLResponse)
async def family_signup(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    form_data = await request.form()
    locale = choose_locale(request, asked=str(form_data.get("lang") or ""))
    invitation = _invitation(site, token, request)
    if invitation is None:
        return notice(request, site, locale, "broken_link", status_code=404)
    form = FamilyForm.read(form_data)
    if not site.pages.csrf_ok(request, form_data):
        form.errors["form"] = N_("This form has expired. Please check it and send it again.")
        return _page(request, site, invitation, form, locale, status_code=403)
    form.check(consent_version=family_consent_version(site, locale))
    if form.errors:
        return _page(request, site, invitation, form, locale, status_code=422)
    at = now(request)
    wanted = subscriptions.SubscribeRequest(
        channel=ChannelName.EMAIL, address=form.email, variant=form.variant,
        timezone=form.timezone, consent_version=form.consent_version,
    )  # fmt: skip
    try:
        signed = family.sign_up(site.runtime.engine, invitation.id, wanted,
                                delivery_hour=int(form.hour), now=at,
                                locale=subscriber_locale(locale, form.variant))  # fmt: skip
    except subscriptions.SubscribeError:
        form.errors["email"] = N_("This email address does not look right. Please check it.")
        return _page(request, site, invitation, form, locale, status_code=422)
    except InvitationUnusable:  # used by someone else meanwhile
        return notice(request, site, locale, "broken_link", status_code=404)
    problem = await send_signup_mail(request, site, signed, form.email, locale, at)
    if problem is not None:
        if signed.pending:  # no mail, no sign-up: the invitation can be used again
            family.withdraw(site.runtime.engine, subscriber_id=signed.subscriber_id)
        form.errors[problem[0]] = problem[1]
        return _page(request, site, invitation, form, locale, status_code=503)
    return site.pages.render(request, "signup_sent.html", locale=locale, here=request.url.path)
