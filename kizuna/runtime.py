"""Wiring for entry points: the engine, the catalog and the channels, built from Settings."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from kizuna.channels.base import Channel, Channels
from kizuna.channels.line import LineChannel
from kizuna.channels.outbox import EmailOutbox, LineOutbox
from kizuna.channels.smtp import SmtpEmail, SmtpOptions, SmtpTls
from kizuna.config import Backend, ConfigurationError, Settings
from kizuna.content import load_catalog
from kizuna.core.catalog import Catalog
from kizuna.db import create_engine, upgrade
from kizuna.dispatcher import Dispatcher, DispatchOptions, DispatchSummary
from kizuna.i18n import Catalogs
from kizuna.mail import MailComposer, MailLinks, SenderIdentity
from kizuna.planner import PlanOptions, PlanScope, PlanSummary, plan_day, zone
from kizuna.store import SqlStore
from kizuna.tokens import Tokens


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    catalog: Catalog

    def variants(self) -> set[str]:
        return {message.variant for message in self.catalog.messages} or {"ja", "ja-easy"}


def open_runtime(settings: Settings) -> Runtime:
    """Open the database (schema brought up to date) and load the catalog (all checked)."""
    engine = create_engine(settings.database_url)
    upgrade(engine)
    catalog = load_catalog(settings.messages_dir, fallbacks=settings.variant_fallbacks)
    return Runtime(settings=settings, engine=engine, catalog=catalog)


def line_backend(settings: Settings) -> Backend:
    """The backend for LINE deliveries; refuses to guess when nothing is configured."""
    if settings.line_backend is not None:
        return settings.line_backend
    if settings.line_channel_access_token is not None:
        return Backend.API
    raise ConfigurationError(
        "LINE is not configured: set KIZUNA_LINE_CHANNEL_ACCESS_TOKEN to send through the "
        "Messaging API, or KIZUNA_LINE_BACKEND=outbox to write LINE deliveries to "
        "KIZUNA_OUTBOX_DIR instead"
    )


def line_channel(settings: Settings) -> Channel:
    """The LINE backend, as configured."""
    backend = line_backend(settings)
    if backend is Backend.OUTBOX:
        return LineOutbox(settings.outbox_dir)
    if backend is not Backend.API:
        raise ConfigurationError(f"KIZUNA_LINE_BACKEND={backend} cannot carry LINE messages")
    if settings.line_channel_access_token is None:
        raise ConfigurationError("KIZUNA_LINE_BACKEND=api needs KIZUNA_LINE_CHANNEL_ACCESS_TOKEN")
    return LineChannel(
        access_token=settings.line_channel_access_token.get_secret_value(),
        api_url=settings.line_api_url,
        concurrency=settings.dispatch_concurrency,
        timeout_seconds=settings.line_timeout_seconds,
        rate_per_second=settings.line_rate_per_second,
    )


def email_backend(settings: Settings) -> Backend:
    """The backend for email deliveries; refuses to guess when nothing is configured."""
    if settings.email_backend is not None:
        return settings.email_backend
    if settings.smtp_host:
        return Backend.SMTP
    raise ConfigurationError(
        "email is not configured: set KIZUNA_SMTP_HOST to send mail through an SMTP relay, "
        "or KIZUNA_EMAIL_BACKEND=outbox to write mails to KIZUNA_OUTBOX_DIR instead"
    )


def mail_composer(settings: Settings) -> MailComposer:
    """The composer of every mail: sender identity, footer texts and signed links."""
    identity = SenderIdentity(
        mail_from=settings.mail_from,
        organisation=settings.sender_name,
        postal_address=settings.sender_postal_address,
        contact=settings.sender_contact,
        unsubscribe_mailto=settings.unsubscribe_mailto,
    )
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    links = MailLinks(settings.base_url, Tokens(secret)) if secret else None
    return MailComposer(identity, links=links, catalogs=Catalogs(settings.locales_dir))


def smtp_channel(settings: Settings) -> SmtpEmail:
    """The SMTP backend; refuses settings that would send mail the law or RFC 8058 forbid."""
    missing = [
        name
        for name, value in [
            ("KIZUNA_SMTP_HOST", settings.smtp_host),
            ("KIZUNA_SECRET_KEY", settings.secret_key),  # signs the unsubscribe links
            ("KIZUNA_SENDER_POSTAL_ADDRESS", settings.sender_postal_address),
            ("KIZUNA_SENDER_CONTACT", settings.sender_contact),
        ]
        if not value
    ]
    if missing:
        raise ConfigurationError(
            f"email over SMTP needs {', '.join(missing)} (every mail carries the sender's "
            "postal address, a contact and a signed unsubscribe link)"
        )
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    options = SmtpOptions(
        host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
        password=password, tls=SmtpTls(settings.smtp_tls), pool_size=settings.smtp_pool_size,
        timeout_seconds=settings.smtp_timeout_seconds,
    )  # fmt: skip
    return SmtpEmail(options, mail_composer(settings))


def email_channel(settings: Settings) -> Channel:
    """The email backend, as configured."""
    backend = email_backend(settings)
    if backend is Backend.OUTBOX:
        return EmailOutbox(settings.outbox_dir, mail_composer(settings))
    if backend is Backend.SMTP:
        return smtp_channel(settings)
    raise ConfigurationError(f"KIZUNA_EMAIL_BACKEND={backend} cannot carry email")


def build_channels(settings: Settings) -> Channels:
    """Register one backend per channel, as configured: only those, explicitly.

    Raises ConfigurationError before anything is sent when a channel has no backend.
    """
    channels = Channels()
    channels.register(line_channel(settings))
    channels.register(email_channel(settings))
    return channels


def plan_options(settings: Settings) -> PlanOptions:
    return PlanOptions(
        allow_unreviewed=settings.allow_unreviewed,
        default_timezone=settings.timezone,
        default_hour=settings.delivery_hour,
    )


def dispatch_options(settings: Settings) -> DispatchOptions:
    return DispatchOptions(
        worker=f"{socket.gethostname()}:{os.getpid()}",
        allow_unreviewed=settings.allow_unreviewed,
        batch_size=settings.dispatch_batch_size,
        concurrency=settings.dispatch_concurrency,
        claim_seconds=settings.claim_seconds,
        max_attempts=settings.max_attempts,
        max_consecutive_failures=settings.max_consecutive_failures,
        max_bounces=settings.email_max_bounces,
        multicast=settings.line_multicast,
    )


def plan(runtime: Runtime, local_date: date, *, now: datetime) -> PlanSummary:
    store = SqlStore(runtime.engine)
    return plan_day(store, runtime.catalog, local_date, plan_options(runtime.settings), now=now)


def plan_child(runtime: Runtime, child_id: int, *, now: datetime) -> PlanSummary:
    """Plan today (in each follower's time zone) for one child's followers: after a
    registration or a date change, today's message need not wait for tomorrow."""
    store = SqlStore(runtime.engine)
    settings = runtime.settings
    total = PlanSummary()
    for timezone in store.timezones(default=settings.timezone, child_id=child_id):
        today = now.astimezone(zone(timezone)).date()
        scope = PlanScope(settings.timezone, timezone=timezone, child_id=child_id)
        summary = plan_day(
            store, runtime.catalog, today, plan_options(settings), now=now, scope=scope
        )
        total.followers += summary.followers
        total.due += summary.due
        total.planned += summary.planned
    return total


def plan_dry_run(runtime: Runtime, local_date: date, *, now: datetime) -> PlanSummary:
    """What planning would add, computed inside a transaction that is rolled back."""
    with runtime.engine.connect() as connection:
        transaction = connection.begin()
        try:
            store = SqlStore(connection)
            return plan_day(
                store, runtime.catalog, local_date, plan_options(runtime.settings), now=now
            )
        finally:
            transaction.rollback()


async def dispatch_day(runtime: Runtime, local_date: date, *, now: datetime) -> DispatchSummary:
    """Send everything planned through `local_date`, whatever its hour."""
    channels = build_channels(runtime.settings)
    try:
        dispatcher = Dispatcher(
            SqlStore(runtime.engine), runtime.catalog, channels, dispatch_options(runtime.settings)
        )
        return await dispatcher.run(now=now, through_local_date=local_date)
    finally:
        await channels.close()
