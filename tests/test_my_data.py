"""Seeing, taking and deleting one's data on the settings page, through the real HTTP app:
only the reader's own data, a confirmation before anything is erased, CSRF like every form."""

from __future__ import annotations

import json

import pytest
from conftest import NOW
from stored import date_forms, traces
from webapp import DUE_12W0D, Web, web_app

from kizuna import subscriptions
from kizuna.core.catalog import Role
from kizuna.models import AuditEntry, Follow, Subscriber

ADDRESS = "parent@example.com"  # the address webapp.Web.sign_up uses
PARTNER = "partner.kenji@example.com"


@pytest.fixture
def web(settings):
    with web_app(settings) as running:
        yield running


@pytest.fixture
def manage(web: Web) -> str:
    """A confirmed subscriber expecting a baby, today's delivery planned, and a partner
    following the same pregnancy."""
    web.sign_up()
    confirm = web.links(0)["confirm"]
    web.post(confirm, confirm)
    [follow] = web.rows(Follow)
    subscriptions.subscribe(
        web.runtime.engine,
        subscriptions.SubscribeRequest("email", PARTNER, nickname="けんじ"),
        variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
        follow_child=follow["child_id"], role=Role.PARTNER,
    )  # fmt: skip
    assert web.plan() == 2
    return web.links(0)["manage"]


def test_the_settings_page_leads_to_the_data(web: Web, manage: str):
    assert f'href="{manage}/data"' in web.client.get(manage).text


def test_the_data_page_shows_everything_held_and_nothing_of_anyone_else(web: Web, manage: str):
    page = web.client.get(f"{manage}/data")
    assert page.status_code == 200
    for held in (ADDRESS, "出産予定日：2027年6月6日", "pregnancy-12w0d", "お届け予定",
                 "2026年11月22日に同意"):  # fmt: skip
        assert held in page.text
    assert PARTNER not in page.text and "けんじ" not in page.text
    assert f'href="{manage}/delete"' in page.text and "<form" not in page.text


def test_the_data_as_a_file_and_the_download_is_audited(web: Web, manage: str):
    response = web.client.get(f"{manage}/data.json")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="kizuna.json"'
    assert response.headers["cache-control"] == "no-store"
    data = json.loads(response.text)
    assert data["subscriber"]["address"] == ADDRESS
    assert PARTNER not in response.text
    [entry] = web.rows(AuditEntry)
    assert (entry["actor"], entry["action"]) == ("subscriber:web", "export")


def test_deleting_asks_first_and_a_get_changes_nothing(web: Web, manage: str):
    page = web.client.get(f"{manage}/delete")
    assert page.status_code == 200 and "データを削除しますか？" in page.text
    assert web.rows(Subscriber)[0]["address"] == ADDRESS


def test_deleting_without_the_pages_csrf_token_is_refused(web: Web, manage: str):
    page = web.client.post(f"{manage}/delete", data={"csrf_token": "forged"})
    assert page.status_code == 403
    assert web.rows(Subscriber)[0]["address"] == ADDRESS


def test_deleting_erases_at_once_and_the_links_stop_working(web: Web, manage: str):
    delete = f"{manage}/delete"
    done = web.post(delete, delete)
    assert done.status_code == 200 and "データを削除しました" in done.text
    assert traces(web.runtime.engine, [ADDRESS]) == []
    assert traces(web.runtime.engine, [PARTNER, *date_forms(DUE_12W0D)]) != []  # theirs stays
    for link in (manage, f"{manage}/data", f"{manage}/data.json", web.links(0)["unsubscribe"]):
        assert web.client.get(link).status_code == 404
    [entry] = web.rows(AuditEntry)
    assert (entry["actor"], entry["action"]) == ("subscriber:web", "forget")


def test_a_stopped_subscriber_can_delete_too(web: Web, manage: str):
    web.client.post(web.links(0)["unsubscribe"])
    delete = f"{manage}/delete"
    assert web.post(delete, delete).status_code == 200
    assert traces(web.runtime.engine, [ADDRESS]) == []
