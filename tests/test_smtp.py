"""The SMTP channel against a real SMTP server: headers, replies, drops, timeouts, the pool."""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW
from mailserver import Passwords, free_port, smtp_server

from kizuna import subscriptions
from kizuna.channels.base import Channels, Envelope
from kizuna.channels.smtp import SmtpEmail, SmtpOptions, SmtpTls
from kizuna.config import Backend, ConfigurationError
from kizuna.content import load_catalog
from kizuna.core.status import ChannelName, SendStatus
from kizuna.dispatcher import Dispatcher, DispatchOptions
from kizuna.mail import MailComposer, MailLinks, SenderIdentity
from kizuna.models import Delivery
from kizuna.planner import PlanOptions, plan_day
from kizuna.runtime import build_channels, email_backend
from kizuna.store import SqlStore
from kizuna.tokens import Purpose, Tokens

TOKENS = Tokens("test-secret")
SENDER = SenderIdentity(
    mail_from="Kizuna <news@kizuna.example.org>", organisation="きずな運営事務局",
    postal_address="東京都千代田区千代田1-1", contact="help@kizuna.example.org",
)  # fmt: skip


def composer() -> MailComposer:
    return MailComposer(SENDER, links=MailLinks("https://kizuna.example.org", TOKENS))


def channel(port: int, **options) -> SmtpEmail:
    options = {"tls": SmtpTls.NONE, "pool_size": 2, "timeout_seconds": 5.0, **options}
    return SmtpEmail(SmtpOptions(host="127.0.0.1", port=port, **options), composer())


def envelope(n: int = 1, **fields) -> Envelope:
    base = dict(
        delivery_id=n, idempotency_key=f"0f8fad5b-d9cb-469f-a165-{n:012d}",
        channel=ChannelName.EMAIL, address="parent@example.com", title="妊娠12週のあなたへ",
        text="本文です。", html="<p>本文です。</p>", created_at=NOW, subscriber_id=42,
    )  # fmt: skip
    return Envelope(**{**base, **fields})


def send_all(smtp: SmtpEmail, envelopes: list[Envelope], *, together: bool = False):
    async def run():
        try:
            if together:
                return await asyncio.gather(*(smtp.send(e) for e in envelopes))
            return [await smtp.send(e) for e in envelopes]
        finally:
            await smtp.close()

    return asyncio.run(run())


