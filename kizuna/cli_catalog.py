"""`kizuna messages review …`, `export` and `import`: approvals and the CSV exchange."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kizuna import catalog_csv, review
from kizuna.cli_support import console, errors, fail, settings, today
from kizuna.content import check_files, message_files

review_app = typer.Typer(help="Expert approvals bound to each body's hash.", no_args_is_help=True)


@review_app.command("approve")
def review_approve(
    message_id: Annotated[str, typer.Argument(metavar="ID", help="The message id.")],
    reviewer: Annotated[str, typer.Option(help="The reviewer's name.")],
    role: Annotated[review.ReviewerRole, typer.Option(help="The reviewer's expertise.")],
    variant: Annotated[
        list[str] | None, typer.Option(help="Only this variant (repeatable; default: all).")
    ] = None,
    note: str = "",
    on: Annotated[date | None, typer.Option("--date", formats=["%Y-%m-%d"])] = None,
) -> None:
    """Record an approval of the current body (its hash) in the message's files."""
    config = settings()
    approval = review.Approval(reviewer, role, on or today(config.timezone), note)
    try:
        written = review.approve(config.messages_dir, message_id, approval, variants=variant or ())
    except review.ReviewError as error:
        raise fail(str(error)) from None
    for path in written:
        console.print(f"approved: {path}", markup=False)
    if not written:
        console.print("already approved by this reviewer: nothing changed")


@review_app.command("status")
def review_status() -> None:
    """List the message variants waiting for review, and for whom."""
    root = settings().messages_dir
    messages, _ = check_files(message_files(root), root=root, across=False)
    found = review.waiting(messages)
    table = Table("waits for", "message", "variant", "state", "approved before by")
    for item in found:
        table.add_row(" or ".join(item.roles), item.message.id, item.message.variant,
                      str(item.state), item.previous)  # fmt: skip
    console.print(table)
    by_roles = Counter(" or ".join(item.roles) for item in found)
    for roles, count in sorted(by_roles.items()):
        console.print(f"waiting for {roles}: {count}")
    console.print(f"{len(found)} of {len(messages)} message files wait for review")


def export_csv(
    output: Annotated[
        Path | None, typer.Argument(help="CSV file (default: standard output).")
    ] = None,
) -> None:
    """Write the whole catalog as CSV, one row per message and variant."""
    rows = catalog_csv.export_rows(settings().messages_dir)
    if output is None:
        catalog_csv.write_csv(rows, sys.stdout)
        return
    with output.open("w", encoding="utf-8-sig", newline="") as handle:  # BOM: for Excel
        catalog_csv.write_csv(rows, handle)
    errors.print(f"{len(rows)} rows written to {output}")


def import_csv(
    source: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="A CSV written by `kizuna messages export`."
        ),
    ],
    dry_run: Annotated[bool, typer.Option(help="Say what would change; write nothing.")] = False,
) -> None:
    """Update message files from CSV: only what changed; nothing if any row has a problem."""
    root = settings().messages_dir
    with source.open(encoding="utf-8-sig", newline="") as handle:
        try:
            rows = catalog_csv.read_csv(handle)
        except ValueError as error:
            raise fail(str(error)) from None
    plan = catalog_csv.plan_import(root, rows)
    for problem in sorted(plan.problems):
        console.print(f"[red]error[/red] {escape(str(problem))}")
    for path in sorted([*plan.changed, *plan.created]):
        console.print(f"{'new' if path in plan.created else 'changed'}: {path.relative_to(root)}")
    console.print(
        f"{len(plan.changed)} changed, {len(plan.created)} new, {plan.unchanged} unchanged"
    )
    if plan.problems:
        raise fail("nothing written", 1)
    if not dry_run:
        catalog_csv.apply(plan)
