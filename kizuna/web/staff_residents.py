"""Resident lists in the staff console: upload, every bad row shown by line, then confirm.

Nothing is enrolled by the upload: it is a dry run of kizuna.enrollment, kept server-side
(kizuna.staff_uploads) so that the confirmation enrolls exactly what was checked. Pages show
counts and problems only, never the residents themselves.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from kizuna import enrollment, staff_uploads
from kizuna.core.status import ChannelName
from kizuna.resident_list import ListError, read_csv
from kizuna.web.invitation_mail import send_invitations
from kizuna.web.pages import site
from kizuna.web.staff_auth import S_, StaffRequest

CODE = Annotated[str, Path(pattern=r"^\d{6}$")]
MAX_UPLOAD = 10 * 1024 * 1024  # a list of ~100,000 residents, as the API allows
router = APIRouter(prefix="/staff/{code}/residents")
# The checks' own words (kizuna.resident_list, kizuna.subscriptions), translated where shown;
# a reason carrying a value (a line number, a column) is shown as it is.
ROW_REASONS = (
    S_("more values than columns"),
    S_("the channel must be line or email"),
    S_("an email row needs the address"),
    S_("give the date the resident agreed to be enrolled"),
    S_("the consent date is in the future"),
    S_("write the date as YYYY-MM-DD"),
    S_("give a due date (pregnant) or a birth date (child born)"),
    S_("the birth date is in the future"),
    S_("the child is 18 or older: messages end at 18"),
    S_("due date and birth date are too far apart (birth 22w0d–44w0d)"),
    S_("the due date is more than 300 days ahead"),
    S_("the due date is over two weeks past: give the birth date"),
    S_("the file is neither UTF-8 nor Shift_JIS text"),
)
TOO_LARGE = S_("The file is larger than 10 MB. Please split the list.")
NO_FILE = S_("Please choose a CSV file.")
GONE = S_("This list was confirmed already, or it waited over an hour. Please upload it again.")


def options(console: StaffRequest, *, dry_run: bool) -> enrollment.EnrollOptions:
    runtime = console.site.runtime
    return enrollment.EnrollOptions(
        variants=runtime.variants(), default_timezone=runtime.settings.timezone,
        invitation_days=runtime.settings.invitation_days, dry_run=dry_run,
    )  # fmt: skip


@router.get("", response_class=HTMLResponse)
def residents_page(request: Request, code: CODE) -> Response:
    console = StaffRequest(request, code)
    return console.refusal() or console.render("residents.html")


async def uploaded(console: StaffRequest) -> bytes | str:
    """The file's bytes, or the msgid saying why there are none."""
    if int(console.request.headers.get("content-length") or 0) > MAX_UPLOAD + 64 * 1024:
        return TOO_LARGE
    file = console.form.get("list")
    if file is None or isinstance(file, str) or not file.filename:
        return NO_FILE
    content = await file.read(MAX_UPLOAD + 1)
    return TOO_LARGE if len(content) > MAX_UPLOAD else content


@router.post("", response_class=HTMLResponse)
async def check(request: Request, code: CODE) -> Response:
    """A dry run: every row is checked and counted; nothing is written."""
    console = await StaffRequest.posted(request, code)
    if refused := console.refusal():
        return refused
    content = await uploaded(console)
    if isinstance(content, str):
        return console.render("residents.html", status_code=422, error=content)
    try:
        rows = read_csv(content)
    except ListError as error:
        return console.render("residents.html", status_code=422, error=str(error))
    result = await asyncio.to_thread(
        enrollment.enroll, console.engine, code, rows, options(console, dry_run=True),
        now=console.at,
    )  # fmt: skip
    upload = None
    if result.added:
        upload = staff_uploads.keep(
            console.engine, staff_id=console.staff.id, code=code, content=content, now=console.at
        )
    console.audit("resident-upload", rows=result.rows, problems=len(result.problems),
                  would_add=result.added)  # fmt: skip
    status = 422 if result.problems else 200
    return console.render("residents.html", status_code=status, result=result, upload=upload)


@router.post("/confirm", response_class=HTMLResponse)
async def confirm(request: Request, code: CODE) -> Response:
    """Enroll the good rows of the list checked before; invite the email residents."""
    console = await StaffRequest.posted(request, code)
    if refused := console.refusal():
        return refused
    content = staff_uploads.take(
        console.engine, str(console.form.get("upload") or ""), staff_id=console.staff.id,
        code=code, now=console.at,
    )  # fmt: skip
    if content is None:
        return console.render("residents.html", status_code=410, error=GONE)
    result = await asyncio.to_thread(
        enrollment.enroll, console.engine, code, read_csv(content),
        options(console, dry_run=False), now=console.at,
    )  # fmt: skip
    unsent = [invitation.line for invitation in result.email]
    channel = request.app.state.channels.get(ChannelName.EMAIL)
    if result.email and channel is not None:
        unsent = await send_invitations(channel, site(request), result.email, now=console.at)
    console.audit("resident-confirm", rows=result.rows, added=result.added,
                  unchanged=result.unchanged, problems=len(result.problems),
                  unsent=len(unsent))  # fmt: skip
    return console.render("residents_done.html", result=result, unsent=unsent,
                          here=f"/staff/{code}/residents")  # fmt: skip
