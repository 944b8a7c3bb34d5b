"""Schema migrations and SQLite settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import NOW
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from kizuna.db import alembic_config, create_engine, upgrade
from kizuna.models import Child, Delivery, Subscriber


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


def test_upgrade_is_repeatable(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
        versions = set(versions)
    assert versions == set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def test_sqlite_runs_in_wal_with_foreign_keys(engine):
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def delivery(**fields) -> dict:
    return {
        "subscriber_id": 1, "child_id": 1, "message_id": "m1", "track": "child", "variant": "ja",
        "stage_label": "", "local_date": NOW.date(), "due_at": NOW, "status": "planned",
        "idempotency_key": fields.get("message_id", "m1"), "attempts": 0, "next_attempt_at": NOW,
        "created_at": NOW, **fields,
    }  # fmt: skip


@pytest.fixture
def parent(engine):
    with engine.begin() as connection:
        connection.execute(sa.insert(Subscriber.__table__).values(
            channel="line", address="U1", created_at=NOW, variant="ja", locale="ja",
            status="active", consecutive_failures=0))  # fmt: skip
        connection.execute(sa.insert(Child.__table__).values(status="born", created_at=NOW))
    return engine


def test_one_live_delivery_per_follower_child_and_day(parent):
    table = Delivery.__table__
    with parent.begin() as connection:
        connection.execute(sa.insert(table).values(delivery(status="cancelled")))
        connection.execute(sa.insert(table).values(delivery(message_id="m2")))
    with pytest.raises(IntegrityError), parent.begin() as connection:
        connection.execute(sa.insert(table).values(delivery(message_id="m3")))


def test_one_delivery_per_message(parent):
    table = Delivery.__table__
    with parent.begin() as connection:
        connection.execute(sa.insert(table).values(delivery(status="sent")))
    with pytest.raises(IntegrityError), parent.begin() as connection:
        connection.execute(
            sa.insert(table).values(
                delivery(idempotency_key="other", local_date=NOW.date().replace(day=1))
            )
        )


def test_naive_datetimes_are_refused(parent):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), parent.begin() as connection:
        connection.execute(
            sa.insert(Delivery.__table__).values(delivery(due_at=NOW.replace(tzinfo=None)))
        )


def test_database_errors_never_show_the_values(parent):
    """Errors end up in logs: the engine hides bound values (addresses, dates) in them."""
    row = {"channel": "line", "address": "U1", "created_at": NOW, "variant": "ja",
           "locale": "ja", "status": "active", "consecutive_failures": 0}  # fmt: skip
    with pytest.raises(IntegrityError) as error, parent.begin() as connection:
        connection.execute(sa.insert(Subscriber.__table__).values(**row))
    assert "U1'" not in str(error.value) and "parameters hidden" in str(error.value)
