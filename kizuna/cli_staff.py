"""`kizuna municipality staff …`: the staff console's accounts (thin over kizuna.staff); each
change is written to the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.table import Table

from kizuna import audit, municipalities, staff
from kizuna.cli_support import console, errors, fail, settings
from kizuna.config import Settings
from kizuna.db import create_engine, upgrade

staff_app = typer.Typer(
    help="Staff console accounts: add, list, remove, unlock, new password link.",
    no_args_is_help=True,
)
CodeArgument = Annotated[str, typer.Argument(help="6-digit local government code (or 5 digits)")]
IdArgument = Annotated[int, typer.Argument(help="The staff member's id (see `staff list`)")]
Operator = Annotated[
    str | None,
    typer.Option(envvar="USER", help="Who does this (for the audit log; default $USER)"),
]


def engine_of(config: Settings) -> sa.Engine:
    engine = create_engine(config.database_url)
    upgrade(engine)
    return engine


def link_url(config: Settings, token: str) -> str:
    return f"{config.base_url.rstrip('/')}/staff/password/{token}"


def note(engine: sa.Engine, operator: str | None, action: str, **detail: int | str) -> None:
    who = audit.operator_actor((operator or "").strip() or "unknown")
    with engine.begin() as connection:
        audit.record(connection, actor=who, action=action, at=datetime.now(UTC), detail=detail)


def show_link(config: Settings, token: str) -> None:
    console.print(f"first-password link: {link_url(config, token)}")
    errors.print(
        f"give it to the staff member yourself: it works once, for "
        f"{int(staff.LINK_LIFETIME.total_seconds() // 3600)} hours, and is not stored"
    )


@staff_app.command("add")
def add(
    code: CodeArgument,
    email: Annotated[str, typer.Argument(help="Their work email address: the sign-in name")],
    operator: Operator = None,
) -> None:
    """Add a staff member to a municipality's console; prints their one-time password link."""
    config = settings()
    engine = engine_of(config)
    try:
        member, token = staff.add(engine, code, email, now=datetime.now(UTC))
    except (staff.StaffError, municipalities.MunicipalityError) as error:
        raise fail(str(error)) from None
    note(engine, operator, "staff-add", staff=member.id, municipality=member.municipality_code)
    console.print(f"staff member {member.id} added to {member.municipality_code}")
    show_link(config, token)


@staff_app.command("list")
def list_staff(code: CodeArgument) -> None:
    """List a municipality's staff members (never their passwords)."""
    try:
        found = staff.members(engine_of(settings()), code)
    except municipalities.MunicipalityError as error:
        raise fail(str(error)) from None
    now = datetime.now(UTC)
    table = Table("id", "email", "password set", "locked")
    for member in found:
        locked = member.locked_until.isoformat(timespec="minutes") if member.locked(now) else ""
        table.add_row(str(member.id), member.email, "yes" if member.has_password else "no", locked)
    console.print(table)


@staff_app.command("remove")
def remove(staff_id: IdArgument, operator: Operator = None) -> None:
    """Remove a staff member: their sessions and links stop working at once."""
    engine = engine_of(settings())
    if not staff.remove(engine, staff_id):
        raise fail(f"no staff member {staff_id}")
    note(engine, operator, "staff-remove", staff=staff_id)
    console.print(f"staff member {staff_id} removed")


@staff_app.command("unlock")
def unlock(staff_id: IdArgument, operator: Operator = None) -> None:
    """Lift a lock-out after too many wrong passwords."""
    engine = engine_of(settings())
    if not staff.unlock(engine, staff_id):
        raise fail(f"no staff member {staff_id}")
    note(engine, operator, "staff-unlock", staff=staff_id)
    console.print(f"staff member {staff_id} unlocked")


@staff_app.command("link")
def link(staff_id: IdArgument, operator: Operator = None) -> None:
    """A new one-time password link (a forgotten password); older links stop working."""
    config = settings()
    engine = engine_of(config)
    try:
        token = staff.password_link(engine, staff_id, now=datetime.now(UTC))
    except staff.StaffError as error:
        raise fail(str(error)) from None
    note(engine, operator, "staff-link", staff=staff_id)
    show_link(config, token)
