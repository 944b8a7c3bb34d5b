"""`/api/v1/municipalities/{code}/…` for a municipality's own systems: enrollments, local
information and reports, each behind a bearer token that belongs to that one municipality."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from kizuna import enrollment, municipalities, reports
from kizuna.core.local_info import LOCAL_INFO_KEYS
from kizuna.core.status import ChannelName
from kizuna.resident_list import COLUMNS, ListError, json_rows, read_csv
from kizuna.web.invitation_mail import send_invitations
from kizuna.web.pages import now, site

MAX_BODY = 10 * 1024 * 1024  # a list of ~100,000 residents
ANSWERS = {
    401: {"description": "No bearer token, or an unknown or revoked one."},
    404: {"description": "Not the token's municipality: the same answer as a code that does "
          "not exist."},
}  # fmt: skip
router = APIRouter(prefix="/api/v1", tags=["municipalities"], responses=ANSWERS)
bearer = HTTPBearer(
    auto_error=False, description="A token from `kizuna municipality token create`."
)


def municipality(
    request: Request,
    code: str,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The municipality in the path, when the token belongs to it. Another municipality's
    code answers exactly as a code that does not exist: nothing about it is visible."""
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    engine = request.app.state.runtime.engine
    owner = municipalities.token_municipality(engine, credentials.credentials)
    if owner is None:
        raise HTTPException(401, "the token is unknown or revoked", {"WWW-Authenticate": "Bearer"})
    if owner != code:
        raise HTTPException(404, "no such municipality")
    return owner


Municipality = Annotated[str, Depends(municipality)]


class LocalInfo(BaseModel):
    """Only the values given; every key in `keys` may be set."""

    values: dict[str, str]
    keys: list[str] = list(LOCAL_INFO_KEYS)


class LocalInfoUpdate(BaseModel):
    """The complete local information: keys left out (or set to "") are removed."""

    values: dict[str, str]


class Problem(BaseModel):
    line: int
    field: str
    reason: str


class LineCode(BaseModel):
    line: int
    code: str  # shown this once: only its hash is kept
    expires_at: str


class EnrollmentResult(BaseModel):
    dry_run: bool
    rows: int
    added: int
    unchanged: int
    problems: list[Problem]
    email_invitations: int
    email_unsent_lines: list[int]
    line_codes: list[LineCode]


ROWS_SCHEMA = {
    "type": "object",
    "required": ["rows"],
    "properties": {
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: {"type": "string"} for name in COLUMNS},
            },
        }
    },
}
ENROLL_BODY = {
    "requestBody": {
        "required": True,
        "description": "The resident list: CSV with a header row (columns as in the README), "
        "or JSON rows with the same names. Rows are numbered by CSV line (header = 1), or from "
        "1 in JSON.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": ROWS_SCHEMA},
        },
    }
}


@router.get("/municipalities/{code}/local-info", response_model=LocalInfo)
def get_local_info(request: Request, code: Municipality) -> LocalInfo:
    engine = request.app.state.runtime.engine
    return LocalInfo(values=municipalities.stored_local_info(engine, code))


@router.put("/municipalities/{code}/local-info", response_model=LocalInfo)
def put_local_info(request: Request, code: Municipality, body: LocalInfoUpdate) -> LocalInfo:
    engine = request.app.state.runtime.engine
    try:
        stored = municipalities.update_local_info(
            engine, code, set_values=body.values, replace=True, now=now(request)
        )
    except municipalities.MunicipalityError as error:
        raise HTTPException(422, str(error)) from None
    return LocalInfo(values=stored)


