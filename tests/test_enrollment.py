"""Enrolling residents from a municipality's list: bad rows by line, good rows in, the same
list again adds nothing; email residents confirm through the sign-up mail and page (a real
SMTP server), LINE residents send their invitation code to the bot (the real HTTP app and a
LINE peer)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import NOW
from test_line_webhook import USER, event, post, postback, server, text, texts_of  # noqa: F401
from webapp import Web, web_app

from kizuna import enrollment, municipalities
from kizuna.core.status import ChannelName
from kizuna.i18n import Catalogs, format_day
from kizuna.models import Child, Follow, LineInvitation, Subscriber
from kizuna.resident_list import read_csv
from kizuna.web.invitation_mail import send_invitations, site_for

OPTIONS = enrollment.EnrollOptions(variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo")
# Lines: 1 header, 2 good email, 3 bad email, 4 good LINE (born), 5 due date too far,
# 6 good LINE (pregnant, no reference), 7 the same as line 6 (twins of another family?
# kept apart by occurrence), 8 the same address as line 2, 9 several problems, 10 good email.
MIXED = """channel,email,due_date,birth_date,variant,nickname,consent_date,reference
email,hana@example.com,2027-03-01,,ja,,2026-11-01,
email,not-an-address,2027-03-01,,ja,,2026-11-01,
line,,2026-09-20,2026/9/3,ja-easy,さくら,2026-11-01,R-17
line,,2030-01-01,,ja,,2026-11-01,
line,,2027-04-10,,,,2026-11-02,
line,,2027-04-10,,,,2026-11-02,
email,hana@example.com,2027-03-01,,ja,,2026-11-01,
fax,,,,xx,,,
email,mei@example.com,,2026-08-01,ja-easy,めい,2026-11-03,
""".encode()
BAD_LINES = [(3, "email"), (5, "due_date"), (8, "email"), (9, "channel"), (9, "due_date"),
             (9, "consent_date"), (9, "variant")]  # fmt: skip


@pytest.fixture
def chiyoda(any_engine):
    """On SQLite and PostgreSQL: the import writes a chunk at a time with RETURNING."""
    municipalities.add(any_engine, code="131016", name="千代田区", prefecture="東京都", now=NOW)
    return any_engine


def rows(engine, model) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(model.__table__)).mappings()]


def test_mixed_list_bad_rows_by_line_good_rows_in_and_again_nothing(chiyoda):
    result = enrollment.enroll(chiyoda, "131016", read_csv(MIXED), OPTIONS, now=NOW)
    assert [(p.line, p.field) for p in result.problems] == BAD_LINES
    assert "the same email as line 2" in result.problems[2].reason
    assert (result.rows, result.added, result.unchanged) == (9, 5, 0)
    assert [i.line for i in result.email] == [2, 10]
    assert [c.line for c in result.line] == [4, 6, 7]
    subscribers = rows(chiyoda, Subscriber)
    assert [(s["address"], s["status"], s["consent_at"], s["municipality_code"])
            for s in subscribers] == [("hana@example.com", "pending", None, "131016"),
                                      ("mei@example.com", "pending", None, "131016")]  # fmt: skip
    assert subscribers[1]["nickname"] == "めい" and subscribers[1]["variant"] == "ja-easy"
    assert subscribers[0]["consent_version"] == "municipality-list/131016/2026-11-01"
    children = rows(chiyoda, Child)
    assert [(c["due_date"], c["birth_date"], c["status"]) for c in children] == [
        (datetime(2027, 3, 1).date(), None, "expected"),
        (None, datetime(2026, 8, 1).date(), "born"),
    ]
    assert len(rows(chiyoda, Follow)) == 2
    invitations = rows(chiyoda, LineInvitation)
    assert [(i["nickname"], i["occurrence"], i["used_at"]) for i in invitations] == [
        ("さくら", 1, None), (None, 1, None), (None, 2, None)]  # fmt: skip
    codes = {c.code.replace("-", "") for c in result.line}
    assert not codes & {i["code_hash"] for i in invitations}  # only hashes are kept
    assert {enrollment.code_hash(code) for code in codes} == {i["code_hash"] for i in invitations}
    assert invitations[0]["expires_at"] == NOW + timedelta(days=90)

    again = enrollment.enroll(chiyoda, "131016", read_csv(MIXED), OPTIONS, now=NOW)
    assert (again.added, again.unchanged) == (0, 5)
    assert [(p.line, p.field) for p in again.problems] == BAD_LINES
    assert len(rows(chiyoda, Subscriber)) == 2 and len(rows(chiyoda, LineInvitation)) == 3


def test_a_dry_run_writes_nothing_and_shows_no_code(chiyoda):
    dry = replace(OPTIONS, dry_run=True)
    result = enrollment.enroll(chiyoda, "131016", read_csv(MIXED), dry, now=NOW)
    assert (result.added, len(result.problems)) == (5, len(BAD_LINES))
    assert {c.code for c in result.line} == {""}
    assert rows(chiyoda, Subscriber) == [] and rows(chiyoda, LineInvitation) == []


def test_an_address_subscribed_already_is_left_alone(chiyoda):
    subscriber = Subscriber(channel="email", address="hana@example.com", status="active",
                            consent_at=NOW, consent_version="web", created_at=NOW)  # fmt: skip
    with sa.orm.Session(chiyoda) as session:
        session.add(subscriber)
        session.commit()
    result = enrollment.enroll(chiyoda, "131016", read_csv(MIXED), OPTIONS, now=NOW)
    assert [i.line for i in result.email] == [10] and result.unchanged == 1
    [hana] = [s for s in rows(chiyoda, Subscriber) if s["address"] == "hana@example.com"]
    assert (hana["status"], hana["municipality_code"]) == ("active", None)


def test_a_long_list_reports_progress_in_batches(chiyoda):
    header = "channel,email,due_date,consent_date\n"
    body = "".join(f"email,p{n}@example.com,2027-03-01,2026-11-01\n" for n in range(450))
    seen = []
    result = enrollment.enroll(
        chiyoda, "131016", read_csv((header + body).encode()), OPTIONS, now=NOW,
        progress=seen.append,
    )  # fmt: skip
    assert seen == [200, 200, 50] and len(result.email) == 450


@pytest.mark.parametrize(
    ("typed", "code"),
    [("ABCDE-FGHJK", "ABCDEFGHJK"), ("abcde fghjk", "ABCDEFGHJK"),
     ("ＡＢＣＤＥーＦＧＨＪＫ", "ABCDEFGHJK"), ("ABCDE-FGHJ", None), ("ABCDE-FGHJ0", None),
     ("131016", None), ("停止", None)],
)  # fmt: skip
def test_reading_a_typed_code(typed, code):
    assert enrollment.read_code(typed) == code


# -- email: the invitation is the sign-up confirmation (mail, link, page) -------------------


@pytest.fixture
def web(settings):
    with web_app(settings) as running:
        municipalities.add(running.runtime.engine, code="131016", name="千代田区",
                           prefecture="東京都", now=NOW)  # fmt: skip
        yield running


def test_email_residents_consent_only_by_confirming(web: Web):
    engine = web.runtime.engine
    result = enrollment.enroll(engine, "131016", read_csv(MIXED), OPTIONS, now=NOW)
    channel = web.client.app.state.channels.get(ChannelName.EMAIL)
    send = partial(send_invitations, channel, site_for(web.runtime), result.email, now=NOW)
    assert web.client.portal.call(send) == []
    mails = {m.mail["To"]: m.mail for m in web.mailbox.wait_for(2)}
    assert mails["hana@example.com"]["Subject"] == (
        "【きずな】お住まいの市区町村からのご案内：配信開始の確認をお願いします"
    )
    easy = mails["mei@example.com"].get_body(preferencelist=("plain",)).get_content()
    assert "市区町村(しくちょうそん)から" in easy  # the resident's variant, furigana as text
    assert web.plan() == 0  # nothing for anyone pending
    confirm = web.links(0)["confirm"]  # the first mail's own link, whoever it went to
    assert web.client.get(confirm).status_code == 200  # a page with a button: nothing yet
    assert {s["status"] for s in web.rows(Subscriber)} == {"pending"}
    web.post(confirm, confirm)
    confirmed = web.mailbox.arrived[0].mail["To"]
    found = {s["address"]: (s["status"], s["consent_at"]) for s in web.rows(Subscriber)}
    assert found.pop(confirmed) == ("active", NOW)
    assert list(found.values()) == [("pending", None)]


# -- LINE: a personal code, typed to the bot at any step ------------------------------------

TODAY = datetime.now(ZoneInfo("Asia/Tokyo")).date()


def line_list(**row) -> bytes:
    consent = (TODAY - timedelta(days=60)).isoformat()
    values = {"channel": "line", "due_date": "", "birth_date": "", "variant": "ja",
              "nickname": "", "consent_date": consent, **row}  # fmt: skip
    return (",".join(values) + "\n" + ",".join(values.values()) + "\n").encode()


def invite(server, now=None, **row) -> str:  # noqa: F811
    engine = server.runtime.engine
    if municipalities.find(engine, "131016") is None:
        municipalities.add(engine, code="131016", name="千代田区", prefecture="東京都",
                           now=datetime.now(UTC))  # fmt: skip
    options = enrollment.EnrollOptions(variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo",
                                       invitation_days=30)  # fmt: skip
    result = enrollment.enroll(engine, "131016", read_csv(line_list(**row)), options,
                               now=now or datetime.now(UTC))  # fmt: skip
    assert result.problems == []
    return result.line[0].code


def test_a_line_resident_registers_with_the_code(server, peer):  # noqa: F811
    born = (TODAY - timedelta(days=7)).isoformat()  # child-d7 is due today
    code = invite(server, birth_date=born, nickname="さくら", variant="ja-easy")
    post(server, event("follow", follow={"isUnblocked": False}))
    post(server, postback("a=kind&v=pregnant"))  # a step begun: the code still works
    post(server, text(code.lower().replace("-", " ")))
    replies = peer.state.replies[-1]["messages"]
    assert format_day(date.fromisoformat(born), "ja-easy") in replies[0]["text"]
    assert [q["action"]["data"] for q in replies[1]["quickReply"]["items"]] == [
        "a=confirm", "a=restart"]  # fmt: skip
    post(server, postback("a=confirm"))
    engine = server.runtime.engine
    [subscriber] = rows(engine, Subscriber)
    assert (subscriber["address"], subscriber["municipality_code"], subscriber["nickname"],
            subscriber["variant"], subscriber["status"]) == (
        USER, "131016", "さくら", "ja-easy", "active")  # fmt: skip
    [invitation] = rows(engine, LineInvitation)
    assert invitation["subscriber_id"] == subscriber["id"] and invitation["used_at"] is not None
    [child] = rows(engine, Child)
    assert child["birth_date"].isoformat() == born


def test_a_used_or_expired_code_is_refused_alike(server, peer):  # noqa: F811
    due = (TODAY + timedelta(days=150)).isoformat()
    used = invite(server, due_date=due)
    old = invite(server, now=datetime.now(UTC) - timedelta(days=31), due_date=due,
                 nickname="old")  # fmt: skip
    post(server, text(used))
    post(server, postback("a=confirm"))
    catalogs = Catalogs(server.runtime.settings.locales_dir)
    refusal = catalogs.gettext(
        "ja", "This invitation code cannot be used. Check it, or register step by step."
    )
    other = "U" + "5" * 32
    for code in (used, old, "ABCDE-FGHJK"):
        post(server, {**text(code), "source": {"type": "user", "userId": other}})
        assert texts_of(peer)[0] == refusal
    assert len(rows(server.runtime.engine, Subscriber)) == 1


def test_a_municipality_link_code_is_remembered_for_the_registration(server, peer):  # noqa: F811
    municipalities.add(server.runtime.engine, code="131016", name="千代田区", prefecture="",
                       now=datetime.now(UTC))  # fmt: skip
    post(server, event("follow", follow={"isUnblocked": False}))
    post(server, text("131016"))  # the text the LINE link typed in
    catalogs = Catalogs(server.runtime.settings.locales_dir)
    assert texts_of(peer)[0] == catalogs.gettext("ja", "Thank you. Your city or town is noted.")
    post(server, postback("a=kind&v=pregnant"))
    post(server, postback("a=date&v=due", (TODAY + timedelta(days=150)).isoformat()))
    post(server, postback("a=variant&v=ja"))  # no question about the municipality now
    quick = peer.state.replies[-1]["messages"][-1]["quickReply"]["items"]
    assert quick[0]["action"]["data"] == "a=confirm"
    post(server, postback("a=confirm"))
    [subscriber] = rows(server.runtime.engine, Subscriber)
    assert subscriber["municipality_code"] == "131016"


def test_subscribe_invited_gives_the_code_back_when_the_subscription_is_refused(chiyoda):
    result = enrollment.enroll(chiyoda, "131016", read_csv(line_list(due_date="2027-03-01")),
                               OPTIONS, now=NOW)  # fmt: skip
    invitation = enrollment.find_invitation(chiyoda, result.line[0].code.replace("-", ""), now=NOW)
    bad = enrollment.subscriptions.SubscribeRequest(channel="line", address="not-a-line-id",
                                                    due_date=invitation.due_date)  # fmt: skip
    with pytest.raises(enrollment.subscriptions.SubscribeError):
        asyncio.run(asyncio.to_thread(
            enrollment.subscribe_invited, chiyoda, invitation.id, bad,
            variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
        ))  # fmt: skip
    assert rows(chiyoda, LineInvitation)[0]["used_at"] is None  # still usable
