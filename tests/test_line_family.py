"""Family in LINE over the real webhook: inviting with quick replies, joining with the code
(new and registered subscribers), single use, the caregivers' list, removal, and a loss
reported by the parent cancelling everyone's queue — with no one's LINE id in a reply."""

from __future__ import annotations

import email
import email.policy
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from test_line_webhook import TODAY, post, server  # noqa: F401 - `server` is a fixture

from kizuna.config import bundled_dir
from kizuna.core.ruby import ruby_to_text
from kizuna.i18n import LOCALES, Catalogs
from kizuna.line_family import QUICK_CAREGIVERS, ROLE_NAMES
from kizuna.models import Delivery, FamilyInvitation, Follow, Subscriber
from kizuna.runtime import plan

PARENT = "U" + "a" * 32
GRANDMA = "U" + "b" * 32
UNCLE = "U" + "c" * 32
CODE = re.compile(r"[A-Z2-9]{5}-[A-Z2-9]{5}")
DUE_12W0D = (TODAY + timedelta(days=280 - 84)).isoformat()  # a message is due today


def event(user: str, kind: str, **fields) -> dict:
    return {
        "type": kind, "mode": "active", "timestamp": 1763780000000,
        "source": {"type": "user", "userId": user}, "webhookEventId": uuid.uuid4().hex.upper(),
        "deliveryContext": {"isRedelivery": False}, "replyToken": uuid.uuid4().hex, **fields,
    }  # fmt: skip


def say(server, peer, user: str, words: str) -> list[dict]:  # noqa: F811
    message = {"type": "text", "id": "1", "quoteToken": "q", "text": words}
    assert post(server, event(user, "message", message=message)).status_code == 200
    return peer.state.replies[-1]["messages"]


def tap(server, peer, user: str, data: str, picked: str | None = None) -> list[dict]:  # noqa: F811
    body = {"data": data, **({"params": {"date": picked}} if picked else {})}
    assert post(server, event(user, "postback", postback=body)).status_code == 200
    return peer.state.replies[-1]["messages"]


def quick(messages: list[dict]) -> list[tuple[str, str]]:
    items = [item for m in messages for item in m.get("quickReply", {}).get("items", [])]
    return [(item["action"]["label"], item["action"].get("data", "")) for item in items]


def register_parent(server, peer) -> None:  # noqa: F811
    post(server, event(PARENT, "follow", follow={"isUnblocked": False}))
    for data, picked in (
        ("a=kind&v=pregnant", None),
        ("a=date&v=due", DUE_12W0D),
        ("a=variant&v=ja", None),
        ("a=skip", None),
        ("a=confirm", None),
    ):
        tap(server, peer, PARENT, data, picked)  # fmt: skip


def invitation_code(server, peer, role: str = "grandparent", report: str = "no") -> str:  # noqa: F811
    roles = quick(say(server, peer, PARENT, "家族を招待"))
    assert [data for _, data in roles] == [
        f"a=finv&v={r}" for r in ("partner", "co_parent", "grandparent", "other")
    ]
    assert all(len(label) <= 20 for label, _ in roles)
    asked = tap(server, peer, PARENT, f"a=finv&v={role}")
    assert quick(asked)[0][1] == f"a=frep&v=yes&r={role}"
    local = tap(server, peer, PARENT, f"a=frep&v={report}&r={role}")
    assert "住む場所" in local[0]["text"]  # the parent is told what local details reveal
    made = tap(server, peer, PARENT, f"a=floc&v=no&r={role}&m={report}")
    assert "/family/" in made[1]["text"]  # the web sign-up link, with an opaque token
    return CODE.search(made[0]["text"])[0]


def join_new(server, peer, user: str, code: str) -> list[dict]:  # noqa: F811
    post(server, event(user, "follow", follow={"isUnblocked": False}))
    invited = say(server, peer, user, code.lower().replace("-", " "))
    assert "祖父母" in invited[0]["text"] and len(invited) == 3  # role, privacy notice, question
    assert [data for _, data in quick(invited)][-1] == "a=locale"  # the language stays open
    confirm = tap(server, peer, user, "a=variant&v=ja-easy")
    assert [data for _, data in quick(confirm)] == ["a=confirm", "a=restart"]
    return tap(server, peer, user, "a=confirm")


