"""Family on the settings page through the real HTTP app: inviting (code and link shown once),
the caregivers by role and name only, removing one at once, changing what one may do."""

from __future__ import annotations

import re

import pytest
from conftest import NOW
from webapp import Web, web_app

from kizuna import family, subscriptions
from kizuna.enrollment import read_code
from kizuna.models import Delivery, FamilyInvitation, Follow
from kizuna.subscriptions import SubscribeRequest
from kizuna.tokens import Purpose, Tokens

GRANDMA = "U" + "2" * 32
CODE = re.compile(r"<strong>([A-Z2-9]{5}-[A-Z2-9]{5})</strong>")


@pytest.fixture
def web(settings):
    with web_app(settings) as running:
        yield running


def manage_path(subscriber_id: int) -> str:
    return f"/manage/{Tokens('test-secret').issue(Purpose.MANAGE, subscriber_id)}"


def parent(web: Web) -> tuple[str, int]:
    web.sign_up()
    confirm = web.links(0)["confirm"]
    web.post(confirm, confirm)
    [row] = web.rows(Follow)
    return manage_path(row["subscriber_id"]), row["child_id"]


def invite(web: Web, here: str, child_id: int, **fields: str):
    data = {"role": "grandparent", "label": "おばあちゃん", "local_info": "", **fields}
    return web.post(f"{here}/children/{child_id}/invite", here, **data)


def grandma_joins(web: Web, page_text: str) -> int:
    code = read_code(CODE.search(page_text)[1])
    engine = web.runtime.engine
    invitation = family.find_invitation(engine, code=code, now=NOW)
    return family.subscribe_invited(
        engine, invitation.id, SubscribeRequest("line", GRANDMA, variant="ja-easy"),
        variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
    ).subscriber_id  # fmt: skip


def test_an_invitation_is_made_and_shown_once(web: Web):
    here, child_id = parent(web)
    assert "このお子さんの見守りに招待する" in web.client.get(here).text
    page = invite(web, here, child_id, may_report="yes")
    assert page.status_code == 200 and CODE.search(page.text)
    assert "/family/" in page.text
    [row] = web.rows(FamilyInvitation)
    assert (row["role"], row["may_report"], row["receives_local_info"], row["label"]) == (
        "grandparent", True, False, "おばあちゃん",
    )  # fmt: skip
    assert CODE.search(web.client.get(here).text) is None  # shown once, never again


@pytest.mark.parametrize(
    ("fields", "status"), [({"role": "parent"}, 422), ({"label": "あ" * 41}, 422)]
)
def test_a_bad_invitation_is_refused(web: Web, fields, status):
    here, child_id = parent(web)
    assert invite(web, here, child_id, **fields).status_code == status
    assert web.rows(FamilyInvitation) == []


def test_the_parent_sees_caregivers_by_role_and_name_only_and_removes_one(web: Web):
    here, child_id = parent(web)
    grandma = grandma_joins(web, invite(web, here, child_id).text)
    assert web.plan() == 2  # today's message for the parent and for the grandparent
    page = web.client.get(here).text
    assert "祖父母 — おばあちゃん" in page and GRANDMA not in page
    [follow] = [f for f in web.rows(Follow) if f["subscriber_id"] == grandma]
    changed = web.post(f"{here}/family/{follow['id']}", here, local_info="yes")
    assert changed.status_code == 200
    [follow] = [f for f in web.rows(Follow) if f["subscriber_id"] == grandma]
    assert follow["receives_local_info"] and not follow["may_report"]
    removed = web.post(f"{here}/family/{follow['id']}/remove", here)
    assert removed.status_code == 200 and "おばあちゃん" not in removed.text
    assert [f for f in web.rows(Follow) if f["subscriber_id"] == grandma] == []
    theirs = [d["status"] for d in web.rows(Delivery) if d["subscriber_id"] == grandma]
    assert theirs == ["cancelled"] and web.plan() == 0


def test_no_one_else_may_remove_a_caregiver(web: Web):
    here, child_id = parent(web)
    grandma = grandma_joins(web, invite(web, here, child_id).text)
    [follow] = [f for f in web.rows(Follow) if f["subscriber_id"] == grandma]
    theirs = manage_path(grandma)
    assert "このお子さんの見守りに招待する" not in web.client.get(theirs).text
    refused = web.post(f"{theirs}/family/{follow['id']}/remove", theirs)
    assert refused.status_code == 404
    other = subscriptions.subscribe(
        web.runtime.engine, SubscribeRequest("email", "other@example.com", birth_date=NOW.date()),
        variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    stranger = manage_path(other.subscriber_id)
    assert web.post(f"{stranger}/family/{follow['id']}", stranger,
                    may_report="yes").status_code == 404  # fmt: skip
    assert web.post(f"{stranger}/children/{child_id}/invite", stranger,
                    role="partner").status_code == 404  # fmt: skip
    assert len([f for f in web.rows(Follow) if f["subscriber_id"] == grandma]) == 1


def test_neither_data_page_shows_the_others_address(web: Web):
    here, child_id = parent(web)
    grandma = grandma_joins(web, invite(web, here, child_id).text)
    for path in (f"{here}/data", f"{here}/data.json"):
        page = web.client.get(path)
        assert page.status_code == 200 and GRANDMA not in page.text
    theirs = manage_path(grandma)
    for path in (theirs, f"{theirs}/data", f"{theirs}/data.json"):
        page = web.client.get(path)
        assert page.status_code == 200 and "parent@example.com" not in page.text
