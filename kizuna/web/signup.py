"""Signing up on the web (double opt-in), confirming, and unsubscribing in one click."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import escape

from kizuna import family, subscriptions
from kizuna.channels.base import Envelope
from kizuna.consent import WEB_NOTICE, notice_values
from kizuna.core.status import ChannelName, SendStatus, SubscriberStatus
from kizuna.i18n import default_variant
from kizuna.tokens import Purpose
from kizuna.web import manage
from kizuna.web.pages import (
    CONSENT,
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

log = logging.getLogger(__name__)
MUNICIPALITY_CODE = re.compile(r"\d{6}")
STAGES = ("pregnant", "child")
router = APIRouter()
router.include_router(manage.router)


@dataclass
class SignupForm:
    email: str = ""
    stage: str = ""
    day: str = ""
    variant: str = ""
    municipality: str = ""
    consent: bool = False
    consent_version: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # field -> msgid

    @classmethod
    def read(cls, form) -> SignupForm:
        text = {name: str(form.get(name) or "").strip() for name in ("email", "stage", "day",
                "variant", "municipality", "consent_version")}  # fmt: skip
        return cls(**text, consent=form.get("consent") == "yes")

    def check(self, *, today: date, consent_version: str) -> date | None:
        """Fill `errors`, friendly and per field; the date when it is usable."""
        errors = self.errors
        if not self.email:
            errors["email"] = N_("Please enter your email address.")
        elif "@" not in self.email or any(ch.isspace() for ch in self.email):
            errors["email"] = N_("This email address does not look right. Please check it.")
        if self.stage not in STAGES:
            errors["stage"] = N_("Please choose: pregnant, or raising a child.")
        day = self._day()
        if day is None:
            errors.setdefault("day", N_("Please enter the date."))
        elif self.stage in STAGES and (problem := date_problem(self.stage, day, today)):
            errors["day"] = problem
        if self.variant not in VARIANTS:
            errors["variant"] = N_("Please choose how the messages are written.")
        if self.municipality and not MUNICIPALITY_CODE.fullmatch(self.municipality):
            errors["municipality"] = N_("A municipality code has 6 digits. You may leave it empty.")
        if not self.consent:
            errors["consent"] = N_("Please read the text and tick the box to agree.")
        elif self.consent_version != consent_version:
            errors["consent"] = N_("The text you agreed to has changed. Please read it again.")
        return day

    def _day(self) -> date | None:
        if not self.day:
            return None
        try:
            return date.fromisoformat(self.day)
        except ValueError:
            self.errors["day"] = N_("Please enter the date as year, month and day.")
            return None


SUBSCRIBE_ERRORS = {  # the service's own checks, for what the form could not see
    "address": ("email", N_("This email address does not look right. Please check it.")),
    "municipality": (
        "municipality",
        N_("We do not know this municipality code. Please check it, or leave it empty."),
    ),  # noqa: E501
    "variant": ("variant", N_("Please choose how the messages are written.")),
}


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, site: SiteDep, municipality: str = "") -> HTMLResponse:
    locale = choose_locale(request)
    form = SignupForm(variant=default_variant(locale))
    if MUNICIPALITY_CODE.fullmatch(municipality):
        form.municipality = municipality  # from a municipality's own link
    return signup_form(request, site, form, locale)


def signup_form(
    request: Request, site: Site, form: SignupForm, locale: str, status_code: int = 200
) -> HTMLResponse:
    return site.pages.render(
        request, "signup.html", locale=locale, status_code=status_code, here="/signup",
        form=form, consent=CONSENT, consent_version=site.consent_version(locale),
        notice=WEB_NOTICE, notice_values=notice_values(site.runtime.settings),
    )  # fmt: skip


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request, site: SiteDep) -> HTMLResponse:
    form_data = await request.form()
    locale = choose_locale(request, asked=str(form_data.get("lang") or ""))
    form = SignupForm.read(form_data)
    if not site.pages.csrf_ok(request, form_data):
        form.errors["form"] = N_("This form has expired. Please check it and send it again.")
        return signup_form(request, site, form, locale, status_code=403)
    settings, at = site.runtime.settings, now(request)
    day = form.check(
        today=subscriptions.local_today(at, settings.timezone),
        consent_version=site.consent_version(locale),
    )
    if form.errors:
        return signup_form(request, site, form, locale, status_code=422)
    try:
        signed = subscriptions.sign_up(
            site.runtime.engine, signup_request(form, day), variants=set(VARIANTS),
            default_timezone=settings.timezone, locale=subscriber_locale(locale, form.variant),
            now=at,
        )  # fmt: skip
    except subscriptions.SubscribeError as error:
        for problem in error.problems:
            name, msgid = SUBSCRIBE_ERRORS.get(problem, ("day", N_("Please check the date.")))
            form.errors[name] = msgid
        return signup_form(request, site, form, locale, status_code=422)
    problem = await send_signup_mail(request, site, signed, form.email, locale, at)
    if problem is not None:
        form.errors[problem[0]] = problem[1]
        return signup_form(request, site, form, locale, status_code=503)
    return site.pages.render(request, "signup_sent.html", locale=locale, here="/signup")


def signup_request(form: SignupForm, day: date | None) -> subscriptions.SubscribeRequest:
    pregnant = form.stage == "pregnant"
    return subscriptions.SubscribeRequest(
        channel=ChannelName.EMAIL, address=form.email, variant=form.variant,
        due_date=day if pregnant else None, birth_date=None if pregnant else day,
        municipality_code=form.municipality or None, consent_version=form.consent_version,
    )  # fmt: skip


async def send_signup_mail(
    request: Request,
    site: Site,
    signed: subscriptions.SignedUp,
    address: str,
    locale: str,
    at: datetime,
) -> tuple[str, str] | None:
    """Send the confirmation (or, for an address subscribed already, a note with its settings
    link): the page looks the same either way. A problem as (field, msgid)."""
    channel = request.app.state.channels.get(ChannelName.EMAIL)
    if signed.pending:
        purpose, subject, lines = Purpose.CONFIRM, CONFIRM_SUBJECT, CONFIRM_LINES
    else:
        purpose, subject, lines = Purpose.MANAGE, ALREADY_SUBJECT, ALREADY_LINES
    envelope = mail_envelope(
        site, subscriber_id=signed.subscriber_id, address=address, locale=locale, at=at,
        subject=subject, lines=lines, url=site.url(purpose, signed.subscriber_id),
    )  # fmt: skip
    if channel is None:
        log.error("no email channel: the confirmation mail cannot be sent")
        return "form", N_("We could not send the mail just now. Please try again a little later.")
    result = await channel.send(envelope)
    if result.status is SendStatus.SENT:
        return None
    log.warning("sign-up mail not sent: %s", result.status)  # the detail may name the address
    if result.status is SendStatus.GONE:
        return "email", N_("Mail to this address cannot be delivered. Please check it.")
    return "form", N_("We could not send the mail just now. Please try again a little later.")


CONFIRM_SUBJECT = N_("Please confirm your sign-up to Kizuna")
CONFIRM_LINES = (
    N_("Thank you for signing up to Kizuna."),
    N_("To start the messages, open this link and press the button:"),
    None,  # the link
    N_("If you did not sign up, please ignore this mail. Nothing more will be sent."),
)
ALREADY_SUBJECT = N_("You are already signed up to Kizuna")
ALREADY_LINES = (
    N_("Someone, perhaps you, asked to sign up this address to Kizuna. It is signed up already."),
    N_("To see or change your settings, open this link:"),
    None,
    N_("If this was not you, please ignore this mail."),
)


def mail_envelope(
    site: Site,
    *,
    subscriber_id: int,
    address: str,
    locale: str,
    at: datetime,
    subject: str,
    lines: tuple[str | None, ...],
    url: str,
) -> Envelope:
    """A mail the pages send themselves: text and HTML from the catalogs, the link in place."""
    pages = site.pages
    text = "\n\n".join(url if line is None else pages.text(locale, line) for line in lines)
    html = "\n".join(
        f'<p><a href="{escape(url)}">{escape(url)}</a></p>'
        if line is None
        else f"<p>{pages.html(locale, line)}</p>"
        for line in lines
    )
    return Envelope(
        delivery_id=0, idempotency_key=str(uuid.uuid4()), channel=ChannelName.EMAIL,
        address=address, title=pages.text(locale, subject), text=text, html=html,
        created_at=at, subscriber_id=subscriber_id, locale=locale,
    )  # fmt: skip


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    """Shows a button and changes nothing: mail scanners open links, only people press."""
    found = read_subscriber(site, Purpose.CONFIRM, token)
    locale = choose_locale(request, saved=found.locale if found else None)
    if found is None:
        return notice(request, site, locale, "broken_link", status_code=404)
    if found.status != SubscriberStatus.PENDING:
        manage_url = site.url(Purpose.MANAGE, found.subscriber_id)
        return notice(request, site, locale, "confirmed", manage=manage_url)
    return site.pages.render(request, "confirm.html", locale=locale, action=request.url.path)


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    form = await request.form()
    found = read_subscriber(site, Purpose.CONFIRM, token)
    saved = found.locale if found else None
    locale = choose_locale(request, asked=str(form.get("lang") or ""), saved=saved)
    if found is None:
        return notice(request, site, locale, "broken_link", status_code=404)
    if not site.pages.csrf_ok(request, form):
        return notice(request, site, locale, "expired", status_code=403, back=request.url.path)
    # An invited caregiver starts following the child here, by confirming.
    family.confirm(site.runtime.engine, subscriber_id=found.subscriber_id, now=now(request))
    manage_url = site.url(Purpose.MANAGE, found.subscriber_id)
    return notice(request, site, locale, "confirmed", manage=manage_url)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    """Asks first and changes nothing: link scanners follow GETs."""
    found = read_subscriber(site, Purpose.UNSUBSCRIBE, token)
    locale = choose_locale(request, saved=found.locale if found else None)
    if found is None:
        return notice(request, site, locale, "broken_link", status_code=404)
    if found.status == SubscriberStatus.STOPPED:
        return notice(request, site, locale, "stopped")
    return site.pages.render(request, "unsubscribe.html", locale=locale, action=request.url.path)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    """RFC 8058 one-click: a mail client posts `List-Unsubscribe=One-Click` with no cookie and
    no login. The signed token is the proof; the answer is the page itself, no redirect."""
    found = read_subscriber(site, Purpose.UNSUBSCRIBE, token)
    locale = choose_locale(request, saved=found.locale if found else None)
    if found is None:
        return notice(request, site, locale, "broken_link", status_code=404)
    if found.status != SubscriberStatus.STOPPED:
        subscriptions.stop(
            site.runtime.engine, subscriber_id=found.subscriber_id,
            reason="unsubscribed by link", now=now(request),
        )  # fmt: skip
    return notice(request, site, locale, "stopped")


def read_subscriber(site: Site, purpose: Purpose, token: str) -> subscriptions.Subscription | None:
    subscriber_id = site.tokens.read(purpose, token)
    if subscriber_id is None:
        return None
    return subscriptions.subscription(site.runtime.engine, subscriber_id=subscriber_id)
