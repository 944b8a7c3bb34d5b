"""Signing up by a family invitation through the real HTTP app: one's own address, Japanese,
hour and time zone, no dates; double opt-in by real mail; the follow made on confirming; the
link used once; nothing of the inviting parent's on the page or in the mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW
from webapp import Web, web_app

from kizuna import family, subscriptions
from kizuna.core.catalog import Role
from kizuna.models import FamilyInvitation, Follow, Subscriber
from kizuna.subscriptions import SubscribeRequest
from kizuna.tokens import Purpose, Tokens

PARENT_MAIL = "parent@example.com"
PARENT_LINE = "U" + "1" * 32


@pytest.fixture
def web(settings):
    with web_app(settings) as running:
        yield running


def invited(web: Web, *, role: Role = Role.GRANDPARENT) -> tuple[str, int]:
    """An invitation from a LINE parent: its sign-up path, and the child's id."""
    done = subscriptions.subscribe(
        web.runtime.engine, SubscribeRequest("line", PARENT_LINE, due_date=NOW.date() + timedelta(
            days=196)), variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    made = family.create_invitation(
        web.runtime.engine, inviter_id=done.subscriber_id, child_id=done.child_id, role=role,
        may_report=False, days=14, now=NOW,
    )  # fmt: skip
    return (
        f"/family/{Tokens('test-secret').issue(Purpose.FAMILY, made.invitation_id)}",
        done.child_id,
    )


def sign_up(web: Web, path: str, **fields: str):
    data = {**web.form(path), "email": "grandma@example.com", "variant": "ja-easy", "hour": "19",
            "timezone": "Europe/London", "consent": "yes", **fields}  # fmt: skip
    return web.client.post(path, data=data)


def test_the_invited_sign_up_asks_no_dates_and_follows_on_confirmation(web: Web):
    path, child_id = invited(web)
    page = web.client.get(path + "?lang=en")
    assert page.status_code == 200 and "as Grandparent" in page.text
    assert 'name="day"' not in page.text and PARENT_LINE not in page.text
    assert sign_up(web, path).status_code == 200
    grandma = next(s for s in web.rows(Subscriber) if s["channel"] == "email")
    assert (grandma["status"], grandma["delivery_hour"], grandma["timezone"]) == (
        "pending", 19, "Europe/London",
    )  # fmt: skip
    assert len(web.rows(Follow)) == 1  # nothing followed before the address is confirmed
    confirm = web.links(0)["confirm"]
    assert web.post(confirm, confirm).status_code == 200
    theirs = [f for f in web.rows(Follow) if f["subscriber_id"] == grandma["id"]]
    assert [(f["child_id"], f["role"], f["may_report"]) for f in theirs] == [
        (child_id, "grandparent", False)
    ]
    mail = web.mailbox.wait_for(1)[0].mail.as_string()
    assert PARENT_LINE not in mail and PARENT_MAIL not in mail


def test_the_link_works_once(web: Web):
    path, _ = invited(web)
    form = web.form(path)
    assert sign_up(web, path).status_code == 200
    again = web.client.post(path, data={**form, "email": "uncle@example.com"})
    assert again.status_code == 404
    assert web.client.get(path).status_code == 404
    assert [s["address"] for s in web.rows(Subscriber) if s["channel"] == "email"] == [
        "grandma@example.com"
    ]


@pytest.mark.parametrize("broken", ["expired", "forged", "other purpose"])
def test_a_broken_link_shows_the_same_page(web: Web, broken):
    path, _ = invited(web)
    if broken == "expired":
        with web.runtime.engine.begin() as connection:
            connection.execute(sa.update(FamilyInvitation).values(expires_at=NOW))
    elif broken == "forged":
        path = path[:-3] + "abc"
    else:
        path = f"/family/{Tokens('test-secret').issue(Purpose.MANAGE, 1)}"
    page = web.client.get(path)
    assert page.status_code == 404 and "リンク" in page.text


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"hour": "24"}, "届く時刻を選んでください"),
        ({"timezone": "Mars/Olympus"}, "タイムゾーンを選んでください"),
        ({"email": "grandma@"}, "メールアドレスの形式が正しくないようです"),
        ({"consent": ""}, "チェック"),
    ],
)
def test_every_bad_field_gets_a_friendly_error(web: Web, fields, expected):
    path, _ = invited(web)
    page = sign_up(web, path, **fields)
    assert page.status_code == 422 and expected in page.text
    assert len(web.rows(Subscriber)) == 1 and web.mailbox.arrived == []
