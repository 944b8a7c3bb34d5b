"""The email a delivery becomes: parseable, multipart, with a stable Message-ID."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from kizuna.channels.base import Envelope
from kizuna.core.status import ChannelName
from kizuna.mail import MailComposer, SenderIdentity


def envelope(**fields) -> Envelope:
    base = dict(
        delivery_id=7, idempotency_key="0f8fad5b-d9cb-469f-a165-70867728950e",
        channel=ChannelName.EMAIL, address="parent@example.com", title="妊娠12週のあなたへ",
        text="本文です。\n\n二段落目。", html="<p>本文です。</p>\n<p>二段落目。</p>",
        created_at=datetime(2026, 11, 22, 0, 0, tzinfo=UTC),
    )  # fmt: skip
    return Envelope(**{**base, **fields})


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


def test_mail_parses_with_every_header():
    composer = MailComposer(SenderIdentity(mail_from="Kizuna <news@kizuna.example.org>"))
    mail = parse(composer.compose(envelope()).as_bytes())
    assert mail["Subject"] == "妊娠12週のあなたへ"
    assert mail["To"] == "parent@example.com"
    assert mail["Message-ID"] == "<0f8fad5b-d9cb-469f-a165-70867728950e@kizuna.example.org>"
    assert mail["Date"] == "Sun, 22 Nov 2026 00:00:00 +0000"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain.get_content() == "本文です。\n\n二段落目。\n"
    assert plain.get_content_charset() == "utf-8"
    assert "<p>本文です。</p>" in html.get_content()
    assert "<title>妊娠12週のあなたへ</title>" in html.get_content()


def test_message_id_is_the_same_on_a_resend():
    composer = MailComposer(SenderIdentity(mail_from="news@kizuna.example.org"))
    first = parse(composer.compose(envelope()).as_bytes())
    later = parse(
        composer.compose(envelope(created_at=datetime(2026, 11, 23, tzinfo=UTC))).as_bytes()
    )
    assert first["Message-ID"] == later["Message-ID"]


def test_title_is_escaped_in_html():
    composer = MailComposer(SenderIdentity(mail_from="news@kizuna.example.org"))
    mail = parse(composer.compose(envelope(title="<script>")).as_bytes())
    assert "<title>&lt;script&gt;</title>" in mail.get_body(preferencelist=("html",)).get_content()


def test_sender_must_have_an_address():
    with pytest.raises(ValueError, match="no address"):
        MailComposer(SenderIdentity(mail_from="Kizuna"))
