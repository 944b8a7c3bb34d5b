"""A subscriber's own settings page (`/manage/<token>`): variant, due date, birth, loss, stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from conftest import NOW
from webapp import DAY, DUE_12W0D, Web, web_app

from kizuna import subscriptions
from kizuna.i18n import LOCALE_NAMES
from kizuna.models import Child, Delivery, Follow, Subscriber
from kizuna.runtime import dispatch_day
from kizuna.tokens import Purpose, Tokens


@pytest.fixture
def web(settings):
    with web_app(settings) as running:
        yield running


@pytest.fixture
def manage(web: Web) -> str:
    """The settings page of a confirmed subscriber expecting a baby, with today's delivery."""
    web.sign_up()
    confirm = web.links(0)["confirm"]
    web.post(confirm, confirm)
    assert web.plan() == 1
    return web.links(0)["manage"]


def child_id(web: Web) -> int:
    return web.rows(Child)[0]["id"]


def test_the_page_shows_the_subscription_and_changes_nothing(web: Web, manage: str):
    page = web.client.get(manage)
    assert page.status_code == 200
    assert "出産予定日：2027年6月6日" in page.text
    assert 'value="ja" checked' in page.text
    assert web.rows(Subscriber)[0]["variant"] == "ja"


def test_changing_the_variant_changes_messages_and_pages(web: Web, manage: str):
    page = web.post(f"{manage}/variant", manage, variant="ja-easy")
    assert page.status_code == 200
    [subscriber] = web.rows(Subscriber)
    assert (subscriber["variant"], subscriber["locale"]) == ("ja-easy", "ja-easy")
    assert "<ruby>保存<rp>(</rp><rt>ほぞん</rt><rp>)</rp></ruby>しました。" in page.text


def test_a_change_without_the_pages_csrf_token_is_refused(web: Web, manage: str):
    page = web.client.post(f"{manage}/variant", data={"variant": "ja-easy", "csrf_token": "x"})
    assert page.status_code == 403
    assert web.rows(Subscriber)[0]["variant"] == "ja"


@pytest.mark.parametrize(
    ("due", "status", "expected"),
    [
        ((DUE_12W0D + timedelta(days=7)).isoformat(), 200, "保存しました。"),
        ("2028-06-01", 422, "この出産予定日は300日以上先です。"),
        ("", 422, "日付を入力してください。"),
    ],
)
def test_correcting_the_due_date(web: Web, manage: str, due, status, expected):
    page = web.post(f"{manage}/children/{child_id(web)}/due-date", manage, due_date=due)
    assert page.status_code == status and expected in page.text
    corrected = status == 200
    assert (web.rows(Child)[0]["due_date"] != DUE_12W0D) is corrected
    # Today's message was timed by the old date: withdrawn so that planning can re-time it.
    assert [d["status"] for d in web.rows(Delivery)] == ["cancelled" if corrected else "planned"]


@pytest.mark.parametrize(
    ("born", "status", "expected"),
    [
        ((DAY - timedelta(days=1)).isoformat(), 200, "誕生日：2026年11月21日"),
        ((DAY + timedelta(days=1)).isoformat(), 422, "この誕生日は未来の日付です。"),
    ],
)
def test_reporting_a_birth(web: Web, manage: str, born, status, expected):
    # Births this early are outside 22w0d–44w0d of the due date: move the due date first.
    web.post(f"{manage}/children/{child_id(web)}/due-date", manage, due_date=DAY.isoformat())
    page = web.post(f"{manage}/children/{child_id(web)}/birth", manage, birth_date=born)
    assert page.status_code == status and expected in page.text
    assert web.rows(Child)[0]["status"] == ("born" if status == 200 else "expected")


def test_a_birth_far_from_the_due_date_is_questioned(web: Web, manage: str):
    page = web.post(f"{manage}/children/{child_id(web)}/birth", manage, birth_date="2026-11-20")
    assert page.status_code == 422
    assert "この誕生日は出産予定日から離れすぎています。" in page.text


