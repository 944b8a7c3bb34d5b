"""`kizuna subscribers export|forget|consents` and `kizuna audit`, as an operator answering a
request by post or phone: each action in the audit log, under the operator's name."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from kizuna.cli import app

runner = CliRunner()
TODAY = datetime.now(ZoneInfo("Asia/Tokyo")).date()
BORN = (TODAY - timedelta(days=7)).isoformat()
ADDRESS = "yui.parent@example.com"


@pytest.fixture
def env(settings):
    return {
        "KIZUNA_DATABASE_URL": settings.database_url,
        "KIZUNA_OUTBOX_DIR": str(settings.outbox_dir),
        "KIZUNA_MESSAGES_DIR": str(settings.messages_dir),
        "KIZUNA_SECRET_KEY": "test-secret",
        "KIZUNA_LINE_BACKEND": "outbox",
        "KIZUNA_EMAIL_BACKEND": "outbox",
        "USER": "sato",
    }


def invoke(env, *args, **options):
    return runner.invoke(app, list(args), env=env, **options)


@pytest.fixture
def subscriber(env) -> str:
    done = invoke(env, "subscribe", "--channel", "email", "--address", ADDRESS,
                  "--birth-date", BORN, "--nickname", "ゆい")  # fmt: skip
    assert done.exit_code == 0, done.output
    return "1"


def test_export_prints_everything_as_json(env, subscriber):
    done = invoke(env, "subscribers", "export", subscriber)
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert (data["subscriber"]["address"], data["subscriber"]["nickname"]) == (ADDRESS, "ゆい")
    assert data["children"][0]["birth_date"] == BORN


def test_export_to_a_file(env, subscriber, tmp_path):
    out = tmp_path / "request.json"
    done = invoke(env, "subscribers", "export", subscriber, "--out", str(out))
    assert done.exit_code == 0 and ADDRESS not in done.stdout  # the data goes to the file only
    assert json.loads(out.read_text(encoding="utf-8"))["subscriber"]["address"] == ADDRESS


def test_forget_asks_first(env, subscriber):
    refused = invoke(env, "subscribers", "forget", subscriber, input="n\n")
    assert refused.exit_code == 1
    assert json.loads(invoke(env, "subscribers", "export", subscriber).stdout)["subscriber"][
        "address"
    ] == ADDRESS  # fmt: skip
    done = invoke(env, "subscribers", "forget", subscriber, input="y\n")
    assert done.exit_code == 0 and "subscriber 1 erased" in done.stdout
    again = invoke(env, "subscribers", "forget", subscriber, "--yes")
    assert "erased before" in again.stdout


def test_every_action_is_in_the_audit_log_under_the_operators_name(env, subscriber):
    invoke(env, "subscribers", "export", subscriber, "--operator", "鈴木")
    invoke(env, "subscribers", "forget", subscriber, "--yes")
    invoke(env, "subscribers", "consents", "--channel", "email", "--address", ADDRESS)
    log = invoke(env, "audit").stdout.splitlines()
    assert [line.split("  ")[1:3] for line in log] == [
        ["operator:鈴木", "export"], ["operator:sato", "forget"],
        ["operator:sato", "consent-lookup"],
    ]  # fmt: skip
    assert ADDRESS not in "\n".join(log)
    assert invoke(env, "audit", "--since", (TODAY + timedelta(days=2)).isoformat()).stdout == ""


def test_the_consent_records_of_an_erased_address(env, subscriber):
    invoke(env, "subscribers", "forget", subscriber, "--yes")
    done = invoke(env, "subscribers", "consents", "--channel", "email",
                  "--address", ADDRESS.upper())  # fmt: skip
    assert [line.split("  ")[1:] for line in done.stdout.splitlines()] == [
        ["subscriber 1", "given", "operator"], ["subscriber 1", "withdrawn"],
        ["subscriber 1", "erased"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "unset", "message"),
    [
        (("subscribers", "export", "1"), "USER", "--operator"),
        (("subscribers", "forget", "1", "--yes"), "KIZUNA_SECRET_KEY", "KIZUNA_SECRET_KEY"),
        (("subscribers", "export", "99"), None, "no subscriber 99"),
        (("subscribers", "consents", "--channel", "email", "--address", "x"), None, "--address"),
    ],
)
def test_refusals_say_why(env, subscriber, args, unset, message):
    environment = {**env, unset: None} if unset else env  # None: unset for the run
    done = invoke(environment, *args)
    assert done.exit_code == 2
    assert message in done.output
