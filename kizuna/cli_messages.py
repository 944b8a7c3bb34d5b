"""`kizuna messages …`: the editors' commands over the message files (thin over the library)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from kizuna import coverage, easy_japanese, editing, furigana, preview
from kizuna.cli_catalog import export_csv, import_csv, review_app
from kizuna.cli_support import DateOption, Paths, console, fail, settings, today
from kizuna.config import Settings
from kizuna.content import check_files, message_files
from kizuna.core.catalog import Audience, Role
from kizuna.core.stage import Track
from kizuna.core.status import ChannelName
from kizuna.db import create_engine
from kizuna.line_body import TEXT_MAX_UTF16, utf16_length
from kizuna.rendering import RenderContext, Renderer
from kizuna.runtime import mail_composer

messages_app = typer.Typer(
    help="Message content: write, validate, preview, review, lint and exchange it.",
    no_args_is_help=True,
)


@messages_app.command("new")
def new(
    track: Annotated[Track, typer.Option(help="pregnancy, child or loss")],
    at: Annotated[str, typer.Option(help="When it is due: 12w3d, d14, 3m, 1y6m …")],
    variant: Annotated[str, typer.Option(help="ja or ja-easy")] = "ja",
    audience: Audience = Audience.EVERYONE,
    category: Annotated[
        str | None, typer.Option(help="Default: the other variant's, else by track.")
    ] = None,
    title: str = "（見出し）",
    municipality: Annotated[
        str | None, typer.Option(help="A municipality's own message: its 6-digit code.")
    ] = None,
) -> None:
    """Scaffold a message file with complete front matter; refuses a clash with another."""
    root = settings().messages_dir
    request = editing.NewMessage(track, at, variant, audience, category, title, municipality)
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
        console.print(f"[red]error[/red] {escape(str(problem))}")
    console.print(
        f"{len(checked.messages)} message files checked, {len(checked.problems)} problems, "
        f"{checked.unreviewed} unreviewed"
    )
    if checked.problems:
        raise typer.Exit(1)


@messages_app.command("preview")
def preview_message(
    at: Annotated[str | None, typer.Option(help="A timing (12w3d, d14, 3m) on --track.")] = None,
    track: Annotated[Track | None, typer.Option(help="With --at; default from its form.")] = None,
    due_date: DateOption = None,
    birth_date: DateOption = None,
    on: Annotated[
        date | None,
        typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help="Default: today."),
    ] = None,
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
    catalog = editing.loose_catalog(config.messages_dir, config.variant_fallbacks)
    day = on or today(config.timezone)
    try:
        found = preview.find(
            catalog, on=day, variant=variant, at=at, track=track,
            due_date=due_date, birth_date=birth_date, role=role,
        )  # fmt: skip
        name = municipality_name(config, municipality) if municipality else ""
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


def municipality_name(config: Settings, code: str) -> str:
    engine = create_engine(config.database_url)
    try:
        return preview.municipality_name(engine, code)
    finally:
        engine.dispose()


def show_line(found: preview.Found, context: RenderContext) -> None:
    try:
        body = preview.line_push(Renderer(), found, context)
    except ValueError as error:
        raise fail(f"LINE would refuse this: {error}", 1) from None
    text = body["messages"][0]["text"]  # type: ignore[index]
    console.rule("LINE")
    typer.echo(text)  # as sent: not wrapped to the terminal
    console.rule(f"{utf16_length(text)} of {TEXT_MAX_UTF16} UTF-16 units")


def show_email(
    config: Settings, found: preview.Found, context: RenderContext, html: Path | None
) -> None:
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
    try:
        exceptions = furigana.load_exceptions(config.messages_dir / furigana.EXCEPTIONS_FILE)
    except (ValueError, yaml.YAMLError) as error:
        raise fail(str(error)) from None
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


# Registered last, so that `--help` lists them after the writing commands.
messages_app.add_typer(review_app, name="review")
messages_app.command("export")(export_csv)
messages_app.command("import")(import_csv)