def rows(engine, model) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(model.__table__)).mappings()]


def test_a_grandparent_joins_with_the_code_without_the_date_questions(server, peer):  # noqa: F811
    register_parent(server, peer)
    code = invitation_code(server, peer)
    done = join_new(server, peer, GRANDMA, code)
    catalogs = Catalogs(server.runtime.settings.locales_dir)
    welcome = catalogs.gettext("ja-easy", "You are registered. Your first message comes soon.")
    assert done[0]["text"] == ruby_to_text(welcome)
    engine = server.runtime.engine
    grandma = next(s for s in rows(engine, Subscriber) if s["address"] == GRANDMA)
    follow = next(f for f in rows(engine, Follow) if f["subscriber_id"] == grandma["id"])
    assert (grandma["variant"], follow["role"], follow["may_report"]) == (
        "ja-easy", "grandparent", False,
    )  # fmt: skip
    assert not follow["receives_local_info"] and grandma["municipality_code"] is None
    deliveries = {d["subscriber_id"] for d in rows(engine, Delivery)}
    assert grandma["id"] in deliveries and len(deliveries) == 2  # today's message for each
    replies = json.dumps(peer.state.replies, ensure_ascii=False)
    assert replies.count(PARENT) == 0 and replies.count(GRANDMA) == 0  # no one's LINE id


def test_a_code_is_single_use_and_an_expired_one_is_refused(server, peer):  # noqa: F811
    register_parent(server, peer)
    code = invitation_code(server, peer)
    join_new(server, peer, GRANDMA, code)
    post(server, event(UNCLE, "follow", follow={"isUnblocked": False}))
    again = say(server, peer, UNCLE, code)
    assert "使えません" in again[0]["text"]
    second = invitation_code(server, peer, role="other")
    with server.runtime.engine.begin() as connection:
        connection.execute(sa.update(FamilyInvitation).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
    assert "使えません" in say(server, peer, UNCLE, second)[0]["text"]
    assert len(rows(server.runtime.engine, Follow)) == 2


def test_a_registered_subscriber_follows_with_the_code_at_once(server, peer):  # noqa: F811
    register_parent(server, peer)
    code = invitation_code(server, peer, role="partner", report="yes")
    post(server, event(GRANDMA, "follow", follow={"isUnblocked": False}))
    for data, picked in (
        ("a=kind&v=child", None),
        ("a=date&v=birth", TODAY.isoformat()),
        ("a=variant&v=ja", None),
        ("a=skip", None),
        ("a=confirm", None),
    ):
        tap(server, peer, GRANDMA, data, picked)  # fmt: skip
    joined = say(server, peer, GRANDMA, code)
    assert "パートナー" in joined[0]["text"]
    assert "使えません" in say(server, peer, GRANDMA, code)[0]["text"]  # used up
    fresh = invitation_code(server, peer, role="other")
    assert "すでに" in say(server, peer, GRANDMA, fresh)[0]["text"]  # following once is enough
    follows = [f for f in rows(server.runtime.engine, Follow) if f["role"] == "partner"]
    assert len(follows) == 1 and follows[0]["may_report"]


def test_the_parent_lists_and_removes_a_caregiver_at_once(server, peer):  # noqa: F811
    register_parent(server, peer)
    join_new(server, peer, GRANDMA, invitation_code(server, peer))
    listed = say(server, peer, PARENT, "家族")
    assert "1. 祖父母" in listed[0]["text"] and GRANDMA not in json.dumps(listed)
    buttons = dict(quick(listed))
    assert all(len(label) <= 20 for label in buttons)
    toggled = tap(server, peer, PARENT, buttons["1の地域情報"])
    assert "地域のお知らせ：はい" in toggled[1]["text"]
    engine = server.runtime.engine
    removed = tap(server, peer, PARENT, buttons["1を外す"])
    assert "外しました" in removed[0]["text"]
    grandma = next(s["id"] for s in rows(engine, Subscriber) if s["address"] == GRANDMA)
    assert [f for f in rows(engine, Follow) if f["subscriber_id"] == grandma] == []
    theirs = [d["status"] for d in rows(engine, Delivery) if d["subscriber_id"] == grandma]
    assert theirs == ["cancelled"]
    # The caregiver cannot remove anyone, nor use the parent's buttons.
    assert "外しました" not in tap(server, peer, GRANDMA, buttons["1を外す"])[0]["text"]


def test_a_loss_reported_by_the_parent_cancels_every_followers_queue(server, peer):  # noqa: F811
    register_parent(server, peer)
    join_new(server, peer, GRANDMA, invitation_code(server, peer))
    engine = server.runtime.engine
    assert [d["status"] for d in rows(engine, Delivery)] == ["planned", "planned"]
    say(server, peer, PARENT, "流産しました")
    tap(server, peer, PARENT, "a=loss&v=yes")
    assert [d["status"] for d in rows(engine, Delivery)] == ["cancelled", "cancelled"]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_family_label_fits_a_quick_reply(locale):
    catalogs = Catalogs(bundled_dir("locales"))
    labels = [*ROLE_NAMES.values(), "Yes", "No"]
    shown = [ruby_to_text(catalogs.gettext(locale, msgid)) for msgid in labels]
    shown += [
        ruby_to_text(catalogs.gettext(locale, msgid, number=str(QUICK_CAREGIVERS)))
        for msgid in ("Remove %(number)s", "Reports %(number)s", "Local info %(number)s")
    ]
    assert [
        label for label in shown if len(label) > 20 or len(label.encode("utf-16-le")) > 40
    ] == []


def web_form(client: httpx.Client, path: str) -> dict[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))


