"""What every page shares: a Jinja2 environment per UI locale, the locale choice, CSRF,
the signed links, and the friendly checks of dates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from kizuna import subscriptions
from kizuna.config import ConfigurationError
from kizuna.consent import WEB_NOTICE, consent_version, notice_values
from kizuna.core.ruby import ruby_to_html, ruby_to_text
from kizuna.i18n import (
    DEFAULT_LOCALE,
    JAPANESE_LOCALES,
    LOCALE_NAMES,
    LOCALES,
    Catalogs,
    format_day,
    html_lang,
    negotiate,
    paired_locale,
)
from kizuna.runtime import Runtime
from kizuna.tokens import Purpose, Tokens

VARIANTS = JAPANESE_LOCALES  # message content: standard Japanese and やさしい日本語


def N_(msgid: str) -> str:  # noqa: N802 - gettext's own name for it
    """Marks a msgid for extraction; it is translated where it is shown."""
    return msgid


CONSENT = N_(
    "I agree that Kizuna keeps my email address and the date I give, and sends me messages "
    "about pregnancy and raising a child by email. I can stop them at any time."
)
CSRF_COOKIE = "kizuna_csrf"
CSRF_FIELD = "csrf_token"
# Links in these pages carry tokens: never let them leak to another site through Referer,
# never be framed (a one-click form in a frame could be clicked by trickery), never cached.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def accepted_locale(header: str) -> str | None:
    """The first of our locales in an Accept-Language header, by the client's preference."""
    return negotiate(header)


def choose_locale(request: Request, *, asked: str | None = None, saved: str | None = None) -> str:
    """The locale asked for on the page (`?lang=`, a form's `lang`), else the subscriber's
    own choice, else the browser's languages, else Japanese."""
    for candidate in (asked, request.query_params.get("lang"), saved):
        if candidate in LOCALES:
            return candidate
    return accepted_locale(request.headers.get("accept-language", "")) or DEFAULT_LOCALE


class Pages:
    """Renders the web pages, each in one locale, with a CSRF token for its forms."""

    def __init__(self, catalogs: Catalogs, tokens: Tokens, *, secure_cookies: bool) -> None:
        self._catalogs = catalogs
        self._tokens = tokens
        self._secure = secure_cookies
        self._envs: dict[str, Environment] = {}

    def text(self, locale: str, msgid: str, **values: object) -> str:
        """Plain text (mail subjects and bodies, titles): furigana as `漢字(かんじ)`."""
        return ruby_to_text(self._catalogs.gettext(locale, msgid, **values))

    def html(self, locale: str, msgid: str) -> str:
        """Escaped HTML, furigana as <ruby>."""
        return ruby_to_html(self._catalogs.gettext(locale, msgid))

    def env(self, locale: str) -> Environment:
        if locale not in self._envs:
            env = Environment(
                loader=PackageLoader("kizuna", "templates/web"),
                autoescape=select_autoescape(default=True),
                extensions=["jinja2.ext.i18n"],
            )
            translations = self._catalogs.translations(locale)
            # Text in pages is HTML: the catalogs mark furigana as ｜漢字《かんじ》, shown
            # as <ruby>. newstyle escapes every %(value)s filled in.
            env.install_gettext_callables(
                gettext=lambda msgid: ruby_to_html(translations.gettext(msgid)),
                ngettext=lambda one, many, n: ruby_to_html(translations.ngettext(one, many, n)),
                newstyle=True,
            )
            env.globals["plain"] = lambda msgid, **values: self.text(locale, msgid, **values)
            env.globals["day"] = lambda value: format_day(value, locale)
            self._envs[locale] = env
        return self._envs[locale]

    def render(
        self,
        request: Request,
        template: str,
        *,
        locale: str,
        status_code: int = 200,
        here: str | None = None,
        **context: object,
    ) -> HTMLResponse:
        """`template` in `locale`; `here` is the page the language links lead to (a form's
        own page after a POST)."""
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = None
        if not cookie or len(cookie) > 64:
            cookie, form_value = fresh = self._tokens.csrf_pair()
        else:
            form_value = self._tokens.csrf_form_value(cookie)
        body = (
            self.env(locale)
            .get_template(template)
            .render(
                locale=locale,
                lang=html_lang(locale),
                csrf_field=CSRF_FIELD,
                csrf_token=form_value,
                languages=language_links(request, locale, here),
                here=here,  # the page's own path: its forms post below it
                **context,
            )
        )
        response = HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
        if fresh is not None:
            response.set_cookie(
                CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=self._secure, path="/"
            )
        return response

    def csrf_ok(self, request: Request, form: Mapping[str, object]) -> bool:
        value = form.get(CSRF_FIELD)
        return self._tokens.csrf_valid(
            request.cookies.get(CSRF_COOKIE), value if isinstance(value, str) else None
        )


