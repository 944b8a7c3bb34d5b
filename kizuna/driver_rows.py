"""Many rows of a select, read straight from the database driver's cursor.

SQLAlchemy builds the statement and converts its parameters; the rows are then fetched from
the driver's own cursor (server-side on PostgreSQL, so they still come batch by batch), and
each column is converted by SQLAlchemy's own result processor once per distinct value.
Planning reads about 100,000 candidate rows at 1,000,000 subscribers, and SQLAlchemy's
handling of each row cost more than the database's work for it (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import sqlalchemy as sa

CURSOR_NAME = "kizuna_driver_rows"  # PostgreSQL: the transaction's server-side cursor


def stream(
    connection: sa.Connection, statement: sa.Select, batch_size: int
) -> Iterator[list[tuple]]:
    """The rows of `statement` as tuples of converted values, `batch_size` at a time.

    On PostgreSQL the caller's connection must be in a transaction (a server-side cursor
    lives in one)."""
    dialect = connection.dialect
    state = statement.compile(dialect=dialect).construct_expanded_state()
    processors = state.processors
    params = {name: processors[name](value) if name in processors else value
              for name, value in state.parameters.items()}  # fmt: skip
    raw = connection.connection.dbapi_connection
    if dialect.name == "postgresql":
        cursor = raw.cursor(name=CURSOR_NAME)
        cursor.execute(state.statement, params)
    else:
        cursor = raw.cursor()
        cursor.execute(state.statement, [params[name] for name in state.positiontup or ()])
    try:
        convert = _converter(statement, dialect, cursor.description)
        while rows := cursor.fetchmany(batch_size):
            yield convert(rows)
    finally:
        cursor.close()


def _converter(
    statement: sa.Select, dialect: sa.Dialect, description: Sequence[Sequence]
) -> Callable[[list[tuple]], list[tuple]]:
    """Each column through its type's result processor, a distinct value converted once."""
    caches = {
        i: Converted(process)
        for i, (column, described) in enumerate(
            zip(statement.selected_columns, description, strict=True)
        )
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, described[1]))
    }
    return lambda rows: by_column(rows, caches)


def by_column(rows: Sequence[tuple], caches: dict[int, Converted]) -> list[tuple]:
    """`rows` with column i converted through `caches[i]`, column by column (the loops run
    in C: converting row by row cost 4 µs a row)."""
    if not caches or not rows:
        return list(rows)
    columns: list[Iterable] = list(zip(*rows, strict=True))
    for i, cache in caches.items():
        columns[i] = map(cache.__getitem__, columns[i])
    return list(zip(*columns, strict=True))


class Converted(dict):
    """A conversion remembered per distinct value: `converted[value]` converts it on first
    use. Bulk reads and writes meet the same few thousand dates and times again and again
    (here, and for binding in `kizuna.bulk_insert`)."""

    def __init__(self, process: Callable) -> None:
        super().__init__()
        self.process = process

    def __missing__(self, value: object) -> object:
        converted = self[value] = self.process(value)
        return converted
