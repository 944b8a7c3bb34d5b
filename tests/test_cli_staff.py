"""`kizuna municipality staff …` through typer's runner: the link works once, the log names
the operator, never the address."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from kizuna import audit, staff
from kizuna.cli import app
from kizuna.db import create_engine

runner = CliRunner()
LINK = re.compile(r"https://kizuna\.example\.org/staff/password/([A-Za-z0-9_-]+)")
CHEAP = staff.Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def env(settings):
    env = {
        "KIZUNA_DATABASE_URL": settings.database_url, "KIZUNA_SECRET_KEY": "test-secret",
        "KIZUNA_MESSAGES_DIR": str(settings.messages_dir), "USER": "ops-tanaka",
        "KIZUNA_BASE_URL": "https://kizuna.example.org/",
    }  # fmt: skip
    done = runner.invoke(app, ["municipality", "add", "13101", "--name", "千代田区"], env=env)
    assert done.exit_code == 0, done.output
    return env


def invoke(env, *args):
    return runner.invoke(app, ["municipality", "staff", *args], env=env)


def test_add_prints_a_one_time_link_that_sets_the_password(env):
    done = invoke(env, "add", "131016", "hoken@city.example.jp")
    assert done.exit_code == 0, done.output
    token = LINK.search(done.output)[1]
    engine = create_engine(env["KIZUNA_DATABASE_URL"])
    now = datetime.now(UTC)
    member = staff.set_password(engine, CHEAP, token, "a long enough passphrase", now=now)
    assert member.municipality_code == "131016"
    with pytest.raises(staff.PasswordRefused):
        staff.set_password(engine, CHEAP, token, "another long passphrase", now=now)
    [entry] = audit.entries(engine)
    assert (entry.actor, entry.action) == ("operator:ops-tanaka", "staff-add")
    assert "hoken" not in str(entry.detail)
    engine.dispose()


def test_list_link_unlock_remove(env):
    invoke(env, "add", "131016", "hoken@city.example.jp")
    listed = invoke(env, "list", "131016")
    assert "hoken@city.example.jp" in listed.output and "no" in listed.output
    again = invoke(env, "link", "1")
    assert again.exit_code == 0 and LINK.search(again.output)
    assert invoke(env, "unlock", "1").exit_code == 0
    assert invoke(env, "remove", "1").exit_code == 0
    assert "hoken" not in invoke(env, "list", "131016").output
    engine = create_engine(env["KIZUNA_DATABASE_URL"])
    actions = [e.action for e in audit.entries(engine)]
    engine.dispose()
    assert actions == ["staff-add", "staff-link", "staff-unlock", "staff-remove"]
    shown = runner.invoke(app, ["audit"], env=env).output  # what the operator reads
    assert "operator:ops-tanaka" in shown and "staff-unlock" in shown and "hoken" not in shown


@pytest.mark.parametrize(
    ("args", "problem"),
    [(("add", "131016", "not-an-address"), "valid email"),
     (("add", "011011", "x@city.example.jp"), "no municipality"),
     (("remove", "9"), "no staff member 9"), (("unlock", "9"), "no staff member 9"),
     (("link", "9"), "no staff member 9"), (("list", "011011"), "no municipality")],
)  # fmt: skip
def test_refusals(env, args, problem):
    done = invoke(env, *args)
    assert done.exit_code != 0 and problem in done.output
