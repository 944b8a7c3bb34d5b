"""`kizuna messages …`: the editors' commands over the message files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kizuna.config import Settings
from kizuna.content import Problem, check_files, message_files

messages_app = typer.Typer(
    help="Message content: validate (more for editors to come).", no_args_is_help=True
)
console = Console(highlight=False)


@messages_app.command()
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Messages folders or files.")] = None,
) -> None:
    """Check message files: schema, templates on every channel, LINE limits, clashes, variants."""
    targets = paths or [Settings().messages_dir]
    problems: list[Problem] = []
    count = unreviewed = 0
    for target in targets:
        if target.is_dir():
            messages, found = check_files(message_files(target), root=target)
        elif target.is_file():
            messages, found = check_files([target], root=Path.cwd(), across=False)
        else:
            messages, found = [], [Problem(str(target), 0, "no such file or folder")]
        problems.extend(found)
        count += len(messages)
        unreviewed += sum(not m.reviewed for m in messages)
    for problem in sorted(problems):
        console.print(f"[red]error[/red] {problem}")
    console.print(
        f"{count} message files checked, {len(problems)} problems, {unreviewed} unreviewed"
    )
    if problems:
        raise typer.Exit(1)