def test_mail_arrives_with_every_header():
    with smtp_server() as (mailbox, port):
        [result] = send_all(channel(port), [envelope()])
        [got] = mailbox.wait_for(1)
    assert result.status is SendStatus.SENT
    assert got.mail_from == "news@kizuna.example.org"
    assert got.rcpt_tos == ["parent@example.com"]
    assert max(got.raw) < 128  # 7-bit clean: any relay carries it
    mail = got.mail
    unsubscribe = f"https://kizuna.example.org/unsubscribe/{TOKENS.issue(Purpose.UNSUBSCRIBE, 42)}"
    assert mail["From"] == "Kizuna <news@kizuna.example.org>"
    assert mail["To"] == "parent@example.com"
    assert mail["Subject"] == "妊娠12週のあなたへ"
    assert mail["Date"] == "Sun, 22 Nov 2026 00:00:00 +0000"
    assert mail["Message-ID"] == "<0f8fad5b-d9cb-469f-a165-000000000001@kizuna.example.org>"
    assert mail["List-Id"] == "Kizuna <kizuna.kizuna.example.org>"
    assert mail["List-Unsubscribe"] == (
        f"<{unsubscribe}>, <mailto:news@kizuna.example.org?subject=unsubscribe>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        for words in ("きずな運営事務局", "東京都千代田区千代田1-1", "help@kizuna.example.org"):
            assert words in part
        assert unsubscribe in part
    assert text.startswith("本文です。\n")


@pytest.mark.parametrize(
    ("rcpt", "data", "status", "detail"),
    [
        ("550 5.1.1 no such user", None, SendStatus.GONE, "bounced: 550 5.1.1 no such user"),
        ("450 4.2.1 mailbox busy", None, SendStatus.RETRY, "deferred: 450 4.2.1 mailbox busy"),
        (None, "554 5.7.1 rejected as spam", SendStatus.FAILED, "refused: 554 5.7.1"),
        (None, "451 4.3.0 try again later", SendStatus.RETRY, "deferred: 451 4.3.0"),
        (None, "421 4.3.2 shutting down", SendStatus.RETRY, "deferred: 421 4.3.2"),
    ],
)
def test_server_replies_become_results(rcpt, data, status, detail):
    with smtp_server() as (mailbox, port):
        if rcpt:
            mailbox.rcpt_replies["parent@example.com"] = rcpt
        if data:
            mailbox.data_replies["parent@example.com"] = data
        [result] = send_all(channel(port), [envelope()])
    assert result.status is status
    assert result.detail.startswith(detail)
    assert mailbox.arrived == []


@pytest.mark.parametrize("phase", ["MAIL", "DATA"])
def test_a_dropped_connection_is_reopened_and_the_message_sent_once(phase):
    with smtp_server() as (mailbox, port):
        smtp = channel(port, pool_size=1)
        first, second = envelope(1), envelope(2)
        results = asyncio.run(_send_then_drop(smtp, mailbox, phase, first, second))
        arrived = mailbox.wait_for(2)
    assert [r.status for r in results] == [SendStatus.SENT, SendStatus.SENT]
    assert [a.mail["Message-ID"] for a in arrived] == [
        composer().message_id(e.idempotency_key) for e in (first, second)
    ]
    assert len(mailbox.connections) == 2  # the pooled one, dropped, and its replacement


async def _send_then_drop(smtp, mailbox, phase, first, second):
    try:
        results = [await smtp.send(first)]
        mailbox.drops[phase] = 1  # the pooled connection dies before the second message
        results.append(await smtp.send(second))
        return results
    finally:
        await smtp.close()


def test_a_connection_dropped_again_asks_for_a_retry():
    with smtp_server() as (mailbox, port):
        mailbox.drops["DATA"] = 2
        [result] = send_all(channel(port), [envelope()])
        assert mailbox.arrived == []
        [again] = send_all(channel(port), [envelope()])  # the dispatcher's later attempt
        [got] = mailbox.wait_for(1)
    assert result.status is SendStatus.RETRY
    assert result.detail.startswith("connection lost")
    assert again.status is SendStatus.SENT
    assert got.mail["Message-ID"] == composer().message_id(envelope().idempotency_key)


def test_an_unreachable_server_asks_for_a_retry():
    [result] = send_all(channel(free_port()), [envelope()])
    assert result.status is SendStatus.RETRY
    assert result.detail.startswith("connection lost")


def test_a_server_that_hangs_times_out():
    with smtp_server() as (mailbox, port):
        mailbox.stall.add("parent@example.com")
        [result] = send_all(channel(port, timeout_seconds=0.5), [envelope()])
    assert result.status is SendStatus.RETRY
    assert result.detail == "timed out after 0.5s"


def test_connections_are_reused_and_bounded_by_the_pool():
    with smtp_server() as (mailbox, port):
        in_turn = send_all(channel(port), [envelope(n) for n in range(5)])
        assert len(mailbox.wait_for(5)) == 5 and len(mailbox.connections) == 1
        mailbox.connections.clear()
        together = send_all(channel(port), [envelope(n) for n in range(10, 18)], together=True)
        arrived = mailbox.wait_for(13)
    assert {r.status for r in in_turn + together} == {SendStatus.SENT}
    assert len(mailbox.connections) <= 2  # pool_size=2
    assert len({a.mail["Message-ID"] for a in arrived}) == 13
    assert channel(port).max_in_flight == 2  # the dispatcher runs no more senders than that


@pytest.mark.parametrize(
    ("password", "status", "detail"),
    [("right", SendStatus.SENT, ""), ("wrong", SendStatus.RETRY, "relay refused us: 535")],
)
def test_login(password, status, detail):
    with smtp_server(authenticator=Passwords("kizuna", "right"), auth_require_tls=False) as (
        mailbox,
        port,
    ):
        [result] = send_all(channel(port, username="kizuna", password=password), [envelope()])
    assert result.status is status
    assert result.detail.startswith(detail)
    assert len(mailbox.arrived) == (1 if status is SendStatus.SENT else 0)


@pytest.mark.parametrize(
    ("tls", "port", "use_tls", "start_tls"),
    [(SmtpTls.NONE, 25, False, False), (SmtpTls.STARTTLS, 587, False, True),
     (SmtpTls.TLS, 465, True, False)],
)  # fmt: skip
def test_tls_modes(tls, port, use_tls, start_tls):
    client = SmtpOptions(host="smtp.example.org", tls=tls).client()
    assert (client.port, client.use_tls, client._start_tls_on_connect) == (
        port, use_tls, start_tls,
    )  # fmt: skip


def test_a_server_dropping_connections_mid_run_loses_nothing(engine, messages_dir):
    """Eight deliveries, a server that drops three connections: all arrive, each once."""
    catalog = load_catalog(messages_dir)
    for n in range(8):
        subscriptions.subscribe(
            engine,
            subscriptions.SubscribeRequest("email", f"p{n}@example.com", due_date=date(2027, 6, 6)),
            variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
        )  # fmt: skip
    plan_day(SqlStore(engine), catalog, date(2026, 11, 22), PlanOptions(False, "Asia/Tokyo", 8),
             now=NOW)  # fmt: skip
    options = DispatchOptions(worker="t", allow_unreviewed=False, concurrency=4, max_attempts=8)
    with smtp_server() as (mailbox, port):
        mailbox.drops.update({"DATA": 3, "MAIL": 1})
        for hours in range(0, 48, 6):  # later runs pick up what was deferred
            channels = Channels()
            channels.register(channel(port, pool_size=2))
            dispatcher = Dispatcher(SqlStore(engine), catalog, channels, options,
                                    rng=random.Random(hours))  # fmt: skip
            asyncio.run(_run(dispatcher, channels, NOW + timedelta(hours=hours)))
        arrived = mailbox.wait_for(8)
    assert sum(mailbox.drops.values()) == 0  # every drop happened
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Delivery.__table__)).mappings().all()
    assert {row["status"] for row in rows} == {"sent"}
    assert sorted(a.rcpt_tos[0] for a in arrived) == [f"p{n}@example.com" for n in range(8)]
    keys = {composer().message_id(row["idempotency_key"]) for row in rows}
    assert sorted(a.mail["Message-ID"] for a in arrived) == sorted(keys)


