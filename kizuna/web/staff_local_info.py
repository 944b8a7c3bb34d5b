"""The local information editor of the staff console, with a preview of a real message
rendered with and without each value."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from kizuna import local_preview, municipalities, subscriptions
from kizuna.core.local_info import LOCAL_INFO_KEYS
from kizuna.rendering import Renderer
from kizuna.web.staff_auth import NOT_FOUND, S_, StaffRequest, problem

CODE = Annotated[str, Path(pattern=r"^\d{6}$")]
router = APIRouter(prefix="/staff/{code}/local-info")
# What each key is, in the staff's words (the keys are kizuna.core.local_info's).
LABELS = {
    "prenatal_checkup": S_("Prenatal check-ups (妊婦健診)"),
    "health_center": S_("Health centre (保健センター)"),
    "consultation": S_("Consultation services"),
    "birth_registration": S_("Birth registration (出生届)"),
    "child_allowance": S_("Child allowance (児童手当)"),
    "postpartum_care": S_("Postpartum care (産後ケア)"),
    "vaccination": S_("Vaccinations"),
    "checkup_4m": S_("4-month check-up"),
    "checkup_10m": S_("10-month check-up"),
    "checkup_1y6m": S_("1 year 6 months check-up"),
    "checkup_3y": S_("3-year check-up"),
}


def editor(console: StaffRequest, *, status_code: int = 200, **context) -> Response:
    return console.render(
        "local_info.html", status_code=status_code, keys=LOCAL_INFO_KEYS, labels=LABELS,
        maximum=municipalities.LOCAL_INFO_MAX, **context,
    )  # fmt: skip


@router.get("", response_class=HTMLResponse)
def local_info_page(request: Request, code: CODE) -> Response:
    console = StaffRequest(request, code)
    if refused := console.refusal():
        return refused
    return editor(console, values=municipalities.stored_local_info(console.engine, code))


@router.post("", response_class=HTMLResponse)
async def save(request: Request, code: CODE) -> Response:
    """Every field at once: an emptied field removes its value (the general wording shows)."""
    console = await StaffRequest.posted(request, code)
    if refused := console.refusal():
        return refused
    values = {key: str(console.form.get(key) or "").strip() for key in LOCAL_INFO_KEYS}
    too_long = [key for key, value in values.items() if len(value) > municipalities.LOCAL_INFO_MAX]
    if too_long:
        return editor(console, status_code=422, values=values, too_long=too_long)
    before = municipalities.stored_local_info(console.engine, code)
    stored = municipalities.update_local_info(
        console.engine, code, set_values=values, replace=True, now=console.at
    )
    changed = sorted(key for key in LOCAL_INFO_KEYS if before.get(key) != stored.get(key))
    if changed:  # which keys changed, not their text: the log stays small and plain
        console.audit("local-info-change", keys=",".join(changed))
    return editor(console, values=stored, saved=True, changed=changed)


@router.get("/preview/{key}", response_class=HTMLResponse)
def preview(request: Request, code: CODE, key: str) -> Response:
    console = StaffRequest(request, code)
    if refused := console.refusal():
        return refused
    if key not in LOCAL_INFO_KEYS:
        return problem(request, NOT_FOUND, status_code=404)
    municipality = municipalities.get(console.engine, code)
    zone = municipality.timezone or console.site.runtime.settings.timezone
    shown = local_preview.preview(
        console.site.runtime.catalog, renderer(request), key,
        municipalities.stored_local_info(console.engine, code),
        municipality_name=municipality.name, today=subscriptions.local_today(console.at, zone),
    )  # fmt: skip
    stored = municipalities.stored_local_info(console.engine, code).get(key, "")
    return console.render("local_info_preview.html", key=key, label=LABELS[key], shown=shown,
                          value=stored)  # fmt: skip


def renderer(request: Request) -> Renderer:
    state = request.app.state
    if getattr(state, "staff_renderer", None) is None:
        state.staff_renderer = Renderer()
    return state.staff_renderer