def language_links(
    request: Request, current: str, here: str | None = None
) -> list[tuple[str, str, str, bool]]:
    """(name, lang, link, is current) for each locale: this page with `?lang=` changed."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    path = here or request.url.path
    links = []
    for locale in LOCALES:
        query = urlencode({**params, "lang": locale})
        name, tag = LOCALE_NAMES[locale], html_lang(locale)
        links.append((name, tag, f"{path}?{query}", locale == current))
    return links


@dataclass
class Site:
    """What the pages share: the runtime, the page renderer and the link tokens."""

    runtime: Runtime
    pages: Pages
    tokens: Tokens

    def url(self, purpose: Purpose, subscriber_id: int) -> str:
        base = self.runtime.settings.base_url.rstrip("/")
        return f"{base}/{purpose}/{self.tokens.issue(purpose, subscriber_id)}"

    def consent_version(self, locale: str) -> str:
        """Names the exact words shown: a change of wording makes a new version."""
        notice = self.pages.text(locale, WEB_NOTICE, **notice_values(self.runtime.settings))
        return consent_version("web", locale, self.pages.text(locale, CONSENT) + notice)


def site(request: Request) -> Site:
    """The pages' shared parts, built once per app from its runtime's settings."""
    state = request.app.state
    found = getattr(state, "site", None)
    if found is None:
        settings = state.runtime.settings
        if settings.secret_key is None:
            raise ConfigurationError("the web pages need KIZUNA_SECRET_KEY to sign links and forms")
        tokens = Tokens(settings.secret_key.get_secret_value())
        secure = settings.base_url.startswith("https://")
        pages = Pages(Catalogs(settings.locales_dir), tokens, secure_cookies=secure)
        found = state.site = Site(state.runtime, pages, tokens)
    return found


def now(request: Request) -> datetime:
    """The time of this request (tests may set `app.state.clock`)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


SiteDep = Annotated[Site, Depends(site)]


def date_problem(stage: str, day: date, today: date) -> str | None:
    """What is wrong with a due date (pregnant) or birth date (child), as a friendly msgid."""
    if stage == "pregnant":
        if day > today + subscriptions.DUE_DATE_MAX_AHEAD:
            return N_("This due date is more than 300 days away. Please check it.")
        if day < today - subscriptions.DUE_DATE_MAX_PAST:
            return N_(
                "This due date is over two weeks ago. If your baby is born, please give the "
                "birth date."
            )
        return None
    if day > today:
        return N_("This birth date is in the future. Please check it.")
    if subscriptions.check_dates(None, day, today):
        return N_("Messages end when a child turns 18. Please check the birth date.")
    return None


def subscriber_locale(page_locale: str, variant: str) -> str:
    """Someone reading the Japanese pages reads mail in the Japanese they chose for messages;
    someone reading the pages in another language keeps that language for pages and footers."""
    return paired_locale(page_locale, variant)


NOTICES = {
    "broken_link": N_("This link does not work"),
    "confirmed": N_("Thank you. Your sign-up is complete."),
    "stopped": N_("The messages have stopped"),
    "expired": N_("This page has expired"),
    "loss": N_("Thank you for telling us"),
}


def notice(
    request: Request, site: Site, locale: str, kind: str, *, status_code: int = 200, **links: str
) -> HTMLResponse:
    """A short page saying what happened (or what went wrong) in `locale`."""
    return site.pages.render(
        request, "notice.html", locale=locale, status_code=status_code, kind=kind,
        title=NOTICES[kind], **links,
    )  # fmt: skip
