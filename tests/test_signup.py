"""Signing up through the real HTTP app: CSRF, friendly errors, double opt-in by mail sent to a
real SMTP server, and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import pytest
from conftest import NOW
from webapp import DUE_12W0D, Web, web_app

from kizuna import subscriptions
from kizuna.models import Child, Delivery, Subscriber


@pytest.fixture
def web(settings):
    with web_app(settings) as running:
        yield running


@pytest.mark.parametrize(
    ("query", "headers", "lang", "heading"),
    [
        ("", {}, "ja", "メールでのメッセージ配信に登録する"),
        ("", {"Accept-Language": "en-GB,en;q=0.9,ja;q=0.5"}, "en", "Sign up for messages"),
        ("?lang=ja-easy", {"Accept-Language": "en"}, "ja", "<ruby>登録<rp>(</rp><rt>とうろく"),
        ("?lang=xx", {"Accept-Language": "fr, ja;q=0.3"}, "ja", "メッセージ配信に登録"),
    ],
)
def test_signup_page_in_the_readers_language(web: Web, query, headers, lang, heading):
    page = web.client.get(f"/signup{query}", headers=headers)
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    assert heading in page.text
    assert "<script" not in page.text  # works without JavaScript


def test_signup_page_is_prefilled_from_a_municipal_link_and_protected(web: Web):
    page = web.client.get("/signup?municipality=131016")
    assert 'name="municipality" value="131016"' in page.text
    cookie = page.headers["set-cookie"]
    assert "kizuna_csrf=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert "samesite=lax" in cookie.lower()
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_double_opt_in(web: Web):
    page = web.sign_up()
    assert page.status_code == 200 and "メールをご確認ください" in page.text
    [subscriber] = web.rows(Subscriber)
    assert subscriber["status"] == "pending"
    assert subscriber["consent_at"] == NOW
    assert subscriber["consent_version"].startswith("web-privacy/ja/2026-12/")
    assert web.plan() == 0  # nothing is planned for a pending subscriber

    mail = web.mailbox.wait_for(1)[0].mail
    assert mail["To"] == "parent@example.com"
    assert mail["Subject"] == "【きずな】登録の確認をお願いします"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    confirm = web.links(0)["confirm"]

    assert "配信を始める" in web.client.get(confirm).text
    assert web.rows(Subscriber)[0]["status"] == "pending"  # a GET (a link scanner) changes nothing
    done = web.post(confirm, confirm)
    assert done.status_code == 200 and "登録が完了しました" in done.text
    assert web.rows(Subscriber)[0]["status"] == "active"
    assert web.plan() == 1
    assert "登録が完了しました" in web.client.get(confirm).text  # the link keeps working


@pytest.mark.parametrize(
    ("fields", "lang", "expected"),
    [
        ({"email": ""}, "ja", "メールアドレスを入力してください。"),
        ({"email": "parent@"}, "ja", "メールアドレスの形式が正しくないようです"),
        ({"email": "parent at example.com"}, "en", "This email address does not look right"),
        ({"stage": ""}, "ja-easy", "どちらかを"),
        ({"day": ""}, "ja", "日付を入力してください。"),
        ({"day": "2027-13-01"}, "ja", "日付を年・月・日で入力してください。"),
        ({"day": "2027-12-31"}, "ja", "この出産予定日は300日以上先です。"),
        ({"day": "2026-11-01"}, "en", "This due date is over two weeks ago."),
        ({"stage": "child", "day": "2026-12-01"}, "ja", "この誕生日は未来の日付です。"),
        ({"stage": "child", "day": "2008-01-01"}, "ja", "18歳になるまでです。"),
        ({"variant": "klingon"}, "ja", "メッセージの日本語を選んでください。"),
        ({"municipality": "12345"}, "ja", "市区町村コードは6桁の数字です。"),
        ({"municipality": "999999"}, "ja", "この市区町村コードは登録されていません。"),
        ({"consent": ""}, "ja-easy", "チェックを <ruby>入<rp>(</rp><rt>い"),
        ({"consent_version": "web-signup-0/ja/old"}, "ja", "同意の文面が変更されました。"),
    ],
)
def test_every_bad_field_gets_a_friendly_error(web: Web, fields, lang, expected):
    page = web.sign_up(lang=lang, **fields)
    assert page.status_code == 422
    assert expected in page.text
    assert web.rows(Subscriber) == [] and web.mailbox.arrived == []


def test_a_post_without_the_forms_csrf_token_is_refused(web: Web):
    web.client.get("/signup")  # the browser has our cookie ...
    forged = {"email": "parent@example.com", "stage": "pregnant", "consent": "yes",
              "day": DUE_12W0D.isoformat(), "variant": "ja", "csrf_token": "made-up"}  # fmt: skip
    page = web.client.post("/signup", data=forged)  # ... but another site made the form
    assert page.status_code == 403
    assert "このフォームの有効期限が切れました" in page.text
    assert web.rows(Subscriber) == [] and web.mailbox.arrived == []


def test_signing_up_again_before_confirming_replaces_the_first(web: Web):
    web.sign_up()
    web.sign_up(stage="child", day="2026-11-15", variant="ja-easy")
    second = web.links(1)["confirm"]
    [subscriber], [child] = web.rows(Subscriber), web.rows(Child)
    assert subscriber["variant"] == "ja-easy" and subscriber["locale"] == "ja-easy"
    assert child["birth_date"].isoformat() == "2026-11-15" and child["status"] == "born"
    assert child["due_date"] is None
    assert web.post(second, second).status_code == 200
    assert web.rows(Subscriber)[0]["status"] == "active"


def test_a_subscribed_address_is_not_revealed(web: Web, settings):
    subscriptions.subscribe(
        web.runtime.engine,
        subscriptions.SubscribeRequest("email", "parent@example.com", due_date=DUE_12W0D),
        variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    page = web.sign_up(day="2027-01-01")
    assert page.status_code == 200 and "メールをご確認ください" in page.text  # as for anyone
    mail = web.mailbox.wait_for(1)[0].mail
    assert mail["Subject"] == "【きずな】このアドレスは登録済みです"
    assert "manage" in web.links(0)
    [subscriber], [child] = web.rows(Subscriber), web.rows(Child)
    assert subscriber["status"] == "active" and child["due_date"] == DUE_12W0D  # unchanged


def test_one_click_unsubscribe(web: Web):
    web.sign_up()
    web.post(web.links(0)["confirm"], web.links(0)["confirm"])
    assert web.plan() == 1
    unsubscribe = web.links(0)["unsubscribe"]  # the footer's link, the List-Unsubscribe URL

    page = web.client.get(unsubscribe)
    assert page.status_code == 200 and "配信を停止しますか" in page.text
    assert web.rows(Subscriber)[0]["status"] == "active"

    web.client.cookies.clear()  # a mail client posts with no cookie, no CSRF token, no login
    done = web.client.post(
        unsubscribe, content=b"List-Unsubscribe=One-Click", follow_redirects=False,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert done.status_code == 200 and "配信を停止しました" in done.text
    assert web.rows(Subscriber)[0]["status"] == "stopped"
    assert [d["status"] for d in web.rows(Delivery)] == ["cancelled"]
    assert web.plan() == 0
    assert web.client.post(unsubscribe).status_code == 200  # again: still fine


def test_a_token_opens_only_its_own_page(web: Web):
    web.sign_up()
    links = web.links(0)
    confirm_token = links["confirm"].rsplit("/", 1)[1]
    assert web.client.get(f"/unsubscribe/{confirm_token}").status_code == 404
    assert web.client.post(f"/unsubscribe/{confirm_token}").status_code == 404
    assert web.client.get(f"/manage/{confirm_token}").status_code == 404
    assert web.client.get("/confirm/not-a-token").status_code == 404
    assert web.rows(Subscriber)[0]["status"] == "pending"


@pytest.mark.parametrize(
    ("reply", "status", "expected"),
    [
        ("550 5.1.1 no such user", 503, "このアドレスにはメールを届けられません。"),
        ("451 4.3.0 try later", 503, "ただいまメールを送信できませんでした。"),
    ],
)
def test_when_the_confirmation_cannot_be_sent_the_page_says_so(web: Web, reply, status, expected):
    web.mailbox.rcpt_replies["parent@example.com"] = reply
    page = web.sign_up()
    assert page.status_code == status
    assert expected in page.text
    del web.mailbox.rcpt_replies["parent@example.com"]
    assert web.sign_up().status_code == 200  # trying again works
    assert "confirm" in web.links(0)


@pytest.mark.parametrize(
    ("accept", "lang", "heading", "subject", "footer"),
    [
        ("en-GB,en;q=0.9", "en", "Sign up for messages by email",
         "Please confirm your sign-up to Kizuna", "Sent by きずな運営事務局."),
        ("vi-VN,vi;q=0.9,en;q=0.5", "vi", "Đăng ký nhận tin nhắn qua email",
         "[Kizuna] Vui lòng xác nhận đăng ký của bạn", "Người gửi: きずな運営事務局"),
        ("zh-CN,zh;q=0.9", "zh-Hans", "通过电子邮件接收消息",
         "【Kizuna】请确认您的注册", "发件人：きずな運営事務局"),
    ],
)  # fmt: skip
def test_signing_up_in_the_browsers_language(web: Web, accept, lang, heading, subject, footer):
    web.client.headers["Accept-Language"] = accept
    page = web.client.get("/signup")
    assert f'<html lang="{lang}">' in page.text and heading in page.text
    assert 'value="ja-easy" checked' in page.text  # a foreign reader: easy Japanese by default
    assert web.sign_up(variant="ja-easy").status_code == 200
    [subscriber] = web.rows(Subscriber)
    assert (subscriber["locale"], subscriber["variant"]) == (lang, "ja-easy")
    assert f"/{lang}/" in subscriber["consent_version"]  # agreed to the words in that language
    mail = web.mailbox.wait_for(1)[0].mail
    assert mail["Subject"] == subject
    assert footer in mail.get_body(preferencelist=("plain",)).get_content()
    del web.client.headers["Accept-Language"]  # the saved choice, whatever the browser says
    confirm = web.client.get(web.links(0)["confirm"])
    assert f'<html lang="{lang}">' in confirm.text
