"""Writing many delivery rows at once, by each database's own bulk path.

Planning writes tens of thousands of rows a day. Through SQLAlchemy's per-row parameter
handling that costs several times the insert itself, so rows are converted once by the
column types' own bind processors (the stored form is exactly SQLAlchemy's) and written by
multi-row INSERT … RETURNING (SQLite) or by COPY into a temporary table and one INSERT …
SELECT … RETURNING (PostgreSQL). Rows that meet a unique constraint are skipped, as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import cache

import sqlalchemy as sa

from kizuna.driver_rows import Converted, by_column
from kizuna.models import Delivery

DELIVERY = Delivery.__table__
INSERT_COLUMNS = (
    "subscriber_id", "child_id", "message_id", "track", "variant", "fallback_from",
    "stage_label", "local_date", "due_at", "status", "idempotency_key", "attempts",
    "next_attempt_at", "created_at", "from_municipality",
)  # fmt: skip
COLUMN_LIST = ", ".join(INSERT_COLUMNS)
KEY = INSERT_COLUMNS.index("idempotency_key")
STAGING = "delivery_new"  # PostgreSQL: a temporary table of the session


def insert_deliveries(connection: sa.Connection, rows: Sequence[tuple]) -> set[str]:
    """Insert `rows` (Python values in INSERT_COLUMNS order) in the connection's transaction,
    skipping any that conflict; returns the idempotency keys of the rows inserted."""
    if not rows:
        return set()
    if connection.dialect.name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no bulk insert for {connection.dialect.name}")
    values = _bound(connection.dialect, rows)
    if connection.dialect.name == "postgresql":
        return _copy(connection, values)
    return _values_insert(connection, values)  # SQLite


@cache
def _processors(dialect: sa.Dialect) -> tuple[Callable | None, ...]:
    return tuple(
        DELIVERY.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in INSERT_COLUMNS
    )


def _bound(dialect: sa.Dialect, rows: Sequence[tuple]) -> list[tuple]:
    """Each value as the driver takes it (aware times to naive UTC, dates to text on SQLite).

    A day's rows share a few hundred due times and one creation time: each distinct value is
    converted once (`driver_rows.by_column`).
    """
    processors = enumerate(_processors(dialect))
    return by_column(rows, {i: Converted(p) for i, p in processors if p is not None})


def _values_insert(connection: sa.Connection, values: list[tuple]) -> set[str]:
    """Multi-row INSERT … RETURNING, as many rows per statement as SQLite takes parameters:
    a row that meets a conflict returns nothing, so what returns is exactly what was new."""
    raw = connection.connection.dbapi_connection
    per_statement = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(INSERT_COLUMNS)
    inserted: set[str] = set()
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        sql = _values_sql(len(chunk))
        cursor = raw.cursor()
        try:
            cursor.execute(sql, [value for row in chunk for value in row])
            inserted.update(key for (key,) in cursor.fetchall())
        finally:
            cursor.close()
    return inserted


@cache
def _values_sql(rows: int) -> str:
    one = "(" + ", ".join("?" * len(INSERT_COLUMNS)) + ")"
    return (f"INSERT INTO delivery ({COLUMN_LIST}) VALUES {', '.join([one] * rows)} "
            "ON CONFLICT DO NOTHING RETURNING idempotency_key")  # fmt: skip


def _copy(connection: sa.Connection, values: list[tuple]) -> set[str]:
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} ON COMMIT DELETE ROWS AS "
            f"SELECT {COLUMN_LIST} FROM delivery WITH NO DATA"
        )
        with cursor.copy(f"COPY {STAGING} ({COLUMN_LIST}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO delivery ({COLUMN_LIST}) SELECT {COLUMN_LIST} FROM {STAGING} "
            "ON CONFLICT DO NOTHING RETURNING idempotency_key"
        )
        inserted = {row[0] for row in cursor.fetchall()}
        # Emptied now, not only at commit: a dry run plans every batch in one transaction.
        cursor.execute(f"TRUNCATE {STAGING}")
        return inserted
    finally:
        cursor.close()
