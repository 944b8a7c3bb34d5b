"""`kizuna municipality …` through typer's runner, with settings from an explicit environment."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.db import create_engine
from kizuna.models import LineInvitation, Subscriber

runner = CliRunner()
TODAY = datetime.now(UTC).date()


@pytest.fixture
def env(settings):
    return {
        "KIZUNA_DATABASE_URL": settings.database_url,
        "KIZUNA_OUTBOX_DIR": str(settings.outbox_dir),
        "KIZUNA_MESSAGES_DIR": str(settings.messages_dir),
        "KIZUNA_TIMEZONE": "Asia/Tokyo",
        "KIZUNA_LINE_BACKEND": "outbox",
        "KIZUNA_EMAIL_BACKEND": "outbox",
        "KIZUNA_SECRET_KEY": "test-secret",
        "KIZUNA_BASE_URL": "https://kizuna.example.org",
        "KIZUNA_LINE_BOT_ID": "@kizuna",
    }


def invoke(env, *args):
    return runner.invoke(app, ["municipality", *args], env=env)


@pytest.fixture
def chiyoda(env):
    done = invoke(env, "add", "13101", "--name", "千代田区", "--prefecture", "東京都")
    assert done.exit_code == 0, done.output
    return env


def count(env, model, **where) -> int:
    engine = create_engine(env["KIZUNA_DATABASE_URL"])
    table = model.__table__
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(sa.and_(sa.true(), *(table.c[k] == v for k, v in where.items())))
        ).scalar()
    engine.dispose()
    return found


def test_add_list_show(chiyoda):
    assert "added" not in invoke(chiyoda, "add", "131017", "--name", "x").output
    refused = invoke(chiyoda, "add", "131017", "--name", "x")
    assert refused.exit_code == 2 and "check digit should be 6" in refused.output
    listed = invoke(chiyoda, "list")
    assert "131016" in listed.output and "千代田区より" in listed.output
    shown = invoke(chiyoda, "show", "13101")
    assert shown.exit_code == 0
    assert "line link: https://line.me/R/oaMessage/%40kizuna/?131016" in shown.output
    assert "web link: https://kizuna.example.org/signup?municipality=131016" in shown.output
    assert invoke(chiyoda, "show", "011002").exit_code == 2


def test_tokens(chiyoda):
    created = invoke(chiyoda, "token", "create", "131016", "--label", "住基")
    assert created.exit_code == 0 and "kzm_" in created.output
    token = created.output.split(": ", 1)[1].split()[0]
    listed = invoke(chiyoda, "token", "list", "131016")
    assert "住基" in listed.output and token not in listed.output
    assert invoke(chiyoda, "token", "revoke", "1").exit_code == 0
    again = invoke(chiyoda, "token", "revoke", "1")
    assert again.exit_code == 2 and "no live token 1" in again.output


def test_local_info(chiyoda):
    done = invoke(chiyoda, "local-info", "131016", "--set", "checkup_4m=保健所 = 第2火曜",
                  "--set", "vaccination=医療機関")  # fmt: skip
    assert done.exit_code == 0
    assert "checkup_4m: 保健所 = 第2火曜" in done.output and "checkup_3y: —" in done.output
    done = invoke(chiyoda, "local-info", "131016", "--unset", "vaccination")
    assert "vaccination: —" in done.output and "checkup_4m: 保健所" in done.output
    refused = invoke(chiyoda, "local-info", "131016", "--set", "checkup_5m=x")
    assert refused.exit_code == 2 and "unknown local info key(s): checkup_5m" in refused.output
    assert invoke(chiyoda, "local-info", "131016", "--set", "novalue").exit_code == 2


def test_qr(chiyoda, tmp_path):
    done = invoke(chiyoda, "qr", "131016", "--out", str(tmp_path / "qr"))
    assert done.exit_code == 0, done.output
    assert Image.open(tmp_path / "qr" / "131016-line.png").size[0] >= 250
    assert (tmp_path / "qr" / "131016-web.svg").read_text().startswith("<svg")


def resident_list(tmp_path) -> str:
    due = (TODAY + timedelta(days=100)).isoformat()
    path = tmp_path / "list.csv"
    path.write_text(
        "channel,email,due_date,consent_date\n"
        f"email,hana@example.com,{due},{TODAY}\n"
        f"email,broken,{due},{TODAY}\n"
        f"line,,{due},{TODAY}\n"
        f"line,,{due},\n",
        encoding="utf-8",
    )
    return str(path)


def test_enroll_reports_bad_lines_and_adds_nothing_again(chiyoda, tmp_path):
    path = resident_list(tmp_path)
    dry = invoke(chiyoda, "enroll", "131016", path, "--dry-run")
    assert dry.exit_code == 1 and "would add 1 email invitations and 1 LINE" in dry.output
    assert count(chiyoda, Subscriber) == 0
    codes = tmp_path / "codes.csv"
    done = invoke(chiyoda, "enroll", "131016", path, "--codes", str(codes))
    assert done.exit_code == 1  # problems are reported: the caller must look
    assert "line 3: email: not a valid email address" in done.output
    assert "line 5: consent_date: give the date" in done.output
    assert "added 1 email invitations and 1 LINE invitation codes" in done.output
    [row] = list(csv.DictReader(io.StringIO(codes.read_text(encoding="utf-8"))))
    assert row["line"] == "4" and row["code"] in done.output
    assert list((tmp_path / "outbox" / "email").glob("*.eml"))  # the invitation mail
    again = invoke(chiyoda, "enroll", "131016", path)
    assert "added 0 email invitations and 0 LINE invitation codes; 2 already" in again.output
    assert count(chiyoda, Subscriber, status="pending") == 1 and count(chiyoda, LineInvitation) == 1


def test_enroll_refuses_email_rows_when_mail_cannot_go(chiyoda, tmp_path):
    env = {**chiyoda, "KIZUNA_EMAIL_BACKEND": None}  # None: unset
    refused = invoke(env, "enroll", "131016", resident_list(tmp_path))
    assert refused.exit_code == 2 and "mail cannot be sent" in refused.output
    assert count(chiyoda, Subscriber) == 0 and count(chiyoda, LineInvitation) == 0


def test_enroll_an_unreadable_list(chiyoda, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,phone\n", encoding="utf-8")
    refused = invoke(chiyoda, "enroll", "131016", str(path))
    assert refused.exit_code == 2 and "unknown column" in refused.output


@pytest.mark.parametrize("code", [["131016"], []])
def test_report_formats(chiyoda, tmp_path, code):
    table = invoke(chiyoda, "report", *code, "--month", "2026-11")
    assert table.exit_code == 0 and "registrations" in table.output
    data = invoke(chiyoda, "report", *code, "--from", "2026-11-01", "--to", "2026-11-03",
                  "--format", "csv")  # fmt: skip
    assert data.output.splitlines()[:2] == ["figure,channel,track,variant,reason,value",
                                            "registrations,,,,,0"]  # fmt: skip
    png = tmp_path / "r.png"
    drawn = invoke(chiyoda, "report", *code, "--month", "2026-11", "--format", "png", "--out",
                   str(png))  # fmt: skip
    assert drawn.exit_code == 0 and Image.open(png).format == "PNG"


@pytest.mark.parametrize(
    "args",
    [["--month", "2026-13"], [], ["--month", "2026-11", "--from", "2026-11-01"],
     ["--month", "2026-11", "--format", "pdf"]],
)  # fmt: skip
def test_report_refuses(chiyoda, args):
    assert invoke(chiyoda, "report", "131016", *args).exit_code == 2
