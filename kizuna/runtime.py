"""Wiring for entry points: the engine, the catalog and the channels, built from Settings."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from kizuna.channels.base import Channels
from kizuna.channels.outbox import EmailOutbox, LineOutbox
from kizuna.config import Backend, ConfigurationError, Settings
from kizuna.content import load_catalog
from kizuna.core.catalog import Catalog
from kizuna.db import create_engine, upgrade
from kizuna.dispatcher import Dispatcher, DispatchOptions, DispatchSummary
from kizuna.mail import MailComposer, SenderIdentity
from kizuna.planner import PlanOptions, PlanSummary, plan_day
from kizuna.store import SqlStore


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
    raise ConfigurationError(
        "LINE is not configured: set KIZUNA_LINE_BACKEND=outbox to write LINE deliveries "
        "to KIZUNA_OUTBOX_DIR instead of sending them"
    )


def email_backend(settings: Settings) -> Backend:
    """The backend for email deliveries; refuses to guess when nothing is configured."""
    if settings.email_backend is not None:
        return settings.email_backend
    raise ConfigurationError(
        "email is not configured: set KIZUNA_EMAIL_BACKEND=outbox to write mails "
        "to KIZUNA_OUTBOX_DIR instead of sending them"
    )


def build_channels(settings: Settings) -> Channels:
    """Register one backend per channel, as configured: only those, explicitly.

    Raises ConfigurationError before anything is sent when a channel has no backend.
    """
    channels = Channels()
    line, email = line_backend(settings), email_backend(settings)
    if line is Backend.OUTBOX:
        channels.register(LineOutbox(settings.outbox_dir))
    else:
        raise ConfigurationError(f"KIZUNA_LINE_BACKEND={line} is not available yet")
    composer = MailComposer(SenderIdentity(mail_from=settings.mail_from))
    if email is Backend.OUTBOX:
        channels.register(EmailOutbox(settings.outbox_dir, composer))
    else:
        raise ConfigurationError(f"KIZUNA_EMAIL_BACKEND={email} is not available yet")
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
    )


def plan(runtime: Runtime, local_date: date, *, now: datetime) -> PlanSummary:
    store = SqlStore(runtime.engine)
    return plan_day(store, runtime.catalog, local_date, plan_options(runtime.settings), now=now)


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
