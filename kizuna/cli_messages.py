"""`kizuna messages …`: the editors' commands over the message files (thin over the library)."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from kizuna import catalog_csv, coverage, easy_japanese, editing, furigana, preview, review
from kizuna.config import Settings
from kizuna.content import check_files, message_files
from kizuna.core.catalog import Audience, Catalog, Role
from kizuna.core.stage import Track
from kizuna.core.status import ChannelName
from kizuna.db import create_engine
from kizuna.rendering import Renderer
from kizuna.runtime import mail_composer

messages_app = typer.Typer(
    help="Message content: write, validate, preview, review, lint and exchange it.",
    no_args_is_help=True,
)
review_app = typer.Typer(help="Expert approvals bound to each body's hash.", no_args_is_help=True)
messages_app.add_typer(review_app, name="review")
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

DateOption = Annotated[date | None, typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD")]
Paths = Annotated[
    list[Path] | None, typer.Argument(help="Messages folders or files (default: the library).")
]


def settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = "KIZUNA_" + str(problem["loc"][0]).upper()
            errors.print(f"[red]configuration[/red] {name}: {problem['msg']}")
        raise typer.Exit(2) from None


def fail(text: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]error[/red] {text}")
    return typer.Exit(code)


def today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


@messages_app.command("new")
def new(
    track: Annotated[Track, typer.Option(help="pregnancy, child or loss")],
    at: Annotated[str, typer.Option(help="When it is due: 12w3d, d14, 3m, 1y6m …")],
    variant: Annotated[str, typer.Option(help="ja or ja-easy")] = "ja",
    audience: Audience = Audience.EVERYONE,
    category: Annotated[str | None, typer.Option(help="Default: the other variant's.")] = None,
    title: str = "（見出し）",
) -> None:
    """Scaffold a message file with complete front matter; refuses a clash with another."""
    root = settings().messages_dir
    request = editing.NewMessage(track, at, variant, audience, category, title)
    try:
        path = editing.scaffold(root, request)
    except (ValueError, editing.ScaffoldError, FileExistsError) as error:
        raise fail(str(error)) from None
    console.print(f"wrote {path}")
    console.print("next: add its sources, write the body, then `kizuna messages validate`")


@messages_app.command()
def validate(paths: Paths = None) -> None:
    """Check message files: schema, templates on every channel, LINE limits, clashes, variants,
    sources and review freshness (a body changed after approval needs re-review)."""
    checked = editing.validate(paths or [settings().messages_dir])
    for problem in checked.problems:
        console.print(f"[red]error[/red] {problem}")
    console.print(
        f"{len(checked.messages)} message files checked, {len(checked.problems)} problems, "
        f"{checked.unreviewed} unreviewed"
    )
    if checked.problems:
        raise typer.Exit(1)


def load_catalog_loosely(config: Settings) -> Catalog:
    """Every message that parses: a preview should not wait for unrelated files to be fixed."""
    messages, _ = check_files(message_files(config.messages_dir), root=config.messages_dir)
    chains = {v: tuple(chain) for v, chain in config.variant_fallbacks.items()}
    return Catalog(messages=messages, fallbacks=chains)


@messages_app.command("preview")
def preview_message(
    at: Annotated[str | None, typer.Option(help="A timing (12w3d, d14, 3m) on --track.")] = None,
    track: Annotated[Track | None, typer.Option(help="With --at; default from its form.")] = None,
    due_date: DateOption = None,
    birth_date: DateOption = None,
    on: Annotated[date | None, typer.Option(formats=["%Y-%m-%d"], help="Default: today.")] = None,
    variant: str = "ja",
    channel: ChannelName = ChannelName.LINE,
    role: Annotated[Role, typer.Option(help="The follower's role (with dates).")] = Role.PARENT,
    nickname: str = "",
    municipality: Annotated[
        str | None,
        typer.Option(
            help="6-digit code: fills in the municipality's name from the database. Its local "
            "information is not stored yet, so the general wording is shown."
        ),
    ] = None,
    html: Annotated[Path | None, typer.Option(help="Where to write the email's HTML.")] = None,
) -> None:
    """Show exactly what a subscriber would receive: the LINE text, or the email (text + HTML)."""
    config = settings()
    catalog, day = load_catalog_loosely(config), on or today(config.timezone)
    try:
        found = preview.find(
            catalog, on=day, variant=variant, at=at, track=track,
            due_date=due_date, birth_date=birth_date, role=role,
        )  # fmt: skip
        name = ""
        if municipality:
            name = preview.municipality_name(create_engine(config.database_url), municipality)
    except (preview.PreviewError, ValueError) as error:
        raise fail(str(error)) from None
    context = preview.context_for(found, channel, nickname=nickname, municipality_name=name)
    message = found.message
    console.print(
        f"[bold]{message.id}[/bold] ({message.variant}, {message.path}) {found.stage_label}"
    )
    if found.fallback_from:
        console.print(f"no {found.fallback_from} variant: the {message.variant} text is sent")
    if not message.reviewed:
        console.print("[yellow]unreviewed[/yellow]: not sent unless KIZUNA_ALLOW_UNREVIEWED=true")
    if channel is ChannelName.LINE:
        show_line(found, context)
    else:
        show_email(config, found, context, html)


def show_line(found: preview.Found, context) -> None:
    try:
        body = preview.line_push(Renderer(), found, context)
    except ValueError as error:
        raise fail(f"LINE would refuse this: {error}", 1) from None
    text = body["messages"][0]["text"]  # type: ignore[index]
    console.rule("LINE")
    typer.echo(text)  # as sent: not wrapped to the terminal
    console.rule(f"{len(text.encode('utf-16-le')) // 2} of 5000 UTF-16 units")


def show_email(config: Settings, found: preview.Found, context, html: Path | None) -> None:
    composer = mail_composer(config)  # the composer every real mail goes through
    mail = preview.email(Renderer(), composer, found, context, datetime.now(UTC))
    for header in ("From", "To", "Subject"):
        console.print(f"{header}: {mail[header]}", markup=False)
    console.rule("text")
    typer.echo(mail.get_body(("plain",)).get_content().rstrip("\n"))
    target = html or Path.cwd() / f"preview-{found.message.id}.{found.message.variant}.html"
    target.write_text(mail.get_body(("html",)).get_content(), encoding="utf-8")
    console.rule()
    console.print(f"HTML: {target.resolve()}")


@messages_app.command("coverage")
def coverage_table(
    track: Annotated[Track | None, typer.Option(help="Only this track.")] = None,
    png: Annotated[Path, typer.Option(help="Where to write the timeline.")] = Path(
        "kizuna-coverage.png"
    ),
) -> None:
    """Which days of each track and variant have a message, and the gaps: a table and a PNG."""
    root = settings().messages_dir
    messages, _ = check_files(message_files(root), root=root, across=False)
    rows = coverage.coverage(messages, track=track)
    if not rows:
        raise fail("no messages")
    table = Table("track", "variant", "messages", "first", "last", "gaps", "missing here")
    for row in rows:
        gaps = ", ".join(f"{g.after}→{g.before} ({g.days} days)" for g in row.gaps) or "none"
        missing = ", ".join(map(str, row.missing)) or "none"
        table.add_row(str(row.track), row.variant, str(len(row.timings)),
                      str(row.timings[0]), str(row.timings[-1]), gaps, missing)  # fmt: skip
    console.print(table)
    console.print(f"timeline: {coverage.write_timeline(rows, png).resolve()}")


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
        console.print(f"approved: {path}")
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


@messages_app.command("lint-easy")
def lint_easy(
    paths: Paths = None,
    notes: Annotated[bool, typer.Option(help="Also list notes (loanwords).")] = False,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
) -> None:
    """Check ja-easy messages against the やさしい日本語 guideline (2020) and score readability."""
    config = settings()
    checked = editing.read_targets(paths or [config.messages_dir], across=False)
    summary = easy_japanese.lint_all(
        checked.messages,
        tagger=furigana.make_tagger(),
        readability_min=config.easy_readability_min,
    )
    for report in summary.reports:
        for finding in report.findings:
            if notes or finding.severity is not easy_japanese.Severity.NOTE:
                console.print(str(finding), markup=False)
    scores, count = summary.scores, summary.count
    console.print(
        f"{len(scores)} ja-easy files: {count(easy_japanese.Severity.ERROR)} errors, "
        f"{count(easy_japanese.Severity.WARNING)} warnings, "
        f"{count(easy_japanese.Severity.NOTE)} notes; readability mean "
        f"{sum(scores) / max(len(scores), 1):.2f}, lowest {min(scores, default=0):.2f} "
        f"(warning below {config.easy_readability_min}, KIZUNA_EASY_READABILITY_MIN)"
    )
    if count(easy_japanese.Severity.ERROR) or (strict and count(easy_japanese.Severity.WARNING)):
        raise typer.Exit(1)


@messages_app.command("furigana")
def add_furigana(
    paths: Annotated[list[Path] | None, typer.Argument(help="Message files or folders.")] = None,
    text: Annotated[str | None, typer.Option(help="Annotate this text instead.")] = None,
    show: Annotated[furigana.Form, typer.Option(help="As markup, as LINE shows it, or HTML.")] = (
        furigana.Form.MARKUP
    ),
    write: Annotated[bool, typer.Option(help="Rewrite the files' bodies with markup.")] = False,
) -> None:
    """Add readings to kanji (UniDic; okurigana left out; messages/furigana-exceptions.yml)."""
    config = settings()
    exceptions = furigana.load_exceptions(config.messages_dir / furigana.EXCEPTIONS_FILE)
    tagger = furigana.make_tagger()
    if text is not None:
        typer.echo(show.show(furigana.annotate(text, tagger, exceptions).text))
        return
    if not paths:
        raise fail("give message files or folders, or --text")
    changed = furigana.annotate_files(paths, tagger, exceptions, write=write)
    for path, result in changed:
        console.rule(str(path))
        typer.echo(show.show(result.text))
        if result.unread:
            console.print(f"no reading for: {'、'.join(result.unread)}")
    verb = "rewritten (reviewed ones now need re-review)" if write else "would change"
    console.print(f"{len(changed)} files {verb}")


@messages_app.command("export")
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


@messages_app.command("import")
def import_csv(
    source: Annotated[Path, typer.Argument(help="A CSV written by `kizuna messages export`.")],
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
        console.print(f"[red]error[/red] {problem}")
    for path in sorted([*plan.changed, *plan.created]):
        console.print(f"{'new' if path in plan.created else 'changed'}: {path.relative_to(root)}")
    console.print(
        f"{len(plan.changed)} changed, {len(plan.created)} new, {plan.unchanged} unchanged"
    )
    if plan.problems:
        raise fail("nothing written", 1)
    if not dry_run:
        catalog_csv.apply(plan)