def test_three_followers_on_two_channels_get_one_delivery_a_day_for_their_role(server, peer):  # noqa: F811
    """A parent on LINE (ja), a partner by the web link (email, ja-easy), a grandparent on
    LINE (ja-easy): each gets one delivery a day, and only what is written for their role."""
    register_parent(server, peer)
    roles = quick(say(server, peer, PARENT, "家族を招待"))
    assert roles
    tap(server, peer, PARENT, "a=finv&v=partner")
    tap(server, peer, PARENT, "a=frep&v=yes&r=partner")
    made = tap(server, peer, PARENT, "a=floc&v=no&r=partner&m=yes")
    path = urlsplit(re.search(r"https?://\S+/family/\S+", made[1]["text"])[0]).path
    with httpx.Client(base_url=server.base, timeout=10) as client:
        fields = {**web_form(client, path), "email": "partner@example.com", "variant": "ja-easy",
                  "hour": "7", "timezone": "Europe/London", "consent": "yes"}  # fmt: skip
        assert client.post(path, data=fields).status_code == 200
        [mail] = (server.runtime.settings.outbox_dir / "email").glob("*.eml")
        parsed = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
        text = parsed.get_body(preferencelist=("plain",)).get_content()
        assert PARENT not in text and GRANDMA not in text  # no one else's address
        confirm = urlsplit(re.search(r"https?://\S+/confirm/[A-Za-z0-9_.-]+", text)[0]).path
        assert client.post(confirm, data=web_form(client, confirm)).status_code == 200
        partner_page = client.get(confirm).text
    assert PARENT not in partner_page and GRANDMA not in partner_page
    join_new(server, peer, GRANDMA, invitation_code(server, peer))
    now = datetime.now(UTC)
    for day in (TODAY, TODAY + timedelta(days=1), TODAY + timedelta(days=3)):
        plan(server.runtime, day, now=now)
    plan(server.runtime, TODAY, now=now)  # again: nothing more
    engine = server.runtime.engine
    who = {s["id"]: s["address"] for s in rows(engine, Subscriber)}
    got = sorted((who[d["subscriber_id"]], d["local_date"], d["message_id"], d["variant"])
                 for d in rows(engine, Delivery))  # fmt: skip
    day0, day1, day3 = TODAY, TODAY + timedelta(days=1), TODAY + timedelta(days=3)
    assert got == sorted([
        (PARENT, day0, "pregnancy-12w0d", "ja"),
        (PARENT, day1, "pregnancy-12w1d-birthing_parent", "ja"),
        ("partner@example.com", day0, "pregnancy-12w0d", "ja-easy"),
        ("partner@example.com", day3, "pregnancy-12w3d-partner", "ja-easy"),
        (GRANDMA, day0, "pregnancy-12w0d", "ja-easy"),
    ])  # fmt: skip
    replies = json.dumps(peer.state.replies, ensure_ascii=False)
    assert "partner@example.com" not in replies and GRANDMA not in replies
