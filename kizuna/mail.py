"""Building the RFC 5322 email for a delivery (the same bytes for the outbox and for SMTP)."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from jinja2 import Environment, PackageLoader, select_autoescape

from kizuna.channels.base import Envelope


@dataclass(frozen=True, slots=True)
class SenderIdentity:
    """Who the mail is from; `mail_from` is an RFC 5322 address (`Name <addr>`)."""

    mail_from: str
    organisation: str = "Kizuna"


class MailComposer:
    """Turns an envelope into a multipart/alternative mail (plain text + HTML)."""

    def __init__(self, identity: SenderIdentity) -> None:
        self._identity = identity
        _, address = parseaddr(identity.mail_from)
        if "@" not in address:
            raise ValueError(f"mail_from has no address: {identity.mail_from!r}")
        self._domain = address.rsplit("@", 1)[1]
        env = Environment(
            loader=PackageLoader("kizuna", "templates"),
            autoescape=select_autoescape(default=True),
        )
        self._layout = env.get_template("email.html")

    def message_id(self, idempotency_key: str) -> str:
        """Derived from the delivery's key, so a resend after a crash carries the same id."""
        return f"<{idempotency_key}@{self._domain}>"

    def compose(self, envelope: Envelope) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._identity.mail_from
        mail["To"] = Address(addr_spec=envelope.address)
        mail["Subject"] = envelope.title
        mail["Date"] = format_datetime(envelope.created_at)
        mail["Message-ID"] = self.message_id(envelope.idempotency_key)
        mail.set_content(envelope.text + "\n", charset="utf-8")
        html = self._layout.render(
            title=envelope.title, body_html=envelope.html, organisation=self._identity.organisation
        )
        mail.add_alternative(html, subtype="html", charset="utf-8")
        return mail
