"""The whole journey in headless Chromium against the real server and a real SMTP server:
sign up → confirmation mail → confirm → the day's dispatch → first message → one-click
unsubscribe → dispatch again → no more mail. Screenshots go to test-artifacts/web-journey/."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from mailserver import free_port, smtp_server
from webapp import smtp_settings

from kizuna import subscriptions
from kizuna.runtime import build_channels, dispatch_day, open_runtime, plan
from kizuna.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web-journey"
PHONE = {"width": 390, "height": 844}
NO_LIST_UNSUBSCRIBE = "no List-Unsubscribe: kizuna/dispatcher.py must fill Envelope.subscriber_id"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/(confirm|unsubscribe|manage)/[A-Za-z0-9_.-]+")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


def wait_for(condition, what: str, timeout: float = 20.0):
    """Poll until `condition` holds (readiness is observed, never assumed after a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def serving(app, port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: healthy(base), "the web server")
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def links(mail) -> dict[str, str]:
    text = mail.get_body(preferencelist=("plain",)).get_content()
    return {m[1]: m[0] for m in LINK.finditer(text)}


def test_signup_to_one_click_unsubscribe_in_chromium(settings):
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    http_port = free_port()
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Tokyo")).date()
    due = today + timedelta(days=280 - 12 * 7)  # today is 12w0d: a message is due
    with smtp_server() as (mailbox, smtp_port):
        configured = smtp_settings(settings, smtp_port, base_url=f"http://127.0.0.1:{http_port}")
        runtime = open_runtime(configured)
        # Someone else on the same due date: proves the later dispatch would have sent mail.
        subscriptions.subscribe(
            runtime.engine,
            subscriptions.SubscribeRequest("email", "other@example.com", due_date=due),
            variants=runtime.variants(), default_timezone="Asia/Tokyo", now=now,
        )  # fmt: skip
        app = create_app(runtime, channels=build_channels(configured))
        with serving(app, http_port) as base, playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            try:
                page = browser.new_page(locale="ja-JP", viewport=PHONE)
                journey(p, page, base, mailbox, runtime, today, due, now)
            finally:
                browser.close()
        runtime.engine.dispose()


def journey(p, page, base, mailbox, runtime, today, due, now):
    expect = pytest.importorskip("playwright.sync_api").expect

    def shot(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    page.goto(f"{base}/signup?municipality=")
    shot("01-signup")
    page.fill("#email", "parent@example.com")
    page.check("input[name=stage][value=pregnant]")
    page.fill("#day", due.isoformat())
    page.check("input[name=consent]")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("メールをご確認ください")
    shot("02-check-your-mail")

    confirmation = mailbox.wait_for(1)[0].mail
    assert confirmation["Subject"] == "【きずな】登録の確認をお願いします"
    page.goto(links(confirmation)["confirm"])
    shot("03-confirm")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("ありがとうございます。登録が完了しました。")
    shot("04-confirmed")

    run_day(runtime, today, now)
    arrived = mailbox.wait_for(3)
    first = next(a.mail for a in arrived[1:] if a.rcpt_tos == ["parent@example.com"])
    assert first["Subject"] == "見出し"  # the fixture library's pregnancy-12w0d
    assert first["List-Unsubscribe"], NO_LIST_UNSUBSCRIBE
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = first["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert urlsplit(one_click).path.startswith("/unsubscribe/")

    page.goto(one_click)  # what a person sees: a question, nothing changed yet
    expect(page.locator("h1")).to_have_text("配信を停止しますか？")
    shot("05-unsubscribe-question")
    mail_client = p.request.new_context()  # RFC 8058: no cookie, no CSRF token, no login
    answer = mail_client.post(
        one_click, data="List-Unsubscribe=One-Click", max_redirects=0,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert answer.status == 200
    mail_client.dispose()
    page.reload()
    expect(page.locator("h1")).to_have_text("配信を停止しました")
    shot("06-unsubscribed")

    before = len(mailbox.arrived)
    run_day(runtime, today + timedelta(days=1), now)  # 12w1d: a message is due
    control = mailbox.wait_for(before + 1)[before:]
    assert [a.rcpt_tos for a in control] == [["other@example.com"]]  # and none for the parent


def run_day(runtime, day, now) -> None:
    """The day's planning and dispatch, as the scheduler runs them. In a thread of its own:
    Playwright's sync API keeps an event loop running in this one."""

    def day_run() -> None:
        plan(runtime, day, now=now)
        asyncio.run(dispatch_day(runtime, day, now=now))

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(day_run).result()
