"""Searching every column of every table for personal values (the tests of erasure)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa


def date_forms(day: date) -> list[str]:
    """A date as people and programs write it: ISO, slashes, compact, Japanese, English."""
    return [
        day.isoformat(), day.strftime("%Y/%m/%d"), day.strftime("%Y%m%d"),
        f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%B %-d, %Y"), day.strftime("%d.%m.%Y"), day.strftime("%m/%d/%Y"),
        f"datetime.date({day.year}, {day.month}, {day.day})",
    ]  # fmt: skip


def stored_values(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every non-null value in the database."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    found = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is not None:
                        found.append((table.name, column, str(value)))
    return found


def traces(engine: sa.Engine, needles: list[str]) -> list[tuple[str, str, str]]:
    """Where any of `needles` appears in the database: (table, column, needle)."""
    return [
        (table, column, needle)
        for table, column, text in stored_values(engine)
        for needle in needles
        if needle and needle.casefold() in text.casefold()
    ]
