"""The double opt-in mail for residents a municipality enrolled: the sign-up confirmation
link and page, with words saying who asked."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from kizuna.channels.base import Channel
from kizuna.config import ConfigurationError
from kizuna.core.status import SendStatus
from kizuna.enrollment import EmailInvitation
from kizuna.i18n import Catalogs
from kizuna.runtime import Runtime
from kizuna.tokens import Purpose, Tokens
from kizuna.web.pages import N_, Pages, Site
from kizuna.web.signup import mail_envelope

log = logging.getLogger(__name__)
CONCURRENCY = 8  # mails in flight at once; the SMTP pool queues the rest

INVITATION_SUBJECT = N_("Your municipality invites you to Kizuna: please confirm")
INVITATION_LINES = (
    N_(
        "Your city, town or village has asked Kizuna to send you short messages about "
        "pregnancy and raising a child."
    ),
    N_("To start the messages, open this link and press the button:"),
    None,  # the confirmation link, as in a sign-up's own mail
    N_(
        "Nothing is sent before you confirm. If you do not want the messages, please ignore "
        "this mail."
    ),  # fmt: skip
)


def site_for(runtime: Runtime) -> Site:
    """The pages' shared parts outside a request (the CLI sends invitations too)."""
    settings = runtime.settings
    if settings.secret_key is None:
        raise ConfigurationError("invitation mails need KIZUNA_SECRET_KEY to sign their links")
    tokens = Tokens(settings.secret_key.get_secret_value())
    pages = Pages(
        Catalogs(settings.locales_dir), tokens, secure_cookies=settings.base_url.startswith("https")
    )
    return Site(runtime, pages, tokens)


async def send_invitations(
    channel: Channel, site: Site, invitations: list[EmailInvitation], *, now: datetime
) -> list[int]:
    """Send each invitation, a few at a time; returns the lines whose mail did not go out
    (the resident stays pending: nothing is ever sent to them before they confirm)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(invitation: EmailInvitation) -> int | None:
        envelope = mail_envelope(
            site, subscriber_id=invitation.subscriber_id, address=invitation.address,
            locale=invitation.locale, at=now, subject=INVITATION_SUBJECT, lines=INVITATION_LINES,
            url=site.url(Purpose.CONFIRM, invitation.subscriber_id),
        )  # fmt: skip
        async with gate:
            result = await channel.send(envelope)
        if result.status is SendStatus.SENT:
            return None
        log.warning("invitation mail not sent: %s", result.status)  # never the address
        return invitation.line

    lines = await asyncio.gather(*(send(invitation) for invitation in invitations))
    return [line for line in lines if line is not None]