async def _run(dispatcher, channels, now):
    try:
        await dispatcher.run(now=now, through_local_date=date(2026, 11, 22))
    finally:
        await channels.close()


def smtp_settings(settings, **values):
    base = {
        "email_backend": None, "smtp_host": "127.0.0.1", "smtp_tls": "none",
        "sender_postal_address": "東京都千代田区千代田1-1", "sender_contact": "help@example.org",
    }  # fmt: skip
    return settings.model_copy(update={**base, **values})


def test_smtp_is_chosen_when_its_host_is_configured(settings):
    channels = build_channels(smtp_settings(settings))
    assert channels.describe()["email"] == "smtp"
    nothing = settings.model_copy(update={"email_backend": None})
    with pytest.raises(ConfigurationError, match="KIZUNA_SMTP_HOST"):
        email_backend(nothing)


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"sender_postal_address": ""}, "KIZUNA_SENDER_POSTAL_ADDRESS"),
        ({"sender_contact": ""}, "KIZUNA_SENDER_CONTACT"),
        ({"secret_key": None}, "KIZUNA_SECRET_KEY"),
        ({"email_backend": Backend.SMTP, "smtp_host": None}, "KIZUNA_SMTP_HOST"),
    ],
)
def test_smtp_refuses_to_start_without_what_every_mail_needs(settings, values, missing):
    with pytest.raises(ConfigurationError, match=missing):
        build_channels(smtp_settings(settings, **values))