@pytest.mark.parametrize("support", [False, True])
def test_reporting_a_loss(web: Web, manage: str, support: bool):
    loss = f"{manage}/children/{child_id(web)}/loss"
    page = web.client.get(loss)
    assert page.status_code == 200 and "心よりお悔やみ申し上げます" in page.text
    assert web.rows(Child)[0]["status"] == "expected"  # asking records nothing
    done = web.post(loss, loss, **({"support": "yes"} if support else {}))
    assert done.status_code == 200 and "今後一切お送りしません" in done.text
    [child], [follow] = web.rows(Child), web.rows(Follow)
    assert (child["status"], child["loss_date"]) == ("loss", DAY)
    assert follow["loss_support"] is support
    assert [d["status"] for d in web.rows(Delivery)] == ["cancelled"]
    for later in range(1, 60):  # nothing about the pregnancy is ever planned again
        web.plan(DAY + timedelta(days=later))
    assert {d["track"] for d in web.rows(Delivery) if d["status"] != "cancelled"} <= {"loss"}
    assert "このお子さんについてのメッセージはお送りしていません" in web.client.get(manage).text


def test_someone_elses_child_cannot_be_touched(web: Web, manage: str):
    other = subscriptions.subscribe(
        web.runtime.engine,
        subscriptions.SubscribeRequest("email", "other@example.com", due_date=DUE_12W0D),
        variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    page = web.post(f"{manage}/children/{other.child_id}/loss", manage)
    assert page.status_code == 404
    assert {c["id"]: c["status"] for c in web.rows(Child)}[other.child_id] == "expected"


def test_a_stopped_subscriber_sees_no_forms(web: Web, manage: str):
    csrf = web.form(manage)
    web.client.post(web.links(0)["unsubscribe"])
    page = web.client.get(manage)
    assert "配信は停止しています。" in page.text and "<form" not in page.text
    refused = web.client.post(f"{manage}/variant", data={**csrf, "variant": "ja-easy"})
    assert refused.status_code == 409
    assert web.rows(Subscriber)[0]["variant"] == "ja"


def test_a_bad_link_is_a_friendly_404(web: Web):
    forged = Tokens("another-secret").issue(Purpose.MANAGE, 1)
    page = web.client.get(f"/manage/{forged}")
    assert page.status_code == 404 and "このリンクは使えません" in page.text


def test_choosing_the_language_of_pages_mail_and_line(web: Web, manage: str):
    page = web.client.get(manage)
    assert '<option value="ja" lang="ja" selected>日本語</option>' in page.text
    assert all(f">{name}</option>" in page.text for name in LOCALE_NAMES.values())
    chosen = web.post(f"{manage}/locale", manage, locale="vi")
    assert chosen.status_code == 200 and '<html lang="vi">' in chosen.text
    assert "Đã lưu." in chosen.text
    assert [(s["locale"], s["variant"]) for s in web.rows(Subscriber)] == [("vi", "ja")]
    again = web.client.get(manage)  # no ?lang=: the saved choice
    assert '<option value="vi" lang="vi" selected>' in again.text
    assert "Ngày dự sinh: 6 tháng 6, 2027" in again.text  # the date in Vietnamese form
    web.post(f"{manage}/variant", manage, variant="ja-easy")  # Vietnamese stays
    assert [(s["locale"], s["variant"]) for s in web.rows(Subscriber)] == [("vi", "ja-easy")]
    asyncio.run(dispatch_day(web.runtime, DAY, now=NOW))  # today's message, footer in it
    mail = web.mailbox.wait_for(2)[1].mail
    assert "Người gửi: きずな運営事務局" in mail.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.parametrize(
    ("fields", "status"), [({"locale": "xx"}, 422), ({"locale": "vi", "csrf_token": "x"}, 403)]
)
def test_a_bad_language_choice_changes_nothing(web: Web, manage: str, fields, status):
    page = web.client.post(f"{manage}/locale", data={**web.form(manage), **fields})
    assert page.status_code == status
    assert status != 422 or "言語を選んでください。" in page.text
    assert web.rows(Subscriber)[0]["locale"] == "ja"
