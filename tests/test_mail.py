"""The email a delivery becomes: parseable, multipart, with a stable Message-ID, list headers
(RFC 2369, RFC 8058) and the sender footer Japan's 特定電子メール法 asks for."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.channels.base import Envelope
from kizuna.core.status import ChannelName
from kizuna.mail import PLAIN_ADDRESS, MailComposer, MailLinks, SenderIdentity
from kizuna.tokens import Purpose, Tokens

TOKENS = Tokens("test-secret")
SENDER = SenderIdentity(
    mail_from="Kizuna <news@kizuna.example.org>", organisation="きずな運営事務局",
    postal_address="東京都千代田区千代田1-1", contact="03-0000-0000",
    unsubscribe_mailto="stop@kizuna.example.org",
)  # fmt: skip
# Long enough that the default email policy would have encoded the URL as an RFC 2047 word.
BASE_URL = "https://kizuna.a-rather-long-municipality-name.example.org"


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


def linked() -> MailComposer:
    return MailComposer(SENDER, links=MailLinks(BASE_URL, TOKENS))


def parts(mail) -> tuple[str, str]:
    return (
        mail.get_body(preferencelist=("plain",)).get_content(),
        mail.get_body(preferencelist=("html",)).get_content(),
    )


def test_mail_parses_with_every_header():
    composer = MailComposer(SenderIdentity(mail_from="Kizuna <news@kizuna.example.org>"))
    mail = parse(composer.compose(envelope()).as_bytes())
    assert mail["Subject"] == "妊娠12週のあなたへ"
    assert mail["To"] == "parent@example.com"
    assert mail["Message-ID"] == "<0f8fad5b-d9cb-469f-a165-70867728950e@kizuna.example.org>"
    assert mail["Date"] == "Sun, 22 Nov 2026 00:00:00 +0000"
    assert mail["List-Id"] == "Kizuna <kizuna.kizuna.example.org>"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    text, html = parts(mail)
    assert text.startswith("本文です。\n\n二段落目。\n\n")
    assert plain.get_content_charset() == "utf-8"
    assert "<p>本文です。</p>" in html
    assert "<title>妊娠12週のあなたへ</title>" in html


def test_list_unsubscribe_is_one_click_and_never_encoded():
    raw = linked().compose(envelope(subscriber_id=42)).as_bytes()
    mail = parse(raw)
    url = f"{BASE_URL}/unsubscribe/{TOKENS.issue(Purpose.UNSUBSCRIBE, 42)}"
    assert mail["List-Unsubscribe"] == (
        f"<{url}>, <mailto:stop@kizuna.example.org?subject=unsubscribe>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"<{url}>".encode() in raw  # written as is: clients read the raw header
    assert b"=?utf-8?q?=3Chttps" not in raw
    assert all(len(line) <= 998 for line in raw.split(b"\n"))


@pytest.mark.parametrize(
    ("links", "subscriber_id"), [(False, 42), (True, 0)], ids=["no-secret", "no-subscriber"]
)
def test_without_a_signed_link_the_footer_still_says_how_to_stop(links, subscriber_id):
    composer = linked() if links else MailComposer(SENDER)
    mail = parse(composer.compose(envelope(subscriber_id=subscriber_id)).as_bytes())
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None
    for part in parts(mail):
        assert "stop@kizuna.example.org" in part
        assert "unsubscribe" in part


@pytest.mark.parametrize(
    ("locale", "text_has", "html_has"),
    [
        ("ja", ["送信者：きずな運営事務局", "所在地：東京都千代田区千代田1-1",
                "お問い合わせ：03-0000-0000", "配信の停止："], ['lang="ja"']),
        ("ja-easy", ["送(おく)った人(ひと)：きずな運営事務局", "住所(じゅうしょ)："],
         ["<ruby>送<rp>(</rp><rt>おく</rt><rp>)</rp></ruby>", 'lang="ja"']),
        ("en", ["Sent by きずな運営事務局.", "Address: 東京都千代田区千代田1-1",
                "Enquiries: 03-0000-0000", "Stop these messages:"], ['lang="en"']),
    ],
)  # fmt: skip
def test_footer_names_the_sender_in_the_subscribers_locale(locale, text_has, html_has):
    mail = parse(linked().compose(envelope(subscriber_id=42, locale=locale)).as_bytes())
    text, html = parts(mail)
    manage = f"{BASE_URL}/manage/{TOKENS.issue(Purpose.MANAGE, 42)}"
    stop = f"{BASE_URL}/unsubscribe/{TOKENS.issue(Purpose.UNSUBSCRIBE, 42)}"
    for words in text_has:
        assert words in text
    for words in html_has:
        assert words in html
    assert manage in text and stop in text
    assert f'<a href="{manage}">' in html and f'<a href="{stop}">' in html


def test_ruby_in_the_body_stays_ruby_in_html():
    html_body = "<p><ruby>赤<rp>(</rp><rt>あか</rt><rp>)</rp></ruby>ちゃん</p>"
    mail = parse(linked().compose(envelope(html=html_body, locale="ja-easy")).as_bytes())
    assert html_body in parts(mail)[1]


def test_seven_bit_bytes_for_smtp_carry_the_same_mail():
    composer = linked()
    mail = composer.compose(envelope(subscriber_id=42))
    data = composer.to_bytes(mail)
    assert max(data) < 128
    again = parse(data)
    assert parts(again) == parts(parse(mail.as_bytes()))
    assert again["List-Unsubscribe"] == mail["List-Unsubscribe"]


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


# The fast path (`compose_bytes`, what SMTP sends) against the plain one (`compose`).
PER_RECIPIENT = {"To", "Date", "Message-ID", "List-Unsubscribe"}


def header_block(data: bytes) -> bytes:
    """The headers as written, up to the MIME ones (whose boundary is drawn at random)."""
    return data.split(b"\r\nMIME-Version: 1.0\r\n", 1)[0]


def structure(data: bytes) -> dict[str, object]:
    """What a reader sees in a mail: headers (boundary aside), and each part decoded (a line
    break is a line break, whether a 7-bit part carries it as CRLF or a base64 one as LF)."""
    mail = parse(data)
    headers = [(k, str(v)) for k, v in mail.items() if k != "Content-Type"]
    leaves = [
        (p.get_content_type(), p.get_content_charset(), p.get_content().replace("\r\n", "\n"))
        for p in mail.iter_parts()
    ]
    return {"type": mail.get_content_type(), "headers": headers, "parts": leaves}


def signed_links(subscriber_id: int) -> dict[str, str]:
    return {
        f"{BASE_URL}/{purpose}/{TOKENS.issue(purpose, subscriber_id)}": f"<{purpose}>"
        for purpose in (Purpose.MANAGE, Purpose.UNSUBSCRIBE)
    }


def without(text: str, links: dict[str, str]) -> str:
    for url, name in links.items():
        text = text.replace(url, name)
    return text


LONG_TITLE = "妊娠12週のあなたへ：" + "とても長い題名が続きます、" * 8


@pytest.mark.parametrize(
    ("composer", "fields"),
    [
        (linked, {"subscriber_id": 42}),
        (linked, {"subscriber_id": 42, "locale": "ja-easy",
                  "html": "<p><ruby>赤<rp>(</rp><rt>あか</rt><rp>)</rp></ruby>ちゃん</p>",
                  "text": "｜赤《あか》ちゃん"}),
        (linked, {"subscriber_id": 42, "locale": "en", "title": "Week 12",
                  "text": "Plain ASCII.\n" + "A long line of English. " * 10, "html": "<p>Hi</p>"}),
        (linked, {"subscriber_id": 7, "title": LONG_TITLE, "text": "行1\r\n行2\r行3\n"}),
        (linked, {"subscriber_id": 0}),
        (lambda: MailComposer(SENDER), {"subscriber_id": 42}),
        (linked, {"subscriber_id": 42, "address": '"a parent"@example.com'}),
        (linked, {"subscriber_id": 42, "address": "p" * 80 + "@example.com"}),
        (linked, {"subscriber_id": 42, "idempotency_key": "retry key/" + "k" * 70}),
        (linked, {"subscriber_id": 42, "created_at": datetime(2026, 11, 22, 9, 30)}),
        (linked, {"subscriber_id": 42, "text": "NUL \0 in a text", "title": "<&>\"'"}),
        (linked, {"subscriber_id": 42, "html": '<a href="x?a=1&amp;b=2">&lt;</a>'}),
    ],
    ids=["ja", "ja-easy-ruby", "en-ascii", "long-title-crlf", "no-subscriber", "no-secret",
         "quoted-address", "long-address", "odd-key", "naive-date", "nul-and-specials",
         "entities"],
)  # fmt: skip
def test_fast_path_gives_the_mail_of_the_plain_path(composer, fields):
    composer = composer()
    mail = envelope(**fields)
    fast, plain = composer.compose_bytes(mail), composer.to_bytes(composer.compose(mail))
    assert header_block(fast) == header_block(plain)  # folded and RFC 2047-encoded alike
    assert structure(fast) == structure(plain)
    assert max(fast) < 128
    assert all(len(line) <= 998 for line in fast.split(b"\r\n"))
    for data in (fast, plain):  # as on the wire: aiosmtplib need not rewrite a line ending
        assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")


def test_recipients_of_one_text_differ_only_in_their_own_fields():
    composer = linked()
    first = envelope(subscriber_id=42)
    second = envelope(
        subscriber_id=43, address="other.parent@example.net",
        idempotency_key="7c9e6679-7425-40de-944b-e07fc1f90ae7",
        created_at=datetime(2026, 11, 22, 0, 0, 5, tzinfo=UTC),
    )  # fmt: skip
    mails = [parse(composer.compose_bytes(e)) for e in (first, second)]
    one, two = (dict(m.items()) for m in mails)
    assert one.keys() == two.keys()
    assert {k for k in one if one[k] != two[k]} == PER_RECIPIENT
    assert mails[0].get_boundary() == mails[1].get_boundary()  # composed once, shared
    links = [signed_links(42), signed_links(43)]
    texts = [[without(part, own) for part in parts(m)] for m, own in zip(mails, links, strict=True)]
    assert texts[0] == texts[1]
    for mail, own in zip(mails, links, strict=True):  # its own links, not the other's
        assert all(url in parts(mail)[0] and url in parts(mail)[1] for url in own)
    assert "<manage>" in texts[0][0] and "<unsubscribe>" in texts[0][1]


@given(
    address=st.from_regex(PLAIN_ADDRESS, fullmatch=True),
    key=st.from_regex(r"[A-Za-z0-9-]{1,60}", fullmatch=True),
    title=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=120),
    text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")),
)
@settings(max_examples=60, deadline=None)
def test_what_is_written_by_hand_is_what_the_library_writes(address, key, title, text):
    composer = linked()
    mail = envelope(address=address, idempotency_key=key, title=title, text=text, subscriber_id=9)
    fast, plain = composer.compose_bytes(mail), composer.to_bytes(composer.compose(mail))
    assert header_block(fast) == header_block(plain)
    assert structure(fast) == structure(plain)
