"""The municipal staff console (`/staff/…`): the dashboard, report downloads, registration
links and QR codes; sessions (staff_auth), resident lists (staff_residents) and local
information (staff_local_info) are included here, sign-in paths first."""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from kizuna import municipalities, municipality_links, report_chart, reports, subscriptions
from kizuna.web import staff_auth, staff_local_info, staff_residents
from kizuna.web.pages import SECURITY_HEADERS
from kizuna.web.staff_auth import StaffRequest

CODE = Annotated[str, Path(pattern=r"^\d{6}$")]
router = APIRouter()
router.include_router(staff_auth.router)  # /staff/login before /staff/{code}
FORMATS = {"png": ("image/png", municipality_links.qr_png),
           "svg": ("image/svg+xml", municipality_links.qr_svg)}  # fmt: skip


def period(console: StaffRequest, month: str | None) -> reports.Period | None:
    """The month asked for (YYYY-MM), else the municipality's current one; None when bad."""
    if month:
        try:
            return reports.Period.month(month)
        except ValueError:
            return None
    today = subscriptions.local_today(console.at, timezone(console))
    return reports.Period.month(today.strftime("%Y-%m"))


def timezone(console: StaffRequest) -> str:
    found = municipalities.get(console.engine, console.code)
    return found.timezone or console.site.runtime.settings.timezone


def download(content: bytes | str, media_type: str, filename: str) -> Response:
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=media_type, headers=headers)


@router.get("/staff/{code}", response_class=HTMLResponse)
def dashboard(request: Request, code: CODE, month: str | None = None) -> Response:
    """This month's figures (counts only, never a person) and the chart."""
    console = StaffRequest(request, code)
    if refused := console.refusal():
        return refused
    chosen = period(console, month) or period(console, None)
    found = reports.report(console.engine, code, chosen, timezone=timezone(console))
    return console.render(
        "dashboard.html", municipality=municipalities.get(console.engine, code), report=found,
        month=chosen.start.strftime("%Y-%m"), waiting=reports.waiting(console.engine, code,
        now=console.at), sent=sum(d.sent for d in found.deliveries),
        failed=sum(d.failed for d in found.deliveries),
    )  # fmt: skip


def chart_png(found: reports.Report, code: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        # The title stays ASCII: matplotlib's own font has no Japanese glyphs.
        path = report_chart.write_chart(found, FilePath(folder) / "chart.png", title=code)
        return path.read_bytes()


@router.get("/staff/{code}/report.{kind}")
def report_file(request: Request, code: CODE, kind: str, month: str | None = None) -> Response:
    """The month's report as CSV (one figure per row) or as the PNG chart."""
    console = StaffRequest(request, code)
    if refused := console.refusal():
        return refused
    chosen = period(console, month)
    if chosen is None or kind not in ("csv", "png"):
        return staff_auth.problem(request, staff_auth.NOT_FOUND, status_code=404)
    found = reports.report(console.engine, code, chosen, timezone=timezone(console))
    label = chosen.start.strftime("%Y-%m")
    console.audit("report-download", format=kind, month=label)
    if kind == "csv":
        body = reports.report_csv(found).encode("utf-8-sig")  # BOM: Excel opens it as UTF-8
        return download(body, "text/csv; charset=utf-8", f"kizuna-{code}-{label}.csv")
    return download(chart_png(found, code), "image/png", f"kizuna-{code}-{label}.png")


@router.get("/staff/{code}/chart.png")
def chart(request: Request, code: CODE, month: str | None = None) -> Response:
    """The dashboard's chart, shown in the page (a download is report.png)."""
    console = StaffRequest(request, code)
    if refused := console.refusal():
        return refused
    chosen = period(console, month) or period(console, None)
    found = reports.report(console.engine, code, chosen, timezone=timezone(console))
    return Response(chart_png(found, code), media_type="image/png", headers=SECURITY_HEADERS)


def links_of(console: StaffRequest) -> list[municipality_links.RegistrationLink]:
    settings = console.site.runtime.settings
    return municipality_links.registration_links(
        console.code, base_url=settings.base_url, bot_id=settings.line_bot_id
    )


@router.get("/staff/{code}/links", response_class=HTMLResponse)
def links_page(request: Request, code: CODE) -> Response:
    console = StaffRequest(request, code)
    return console.refusal() or console.render("links.html", links=links_of(console))


@router.get("/staff/{code}/qr/{kind}.{fmt}")
def qr_code(request: Request, code: CODE, kind: str, fmt: str, inline: bool = False) -> Response:
    """A registration link's QR code, to print; `inline` shows it in the links page."""
    console = StaffRequest(request, code)
    if refused := console.refusal():
        return refused
    link = next((found for found in links_of(console) if found.kind == kind), None)
    if link is None or fmt not in FORMATS:
        return staff_auth.problem(request, staff_auth.NOT_FOUND, status_code=404)
    media_type, draw = FORMATS[fmt]
    if inline:
        return Response(draw(link.url), media_type=media_type, headers=SECURITY_HEADERS)
    console.audit("qr-download", kind=kind, format=fmt)
    return download(draw(link.url), media_type, f"kizuna-{code}-{kind}.{fmt}")


router.include_router(staff_residents.router)
router.include_router(staff_local_info.router)
