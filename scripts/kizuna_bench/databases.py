"""The databases under test: a SQLite file and a throw-away PostgreSQL cluster, loaded in bulk."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from kizuna.db import create_engine, upgrade
from kizuna_bench.population import (
    CHILD_COLUMNS,
    FOLLOW_COLUMNS,
    MUNICIPALITY_COLUMNS,
    SUBSCRIBER_COLUMNS,
    Generator,
)
from kizuna_bench.processes import free_port

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime on SQLite


@dataclass(frozen=True)
class Target:
    """One database: its kind, its SQLAlchemy URL and how to reach it without SQLAlchemy."""

    kind: str  # "sqlite" | "postgresql"
    url: str
    path: Path | None = None  # SQLite's file
    dsn: str = ""  # psycopg's connection string
    server_pid: int = 0  # PostgreSQL's postmaster, sampled with its backends
    files: Path | None = None  # PostgreSQL: the cluster's folder

    def warm(self) -> None:
        """Read the database's files once, so that the kernel has them in its cache.

        Between stages this machine drops cold pages from the cache: whichever stage came
        first paid for reading them back (the bare SQLite insert after the dispatch stages
        took 3.7-4.7 s instead of 1.4 s). Every stage that uses the database starts warm.
        """
        if self.path is not None:
            paths = [self.path, self.path.with_name(f"{self.path.name}-wal")]
        else:
            paths = sorted(self.files.rglob("*")) if self.files is not None else []
        for path in paths:
            if not path.is_file():
                continue
            try:
                with path.open("rb", buffering=0) as file:
                    while file.read(1 << 20):
                        pass
            except OSError:  # a file PostgreSQL removed meanwhile, or one it keeps to itself
                continue

    def connect(self):
        """A raw DB-API connection (sqlite3 or psycopg)."""
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            return connection
        import psycopg

        return psycopg.connect(self.dsn, autocommit=True)


def sqlite_target(workdir: Path) -> Target:
    path = workdir / "kizuna.db"
    for stale in workdir.glob("kizuna.db*"):
        stale.unlink()
    return Target("sqlite", f"sqlite:///{path}", path=path)


class PostgresCluster:
    """initdb + pg_ctl in a temporary folder (Debian's binaries); as root, run as `postgres`."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not found:
            raise RuntimeError("PostgreSQL server binaries not found (Debian package postgresql)")
        self.bin = Path(found[-1]).parent
        self.port = free_port()
        self.data = Path(tempfile.mkdtemp(prefix="kizuna-bench-pg-")) / "data"
        self.pid = 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.data.parent, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C")  # fmt: skip
        # Durability as shipped (fsync on); memory a little above the tiny default.
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
                   "-c shared_buffers=256MB -c max_wal_size=4GB")  # fmt: skip
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data / "log"),
                  "-w", "start")  # fmt: skip
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.data.parent, ignore_errors=True)

    def target(self, name: str) -> Target:
        import psycopg

        base = f"host=127.0.0.1 port={self.port} user=postgres"
        with psycopg.connect(f"{base} dbname=postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
        return Target("postgresql", url, dsn=f"{base} dbname={name}", server_pid=self.pid,
                      files=self.data)  # fmt: skip


def create_schema(target: Target) -> None:
    """Kizuna's own schema, by its own migrations."""
    engine = create_engine(target.url)
    upgrade(engine)
    engine.dispose()


def load(target: Target, generator: Generator) -> None:
    """Write the whole population with bulk inserts (executemany on SQLite, COPY on PostgreSQL)."""
    tables = [("subscriber", SUBSCRIBER_COLUMNS), ("child", CHILD_COLUMNS),
              ("follow", FOLLOW_COLUMNS)]  # fmt: skip
    connection = target.connect()
    try:
        write = _write_sqlite if target.kind == "sqlite" else _write_postgresql
        write(connection, "municipality", MUNICIPALITY_COLUMNS, generator.municipalities())
        for chunk in generator.chunks():
            for (table, columns), rows in zip(
                tables, (chunk.subscribers, chunk.children, chunk.follows), strict=True
            ):
                write(connection, table, columns, rows)
        if target.kind == "postgresql":
            for table in ("subscriber", "child", "follow"):
                connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        connection.execute("ANALYZE")
    finally:
        connection.close()


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime(SQLITE_DATETIME)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _write_sqlite(connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    marks = ", ".join("?" * len(columns))
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    connection.execute("BEGIN")
    connection.executemany(statement, [tuple(map(_sqlite_value, row)) for row in rows])
    connection.execute("COMMIT")


def _write_postgresql(connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
