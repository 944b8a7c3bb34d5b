"""What every `kizuna messages …` command shares: settings, errors, today's date, output."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from kizuna.config import Settings

console = Console(highlight=False, soft_wrap=True)  # file:line lines stay whole for grep
errors = Console(stderr=True, highlight=False)

DateOption = Annotated[date | None, typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD")]
Paths = Annotated[
    list[Path] | None, typer.Argument(help="Messages folders or files (default: the library).")
]


def settings() -> Settings:
    """Settings from the environment; a bad variable is named, then exit 2."""
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = "KIZUNA_" + str(problem["loc"][0]).upper()
            errors.print(f"[red]configuration[/red] {name}: {problem['msg']}")
        raise typer.Exit(2) from None


def fail(text: str, code: int = 2) -> typer.Exit:
    """Print an error; the caller raises what this returns."""
    errors.print(f"[red]error[/red] {escape(text)}")
    return typer.Exit(code)


def today(timezone: str) -> date:
    """The local date: the one clock read, at the entry point."""
    return datetime.now(ZoneInfo(timezone)).date()
