"""The staff console in headless Chromium against the real server and a real SMTP server:
first-password link → sign in → upload a list with bad rows → see them → confirm → the
dashboard's counts change → edit local information → its preview shows it → download the QR
PNG → sign out. Screenshots go to test-artifacts/staff-console/."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import write_message
from mailserver import free_port, smtp_server
from PIL import Image
from test_web_journey import ARGS, CHROMIUM, PHONE, serving
from webapp import smtp_settings

from kizuna import municipalities, staff
from kizuna.models import Subscriber
from kizuna.runtime import build_channels, open_runtime
from kizuna.web.app import create_app

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "staff-console"
CODE = "131016"
PASSWORD = "きずな 保健センター 2026"
LOCAL = "千代田保健所（電話 03-0000-0000）"
LIST = (
    "channel,email,due_date,birth_date,consent_date,reference\n"
    "email,parent@example.com,,2026-10-01,2026-11-01,\n"
    "line,,,2026-10-15,2026-11-01,R-3\n"
    "fax,,,2026-10-01,2026-11-01,\n"
    "email,,,2026-10-01,2026-11-01,\n"
).encode("cp932")  # as a Japanese office's spreadsheet writes it
BODY = (
    "{{ stage_label }}。{% if local.health_center %}{{ local.health_center }}{% else %}"
    "お住まいの保健センター{% endif %}にご相談ください。"
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


def test_the_staff_console_in_chromium(settings, messages_dir):
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    write_message(messages_dir, track="child", at="d30", body=BODY, reviewed=True)
    http_port = free_port()
    with smtp_server() as (mailbox, smtp_port):
        configured = smtp_settings(
            settings, smtp_port, base_url=f"http://127.0.0.1:{http_port}", line_bot_id="@kizuna"
        )
        runtime = open_runtime(configured)
        now = datetime.now(UTC)
        municipalities.add(runtime.engine, code=CODE, name="千代田区", prefecture="東京都", now=now)
        _, token = staff.add(runtime.engine, CODE, "hoken@city.example.jp", now=now)
        app = create_app(runtime, channels=build_channels(configured))
        with serving(app, http_port) as base, playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            try:
                page = browser.new_page(locale="ja-JP", viewport=PHONE, accept_downloads=True)
                journey(page, base, token, mailbox, runtime)
            finally:
                browser.close()
        runtime.engine.dispose()


def journey(page, base, token, mailbox, runtime):
    expect = pytest.importorskip("playwright.sync_api").expect

    def shot(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    page.goto(f"{base}/staff/password/{token}")
    expect(page.locator("h1")).to_have_text("パスワードの設定")
    shot("01-first-password")
    page.fill("#password", PASSWORD)
    page.fill("#again", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("千代田区")  # signed in: the dashboard
    expect(page.locator("#waiting-email")).to_have_text("0")
    shot("02-dashboard-before")

    page.click("text=ログアウト")  # and in again, through the sign-in page
    page.fill("#email", "hoken@city.example.jp")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator("#waiting-line")).to_have_text("0")

    page.click("nav >> text=住民名簿")
    page.set_input_files("#list", files=[
        {"name": "名簿.csv", "mimeType": "text/csv", "buffer": LIST},
    ])  # fmt: skip
    page.click("#check")
    problems = page.locator("#problems tr")
    expect(problems).to_have_count(3)  # the header and two bad rows
    expect(problems.nth(1)).to_contain_text("4")
    expect(problems.nth(1)).to_contain_text("channel は line か email にしてください")
    expect(problems.nth(2)).to_contain_text("email の行にはメールアドレスが必要です")
    expect(page.locator("#to-add")).to_have_text("2")
    shot("03-list-checked")
    assert rows(runtime) == 0  # nothing enrolled before the confirmation

    page.click("#confirm")
    expect(page.locator("h1")).to_have_text("名簿を登録しました")
    expect(page.locator("#added")).to_have_text("2")
    expect(page.locator("#codes code")).to_have_count(1)
    shot("04-list-enrolled")
    [invitation] = mailbox.wait_for(1)
    assert invitation.rcpt_tos == ["parent@example.com"]
    assert rows(runtime) == 1

    page.click("nav >> text=ダッシュボード")
    expect(page.locator("#waiting-email")).to_have_text("1")
    expect(page.locator("#waiting-line")).to_have_text("1")
    page.wait_for_load_state("load")  # images included
    width = page.locator("img[src*=chart]").evaluate("image => image.naturalWidth")
    assert width == 1200  # the chart's PNG arrived and decoded (10 in at 120 dpi)
    shot("05-dashboard-after")

    page.click("nav >> text=地域の案内")
    page.fill("#health_center", LOCAL)
    page.click("#save")
    expect(page.locator("[role=status]")).to_have_text("保存しました。")
    page.click("#preview-health_center")
    expect(page.locator("#with")).to_contain_text(f"{LOCAL}にご相談ください。")
    expect(page.locator("#without")).to_contain_text("お住まいの保健センターにご相談ください。")
    shot("06-local-info-preview")

    page.click("nav >> text=登録用リンク")
    shot("07-registration-links")
    with page.expect_download() as download:
        page.click("#qr-line-png")
    png = Path(download.value.path()).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG" and min(image.size) >= 200
    assert download.value.suggested_filename == f"kizuna-{CODE}-line.png"

    page.click("#logout")
    expect(page.locator("h1")).to_have_text("ログイン")
    expect(page.locator("main")).to_contain_text("ログアウトしました。")
    shot("08-signed-out")
    page.goto(f"{base}/staff/{CODE}")
    expect(page.locator("h1")).to_have_text("ログイン")  # the session is over


def rows(runtime) -> int:
    import sqlalchemy as sa

    with runtime.engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(Subscriber.__table__)
        ).scalar()