@router.post(
    "/municipalities/{code}/enrollments", response_model=EnrollmentResult,
    openapi_extra=ENROLL_BODY,
)  # fmt: skip
async def post_enrollments(
    request: Request, code: Municipality, dry_run: bool = False
) -> EnrollmentResult:
    """Every row is checked; good rows are enrolled, bad rows come back with their line.
    Sending the same list again adds nothing."""
    rows = await _rows(request)
    runtime, at = request.app.state.runtime, now(request)
    options = enrollment.EnrollOptions(
        variants=runtime.variants(), default_timezone=runtime.settings.timezone,
        invitation_days=runtime.settings.invitation_days, dry_run=dry_run,
    )  # fmt: skip
    result = await asyncio.to_thread(enrollment.enroll, runtime.engine, code, rows, options, now=at)
    unsent = [invitation.line for invitation in result.email]
    channel = request.app.state.channels.get(ChannelName.EMAIL)
    if result.email and not dry_run and channel is not None:
        unsent = await send_invitations(channel, site(request), result.email, now=at)
    return EnrollmentResult(
        dry_run=dry_run, rows=result.rows, added=result.added, unchanged=result.unchanged,
        problems=[Problem(line=p.line, field=p.field, reason=p.reason) for p in result.problems],
        email_invitations=len(result.email), email_unsent_lines=[] if dry_run else unsent,
        line_codes=[LineCode(line=c.line, code=c.code, expires_at=c.expires_at.isoformat())
                    for c in result.line],
    )  # fmt: skip


async def _rows(request: Request) -> list:
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise HTTPException(413, f"a list is at most {MAX_BODY // 1024 // 1024} MB")
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            data = json.loads(body)
            rows = data.get("rows") if isinstance(data, dict) else None
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise ListError('give {"rows": [{"channel": …}, …]}')
            return json_rows(rows)
        if kind in ("text/csv", "text/plain"):
            return read_csv(body)
    except (ListError, ValueError) as error:
        raise HTTPException(422, str(error)) from None
    raise HTTPException(415, "send text/csv or application/json")


class DeliveryFigures(BaseModel):
    channel: str
    track: str
    variant: str
    sent: int
    failed: int


class DayFigures(BaseModel):
    day: date
    subscribed: int  # registered and not stopped at the end of the day
    sent: int
    failed: int


class Report(BaseModel):
    """Registrations count confirmed subscribers, by the time they consented; active ones
    received a message in the period and had not stopped by its end."""

    municipality_code: str
    start: date
    end: date
    registrations: int
    new: int
    active: int
    stopped: dict[str, int]  # unfollow, unsubscribe, loss, gone
    deliveries: list[DeliveryFigures]
    days: list[DayFigures]


@router.get("/municipalities/{code}/reports", response_model=Report)
def get_report(
    request: Request,
    code: Municipality,
    month: Annotated[str | None, Query(description="YYYY-MM", pattern=r"^\d{4}-\d{2}$")] = None,
    start: Annotated[date | None, Query(alias="from", description="first local date")] = None,
    end: Annotated[date | None, Query(alias="to", description="last local date")] = None,
) -> Report:
    """Registrations, new, active and stopped subscribers, deliveries by channel, track and
    variant, and the figures per day, for a month or a range of local dates."""
    runtime = request.app.state.runtime
    try:
        if month:
            period = reports.Period.month(month)
        elif start and end:
            period = reports.Period(start, end)
        else:
            raise ValueError("nothing given")
    except ValueError as error:
        raise HTTPException(422, f"give month=YYYY-MM, or from= and to= ({error})") from None
    timezone = municipalities.get(runtime.engine, code).timezone or runtime.settings.timezone
    found = reports.report(runtime.engine, code, period, timezone=timezone)
    fields = asdict(found)
    fields.pop("period")
    return Report(**fields, start=period.start, end=period.end)


@router.get("/openapi.json", include_in_schema=False)
def municipal_openapi(request: Request) -> JSONResponse:
    """The OpenAPI document of this API alone (the app's own pages are not in it)."""
    state = request.app.state
    if getattr(state, "municipal_openapi", None) is None:
        state.municipal_openapi = get_openapi(
            title="Kizuna municipal API", version="1",
            description="Enroll residents, keep local information, read reports: each token "
            "reaches its own municipality only.", routes=router.routes,
        )  # fmt: skip
    return JSONResponse(state.municipal_openapi)
