"""The outbox backend writes exactly what the real channels would send, atomically."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from kizuna.channels.base import Channels, Envelope
from kizuna.channels.outbox import EmailOutbox, LineOutbox, atomic_write
from kizuna.core.status import ChannelName, SendStatus
from kizuna.mail import MailComposer, SenderIdentity

LINE_ID = "U" + "a" * 32


def envelope(channel: ChannelName, address: str, **fields) -> Envelope:
    base = dict(
        delivery_id=42, idempotency_key="6a1f3e0c-3c55-4a55-9a49-4c8f4c3b2a10", channel=channel,
        address=address, title="件名", text="こんにちは\n二行目", html="<p>こんにちは</p>",
        created_at=datetime(2026, 11, 22, tzinfo=UTC),
    )  # fmt: skip
    return Envelope(**{**base, **fields})


def test_line_outbox_file_is_the_push_body(tmp_path):
    channel = LineOutbox(tmp_path)
    result = asyncio.run(channel.send(envelope(ChannelName.LINE, LINE_ID)))
    assert result.status is SendStatus.SENT
    record = json.loads((tmp_path / "line" / "42.json").read_text(encoding="utf-8"))
    assert record == {
        "endpoint": "/v2/bot/message/push",
        "retry_key": "6a1f3e0c-3c55-4a55-9a49-4c8f4c3b2a10",
        "request": {"to": LINE_ID, "messages": [{"type": "text", "text": "こんにちは\n二行目"}]},
    }


def test_line_outbox_writes_a_group_as_one_push_and_a_multicast_as_one_request(tmp_path):
    channel = LineOutbox(tmp_path)
    pushed = envelope(ChannelName.LINE, LINE_ID, more_texts=("二通目",))
    others = ("U" + "b" * 32, "U" + "c" * 32)
    many = envelope(ChannelName.LINE, LINE_ID, delivery_id=43, multicast=True,
                    more_addresses=others)  # fmt: skip
    assert asyncio.run(channel.send(pushed)).status is SendStatus.SENT
    assert asyncio.run(channel.send(many)).status is SendStatus.SENT
    push = json.loads((tmp_path / "line" / "42.json").read_text(encoding="utf-8"))
    assert [m["text"] for m in push["request"]["messages"]] == ["こんにちは\n二行目", "二通目"]
    multicast = json.loads((tmp_path / "line" / "43.json").read_text(encoding="utf-8"))
    assert multicast["endpoint"] == "/v2/bot/message/multicast"
    assert multicast["request"]["to"] == [LINE_ID, *others]


def test_line_outbox_refuses_more_than_five_messages_in_a_push(tmp_path):
    six = envelope(ChannelName.LINE, LINE_ID, more_texts=("次",) * 5)
    assert asyncio.run(LineOutbox(tmp_path).send(six)).status is SendStatus.FAILED


def test_line_outbox_refuses_text_line_would_refuse(tmp_path):
    result = asyncio.run(
        LineOutbox(tmp_path).send(envelope(ChannelName.LINE, LINE_ID, text="あ" * 5001))
    )
    assert result.status is SendStatus.FAILED
    assert not (tmp_path / "line" / "42.json").exists()


def test_email_outbox_file_is_the_complete_mail(tmp_path):
    composer = MailComposer(SenderIdentity(mail_from="Kizuna <news@kizuna.example.org>"))
    channel = EmailOutbox(tmp_path, composer)
    asyncio.run(channel.send(envelope(ChannelName.EMAIL, "parent@example.com")))
    mail = BytesParser(policy=policy.default).parsebytes(
        (tmp_path / "email" / "42.eml").read_bytes()
    )
    assert mail["To"] == "parent@example.com"
    assert mail["Message-ID"] == "<6a1f3e0c-3c55-4a55-9a49-4c8f4c3b2a10@kizuna.example.org>"
    # the body first; the sender's footer (特定電子メール法) follows it
    assert mail.get_body(preferencelist=("plain",)).get_content().startswith("こんにちは\n二行目\n")


def test_unwritable_outbox_asks_for_a_retry(tmp_path):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the folder should be")
    result = asyncio.run(LineOutbox(blocker).send(envelope(ChannelName.LINE, LINE_ID)))
    assert result.status is SendStatus.RETRY
    assert "outbox write failed" in result.detail


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out" / "1.json"
    atomic_write(target, b"old")

    def crash(*_args):
        raise OSError("disk gone")

    monkeypatch.setattr("kizuna.channels.outbox.os.replace", crash)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["1.json"]  # no temporary left behind


def test_channels_refuse_a_duplicate_registration(tmp_path: Path):
    channels = Channels()
    channels.register(LineOutbox(tmp_path))
    with pytest.raises(ValueError, match="already registered"):
        channels.register(LineOutbox(tmp_path))
    assert channels.describe() == {"line": "outbox"}


def test_mails_without_a_delivery_never_overwrite_each_other(tmp_path):
    composer = MailComposer(SenderIdentity(mail_from="Kizuna <news@kizuna.example.org>"))
    channel = EmailOutbox(tmp_path, composer)
    for key in ("6a1f3e0c-3c55-4a55-9a49-4c8f4c3b2a11", "6a1f3e0c-3c55-4a55-9a49-4c8f4c3b2a12"):
        asyncio.run(channel.send(envelope(ChannelName.EMAIL, "p@example.com", delivery_id=0,
                                          idempotency_key=key)))  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "email").iterdir()) == [
        "mail-6a1f3e0c-3c55-4a55-9a49-4c8f4c3b2a11.eml",
        "mail-6a1f3e0c-3c55-4a55-9a49-4c8f4c3b2a12.eml",
    ]
