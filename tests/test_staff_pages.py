"""The staff console over HTTP (the real app, a real SMTP server): first password, sign-in,
lock-out, CSRF, one municipality per staff member, lists, local information, downloads, and
the console's own catalogs."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from conftest import NOW, write_message
from jinja2.ext import babel_extract
from PIL import Image
from webapp import Web, web_app

from kizuna import audit, municipalities, staff
from kizuna.config import bundled_dir
from kizuna.models import LineInvitation, StaffUpload, Subscriber
from kizuna.web.staff_residents import MAX_UPLOAD

A, B = "131016", "011002"
PASSWORD = "correct horse battery staple"
CHEAP = staff.Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
BODY = (
    "{% if local.health_center %}{{ local.health_center }}{% else %}お近くの保健センター"
    "{% endif %}へ。"
)
LIST = (
    "channel,email,due_date,birth_date,consent_date,reference\n"
    "email,parent@example.com,2027-06-06,,2026-11-01,\n"  # line 2: good
    "line,,,2026-10-01,2026-11-01,R-3\n"  # line 3: good
    "fax,,2027-06-06,,2026-11-01,\n"  # line 4: no such channel
    "email,,2027-06-06,,2026-11-01,\n"  # line 5: no address
    "line,,2027-06-06,,2030-01-01,R-6\n"  # line 6: consent in the future
)
PACKAGE = Path(__file__).resolve().parent.parent / "kizuna"


@pytest.fixture
def web(settings, messages_dir):
    write_message(messages_dir, track="child", at="d30", body=BODY, reviewed=True)
    with web_app(settings, staff_max_failed_logins=3, line_bot_id="@kizuna") as running:
        running.client.app.state.staff_passwords = CHEAP
        engine = running.runtime.engine
        municipalities.add(engine, code=A, name="千代田区", prefecture="東京都", now=NOW)
        municipalities.add(engine, code=B, name="札幌市", prefecture="北海道", now=NOW)
        for code, email in ((A, "a@city.example.jp"), (B, "b@city.example.jp")):
            _, token = staff.add(engine, code, email, now=NOW)
            staff.set_password(engine, CHEAP, token, PASSWORD, now=NOW)
        yield running


def sign_in(web: Web, email: str = "a@city.example.jp", password: str = PASSWORD):
    return web.client.post(
        "/staff/login", data={**web.form("/staff/login"), "email": email, "password": password},
        follow_redirects=False,
    )  # fmt: skip


@pytest.fixture
def signed_in(web: Web) -> Web:
    assert sign_in(web).status_code == 303
    return web


def entries(web: Web) -> list[audit.Entry]:
    return audit.entries(web.runtime.engine)


def upload(web: Web, content: bytes, code: str = A):
    page = f"/staff/{code}/residents"
    return web.client.post(page, data=web.form(f"/staff/{A}/residents"),
                           files={"list": ("list.csv", content, "text/csv")})  # fmt: skip


def hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))


def test_the_first_password_link_works_once_and_signs_in(web: Web):
    _, token = staff.add(web.runtime.engine, A, "new@city.example.jp", now=NOW)
    link = f"/staff/password/{token}"
    refused = web.post(link, link, password=PASSWORD, again=PASSWORD + "x")
    assert refused.status_code == 422 and "2つのパスワードが一致しません。" in refused.text
    short = web.post(link, link, password="short", again="short")
    assert short.status_code == 422 and "パスワードは12文字以上にしてください。" in short.text
    done = web.client.post(link, data={**web.form(link), "password": PASSWORD, "again": PASSWORD},
                           follow_redirects=False)  # fmt: skip
    assert (done.status_code, done.headers["location"]) == (303, f"/staff/{A}")
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    assert "Path=/staff" in cookie
    assert web.client.get(f"/staff/{A}").status_code == 200
    assert web.client.get(link).status_code == 404
    assert entries(web)[-1].action == "staff-password"


@pytest.mark.parametrize(
    "path", [f"/staff/{A}", f"/staff/{A}/residents", f"/staff/{A}/local-info",
             f"/staff/{A}/links", f"/staff/{A}/report.csv", f"/staff/{A}/qr/web.png", "/staff"],
)  # fmt: skip
def test_pages_ask_to_sign_in_first(web: Web, path):
    answer = web.client.get(path, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/staff/login")


@pytest.mark.parametrize(
    ("path", "fields"),
    [(f"/staff/{A}/local-info", {"health_center": "偽の案内"}),
     (f"/staff/{A}/residents/confirm", {"upload": "x"}), ("/staff/logout", {})],
)  # fmt: skip
def test_a_form_without_its_csrf_token_is_refused(signed_in: Web, path, fields):
    for token in ({}, {"csrf_token": "forged"}):
        answer = signed_in.client.post(path, data={**fields, **token})
        assert answer.status_code == 403
    assert municipalities.stored_local_info(signed_in.runtime.engine, A) == {}
    assert signed_in.client.get(f"/staff/{A}").status_code == 200  # still signed in


def test_a_login_or_upload_without_its_csrf_token_is_refused(web: Web):
    answer = web.client.post("/staff/login", data={"email": "a@city.example.jp",
                                                   "password": PASSWORD})  # fmt: skip
    assert answer.status_code == 403 and "kizuna_staff_session" not in answer.headers.get(
        "set-cookie", ""
    )
    assert sign_in(web).status_code == 303
    answer = web.client.post(f"/staff/{A}/residents",
                             files={"list": ("list.csv", LIST.encode(), "text/csv")})  # fmt: skip
    assert answer.status_code == 403 and web.rows(StaffUpload) == []


@pytest.mark.parametrize(
    "path",
    [f"/staff/{B}", f"/staff/{B}/residents", f"/staff/{B}/local-info", f"/staff/{B}/links",
     f"/staff/{B}/local-info/preview/health_center", f"/staff/{B}/report.csv",
     f"/staff/{B}/report.png", f"/staff/{B}/chart.png", f"/staff/{B}/qr/line.png",
     "/staff/011011"],  # the last: a code with no municipality answers the same
)  # fmt: skip
def test_another_municipalitys_pages_do_not_exist_for_a_staff_member(signed_in: Web, path):
    answer = signed_in.client.get(path, follow_redirects=False)
    assert answer.status_code == 404 and "このページはありません" in answer.text


def test_another_municipality_cannot_be_changed_by_changing_the_url(signed_in: Web):
    form = signed_in.form(f"/staff/{A}/local-info")
    changed = signed_in.client.post(f"/staff/{B}/local-info", data={**form, "health_center": "x"})
    assert changed.status_code == 404
    assert upload(signed_in, LIST.encode(), code=B).status_code == 404
    assert municipalities.stored_local_info(signed_in.runtime.engine, B) == {}
    assert signed_in.rows(StaffUpload) == []
    # B's own staff cannot confirm a list A's staff checked, even with its id.
    checked = upload(signed_in, LIST.encode())
    upload_id = hidden(checked.text)["upload"]
    signed_in.client.cookies.clear()
    assert sign_in(signed_in, "b@city.example.jp").status_code == 303
    form = signed_in.form(f"/staff/{B}/residents")
    stolen = signed_in.client.post(f"/staff/{B}/residents/confirm",
                                   data={**form, "upload": upload_id})  # fmt: skip
    assert stolen.status_code == 410 and signed_in.rows(Subscriber) == []


def test_the_configured_number_of_wrong_passwords_locks_the_account(web: Web):
    assert [sign_in(web, password="wrong").status_code for _ in range(2)] == [401, 401]
    locking = sign_in(web, password="wrong")
    assert locking.status_code == 423 and "15分間ロック" in locking.text
    assert sign_in(web).status_code == 423  # the right password waits too
    actions = [(e.actor, e.action) for e in entries(web)]
    assert actions == [("staff:1", "staff-lockout")]
    web.client.app.state.clock = lambda: NOW + staff.LOCK_LIFETIME
    assert sign_in(web).status_code == 303


def test_an_unknown_address_is_answered_like_a_wrong_password(web: Web):
    unknown = sign_in(web, email="nobody@city.example.jp")
    wrong = sign_in(web, password="wrong")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.text.count("正しくありません") == wrong.text.count("正しくありません") == 1


def test_signing_out_ends_the_session(signed_in: Web):
    cookie = signed_in.client.cookies.get("kizuna_staff_session")
    out = signed_in.post("/staff/logout", f"/staff/{A}")
    assert out.status_code == 200 and "ログアウトしました。" in out.text
    signed_in.client.cookies.set("kizuna_staff_session", cookie, path="/staff")
    again = signed_in.client.get(f"/staff/{A}", follow_redirects=False)
    assert again.headers["location"] == "/staff/login"
    assert [e.action for e in entries(signed_in)] == ["staff-login", "staff-logout"]


def test_a_list_is_checked_first_then_confirmed(signed_in: Web):
    checked = upload(signed_in, LIST.encode())
    assert checked.status_code == 422
    problems = re.findall(r'<tr><td class="n">(\d+)</td><td>(\w+)</td><td>([^<]+)</td>',
                          checked.text)  # fmt: skip
    assert problems == [
        ("4", "channel", "channel は line か email にしてください"),
        ("5", "email", "email の行にはメールアドレスが必要です"),
        ("6", "consent_date", "同意日が未来の日付です"),
    ]
    assert 'id="to-add">2<' in checked.text
    assert signed_in.rows(Subscriber) == signed_in.rows(LineInvitation) == []
    assert "parent@example.com" not in checked.text
    form = hidden(checked.text)
    done = signed_in.client.post(f"/staff/{A}/residents/confirm", data=form)
    assert done.status_code == 200 and 'id="added">2<' in done.text
    assert re.search(r"<code>[A-Z2-9]{5}-[A-Z2-9]{5}</code>", done.text)
    assert "parent@example.com" not in done.text
    [mail] = signed_in.mailbox.wait_for(1)
    assert mail.rcpt_tos == ["parent@example.com"]
    [pending] = signed_in.rows(Subscriber)
    assert (pending["status"], pending["municipality_code"]) == ("pending", A)
    again = signed_in.client.post(f"/staff/{A}/residents/confirm", data=form)
    assert again.status_code == 410 and len(signed_in.rows(Subscriber)) == 1
    dashboard = signed_in.client.get(f"/staff/{A}").text
    assert 'id="waiting-email">1<' in dashboard and 'id="waiting-line">1<' in dashboard
    details = [(e.action, e.detail) for e in entries(signed_in)][1:]
    assert details == [
        ("resident-upload", {"municipality": A, "rows": 5, "problems": 3, "would_add": 2}),
        ("resident-confirm", {"municipality": A, "rows": 5, "added": 2, "unchanged": 0,
                              "problems": 3, "unsent": 0}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "status", "shown"),
    [(b"", 422, "CSVファイルを選んでください。"),
     (b"name,phone\nx,y\n", 422, "unknown column(s)"),
     (b"x" * (MAX_UPLOAD + 1), 422, "10MBを超えています"),
     (b"channel,consent_date\n\x81 \n", 422, "UTF-8 でも Shift_JIS")],
)  # fmt: skip
def test_lists_that_cannot_be_read(signed_in: Web, content, status, shown):
    if content:
        answer = upload(signed_in, content)
    else:
        answer = signed_in.client.post(f"/staff/{A}/residents",
                                       data=signed_in.form(f"/staff/{A}/residents"))  # fmt: skip
    assert answer.status_code == status and shown in answer.text
    assert signed_in.rows(StaffUpload) == []


def test_local_information_is_saved_and_previewed(signed_in: Web):
    form = signed_in.form(f"/staff/{A}/local-info")
    saved = signed_in.client.post(f"/staff/{A}/local-info",
                                  data={**form, "health_center": " 千代田保健所 "})  # fmt: skip
    assert saved.status_code == 200 and "保存しました。" in saved.text
    assert municipalities.stored_local_info(signed_in.runtime.engine, A) == {
        "health_center": "千代田保健所"
    }
    shown = signed_in.client.get(f"/staff/{A}/local-info/preview/health_center").text
    assert '<div class="message" id="with">千代田保健所へ。</div>' in shown
    assert '<div class="message" id="without">お近くの保健センターへ。</div>' in shown
    too_long = signed_in.client.post(f"/staff/{A}/local-info",
                                     data={**form, "consultation": "長" * 1001})  # fmt: skip
    assert too_long.status_code == 422
    assert signed_in.client.get(f"/staff/{A}/local-info/preview/nothing").status_code == 404
    [change] = [e for e in entries(signed_in) if e.action == "local-info-change"]
    assert change.detail == {"municipality": A, "keys": "health_center"}


def test_downloads(signed_in: Web):
    report = signed_in.client.get(f"/staff/{A}/report.csv?month=2026-11")
    assert report.headers["content-disposition"] == (
        f'attachment; filename="kizuna-{A}-2026-11.csv"'
    )
    assert report.content.decode("utf-8-sig").startswith("figure,channel,track,variant,reason")
    for path in (f"/staff/{A}/report.png", f"/staff/{A}/chart.png", f"/staff/{A}/qr/line.png",
                 f"/staff/{A}/qr/web.png"):  # fmt: skip
        answer = signed_in.client.get(path)
        assert answer.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(answer.content)).format == "PNG"
    svg = signed_in.client.get(f"/staff/{A}/qr/web.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert signed_in.client.get(f"/staff/{A}/report.csv?month=2026-13").status_code == 404
    assert signed_in.client.get(f"/staff/{A}/qr/fax.png").status_code == 404
    actions = [(e.action, e.detail.get("format")) for e in entries(signed_in)][1:]
    assert actions == [
        ("report-download", "csv"), ("report-download", "png"), ("qr-download", "png"),
        ("qr-download", "png"), ("qr-download", "svg"),
    ]  # fmt: skip


def test_the_console_in_english_and_the_choice_is_kept(signed_in: Web):
    english = signed_in.client.get(f"/staff/{A}?lang=en")
    assert "figures for 2026-11" in english.text and 'lang="en"' in english.text
    assert "Local information" in signed_in.client.get(f"/staff/{A}/local-info").text


def test_the_audit_log_names_staff_by_id_only(signed_in: Web):
    upload(signed_in, LIST.encode())
    signed_in.post("/staff/logout", f"/staff/{A}")
    logged = " ".join(f"{e.actor} {e.action} {e.detail}" for e in entries(signed_in))
    assert "staff:1" in logged
    for personal in ("a@city.example.jp", "parent@example.com", "2027-06-06", PASSWORD):
        assert personal not in logged


# -- the console's own catalogs (locales/{ja,en}/LC_MESSAGES/staff.po) ----------------------


def used_ids() -> set[str]:
    """Every id the staff templates and modules use: plain() and S_(), the staff domain's
    markers (`_()` and `N_()` are kizuna.po's: tests/test_i18n.py checks those)."""
    ids: set[str] = set()
    for path in sorted((PACKAGE / "templates" / "web" / "staff").glob("*.html")):
        with path.open("rb") as handle:
            found = babel_extract(handle, {"_": None, "plain": None}, [],
                                  {"extensions": "jinja2.ext.i18n"})  # fmt: skip
            ids |= {m[0] if isinstance(m, tuple) else m for _, _, m, _ in found}
    for path in sorted((PACKAGE / "web").glob("staff_*.py")):
        with path.open("rb") as handle:
            ids |= {m for _, _, m, _ in extract_python(handle, {"S_": None, "N_": None}, [], {})}
    return {msgid for msgid in ids if isinstance(msgid, str)}


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_every_id_the_console_uses_is_translated(locale):
    path = bundled_dir("locales") / locale / "LC_MESSAGES" / "staff.po"
    with path.open("rb") as handle:
        translated = {m.id: m.string for m in read_po(handle) if m.id}
    ids = used_ids()
    assert len(ids) > 100
    assert sorted(ids - set(translated)) == []
    placeholder = re.compile(r"%\((\w+)\)s")
    for msgid in ids:
        assert translated[msgid], msgid
        assert set(placeholder.findall(translated[msgid])) == set(placeholder.findall(msgid))


def test_a_session_expires_after_its_lifetime(signed_in: Web):
    signed_in.client.app.state.clock = lambda: NOW + staff.SESSION_LIFETIME + timedelta(seconds=1)
    answer = signed_in.client.get(f"/staff/{A}", follow_redirects=False)
    assert answer.headers["location"] == "/staff/login"


def test_the_upload_table_is_empty_after_a_confirmation(signed_in: Web):
    checked = upload(signed_in, LIST.encode())
    signed_in.client.post(f"/staff/{A}/residents/confirm", data=hidden(checked.text))
    with signed_in.runtime.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(
            StaffUpload.__table__)).scalar() == 0  # fmt: skip
