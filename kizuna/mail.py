"""Building the RFC 5322 email for a delivery (the same bytes for the outbox and for SMTP)."""

from __future__ import annotations

from dataclasses import dataclass
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from io import BytesIO
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from kizuna.channels.base import Envelope
from kizuna.config import bundled_dir
from kizuna.core.ruby import ruby_to_html, ruby_to_text
from kizuna.i18n import Catalogs
from kizuna.tokens import Purpose, Tokens

# Written as we give them: the default policy would turn a URL longer than a line into an
# RFC 2047 encoded word, and mail clients could no longer find the unsubscribe link.
VERBATIM_HEADERS = {"list-unsubscribe", "list-unsubscribe-post", "list-id"}
HTML_LANG = {"ja": "ja", "ja-easy": "ja", "en": "en"}


class MailPolicy(EmailPolicy):
    """The default email policy, except that List-* headers are never encoded or refolded."""

    def fold(self, name: str, value: str) -> str:
        if name.lower() not in VERBATIM_HEADERS:
            return super().fold(name, value)
        text = " ".join(str(value).split())
        if not text.isascii():
            raise ValueError(f"{name} must be ASCII")
        return f"{name}: {text.replace(', ', ',' + self.linesep + ' ')}{self.linesep}"

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() not in VERBATIM_HEADERS:
            return super().fold_binary(name, value)
        return self.fold(name, value).encode("ascii")


MAIL_POLICY = MailPolicy()
SEVEN_BIT = MAIL_POLICY.clone(cte_type="7bit")


@dataclass(frozen=True, slots=True)
class SenderIdentity:
    """Who the mail is from; `mail_from` is an RFC 5322 address (`Name <addr>`).

    Japan's 特定電子メール法 asks every mail to name the sender, their postal address and a
    contact for enquiries, and to say how to stop; the footer carries them.
    """

    mail_from: str
    organisation: str = "Kizuna"
    postal_address: str = ""
    contact: str = ""
    unsubscribe_mailto: str | None = None  # None: the address of `mail_from`


@dataclass(frozen=True, slots=True)
class MailLinks:
    """Where the signed links in a mail point."""

    base_url: str
    tokens: Tokens

    def url(self, purpose: Purpose, subscriber_id: int) -> str:
        token = self.tokens.issue(purpose, subscriber_id)
        return f"{self.base_url.rstrip('/')}/{purpose}/{token}"


@dataclass(frozen=True, slots=True)
class FooterLine:
    """One footer line: its words (may carry furigana markup) and an optional link."""

    words: str
    url: str = ""


class MailComposer:
    """Turns an envelope into a multipart/alternative mail (plain text + HTML)."""

    def __init__(
        self,
        identity: SenderIdentity,
        *,
        links: MailLinks | None = None,
        catalogs: Catalogs | None = None,
    ) -> None:
        self._identity = identity
        _, address = parseaddr(identity.mail_from)
        if "@" not in address:
            raise ValueError(f"mail_from has no address: {identity.mail_from!r}")
        self.sender_address = address
        self._domain = address.rsplit("@", 1)[1]
        self._mailto = identity.unsubscribe_mailto or address
        self._links = links
        self._catalogs = catalogs or Catalogs(bundled_dir("locales"))
        env = Environment(
            loader=PackageLoader("kizuna", "templates"),
            autoescape=select_autoescape(default=True),
        )
        self._layout = env.get_template("email.html")

    def message_id(self, idempotency_key: str) -> str:
        """Derived from the delivery's key, so a resend after a crash carries the same id."""
        return f"<{idempotency_key}@{self._domain}>"

    def list_unsubscribe(self, subscriber_id: int) -> str | None:
        """The RFC 2369 / RFC 8058 header value, or None when no link can be signed."""
        if self._links is None or subscriber_id <= 0:
            return None
        url = self._links.url(Purpose.UNSUBSCRIBE, subscriber_id)
        return f"<{url}>, <mailto:{quote(self._mailto, safe='@')}?subject=unsubscribe>"

    def compose(self, envelope: Envelope) -> EmailMessage:
        mail = EmailMessage(policy=MAIL_POLICY)
        mail["From"] = self._identity.mail_from
        mail["To"] = Address(addr_spec=envelope.address)
        mail["Subject"] = envelope.title
        mail["Date"] = format_datetime(envelope.created_at)
        mail["Message-ID"] = self.message_id(envelope.idempotency_key)
        mail["List-Id"] = f"Kizuna <kizuna.{self._domain}>"
        unsubscribe = self.list_unsubscribe(envelope.subscriber_id)
        if unsubscribe is not None:
            mail["List-Unsubscribe"] = unsubscribe
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        footer = self.footer(envelope.subscriber_id, envelope.locale)
        mail.set_content(envelope.text + "\n\n" + footer_text(footer) + "\n", charset="utf-8")
        html = self._layout.render(
            lang=HTML_LANG.get(envelope.locale, "ja"),
            title=envelope.title,
            body_html=Markup(envelope.html),  # rendered and escaped by kizuna.rendering
            footer=[(Markup(ruby_to_html(line.words)), line.url) for line in footer],
        )
        mail.add_alternative(html, subtype="html", charset="utf-8")
        return mail

    def footer(self, subscriber_id: int, locale: str) -> list[FooterLine]:
        """The sender's name, postal address and contact, and how to stop, in `locale`."""
        say, me = self._catalogs.gettext, self._identity
        lines = [FooterLine(say(locale, "Sent by %(sender)s.", sender=me.organisation))]
        if me.postal_address:
            lines.append(FooterLine(say(locale, "Address: %(address)s", address=me.postal_address)))
        if me.contact:
            lines.append(FooterLine(say(locale, "Enquiries: %(contact)s", contact=me.contact)))
        if self._links is not None and subscriber_id > 0:
            manage = self._links.url(Purpose.MANAGE, subscriber_id)
            stop = self._links.url(Purpose.UNSUBSCRIBE, subscriber_id)
            lines.append(FooterLine(say(locale, "Change your settings:"), manage))
            lines.append(FooterLine(say(locale, "Stop these messages:"), stop))
        else:
            lines.append(
                FooterLine(
                    say(
                        locale,
                        'To stop these messages, send a mail with the subject "unsubscribe" '
                        "to %(address)s.",
                        address=self._mailto,
                    )
                )
            )
        return lines

    @staticmethod
    def to_bytes(mail: EmailMessage) -> bytes:
        """The mail as 7-bit clean bytes, which every SMTP server accepts (no 8BITMIME needed)."""
        buffer = BytesIO()
        BytesGenerator(buffer, policy=SEVEN_BIT).flatten(mail)
        return buffer.getvalue()


def footer_text(lines: list[FooterLine]) -> str:
    """The footer for the plain-text part: furigana as `漢字(かんじ)`, links written out."""
    rendered = [ruby_to_text(line.words) + (f" {line.url}" if line.url else "") for line in lines]
    return "\n".join(["-" * 20, *rendered])
