"""`/manage/<token>/data` and `/delete`: a parent sees what Kizuna holds about them, takes it
as JSON, and deletes it after a confirmation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kizuna import audit, privacy
from kizuna.core.status import DeliveryStatus
from kizuna.i18n import LOCALE_NAMES
from kizuna.web.manage import Manage
from kizuna.web.pages import N_, SECURITY_HEADERS, SiteDep, notice, now

router = APIRouter()
WEB_ACTOR = audit.subscriber_actor("web")
DELIVERY_STATES = {  # delivery status -> what the page says
    DeliveryStatus.SENT: N_("Sent"),
    DeliveryStatus.PLANNED: N_("Waiting to be sent"),
    DeliveryStatus.SENDING: N_("Waiting to be sent"),
}
NOT_SENT = N_("Not sent")
CONSENT_EVENTS = {
    "given": N_("Agreed on %(date)s"),
    "withdrawn": N_("Stopped on %(date)s"),
}


@dataclass(frozen=True, slots=True)
class Held:
    """What the data page shows, read from the export (the same data the JSON gives)."""

    data: dict

    @property
    def subscriber(self) -> dict:
        return self.data["subscriber"]

    def children(self) -> list[dict]:
        return [
            {**child, "due_date": _day(child["due_date"]), "birth_date": _day(child["birth_date"])}
            for child in self.data["children"]
        ]

    def deliveries(self) -> list[tuple[date, str, str]]:
        """(day, message id, what became of it), newest first."""
        rows = [
            (_day(d["local_date"]), d["message_id"], DELIVERY_STATES.get(d["status"], NOT_SENT))
            for d in self.data["deliveries"]
        ]
        return sorted(rows, reverse=True)

    def consents(self) -> list[tuple[str, date]]:
        return [
            (CONSENT_EVENTS[row["event"]], datetime.fromisoformat(row["at"]).date())
            for row in self.data["consent_records"]
            if row["event"] in CONSENT_EVENTS
        ]

    def municipality(self) -> str | None:
        return next((row["name"] for row in self.data["municipality"]), None)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@router.get("/manage/{token}/data", response_class=HTMLResponse)
def data_page(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    """Everything held about this subscriber, in words; changes nothing."""
    manage = Manage(request, site, token)
    if manage.subscription is None:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    held = Held(privacy.export_subscriber(site.runtime.engine, manage.subscriber_id))
    return site.pages.render(
        request, "my_data.html", locale=manage.locale, here=f"{manage.here}/data",
        held=held, back=manage.here, locale_name=LOCALE_NAMES.get(held.subscriber["locale"]),
    )  # fmt: skip


@router.get("/manage/{token}/data.json")
def data_file(request: Request, token: str, site: SiteDep) -> Response:
    """The same data as a file to keep or take elsewhere; the download is in the audit log."""
    manage = Manage(request, site, token)
    if manage.subscription is None:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    data = privacy.export_subscriber(site.runtime.engine, manage.subscriber_id)
    with site.runtime.engine.begin() as connection:
        audit.record(connection, actor=WEB_ACTOR, action="export", at=now(request),
                     subscriber_id=manage.subscriber_id)  # fmt: skip
    headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="kizuna.json"'}
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/manage/{token}/delete", response_class=HTMLResponse)
def delete_page(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    """Asks first and changes nothing: link scanners follow GETs."""
    manage = Manage(request, site, token)
    if manage.subscription is None:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    return site.pages.render(
        request, "my_data_delete.html", locale=manage.locale, action=request.url.path,
        back=f"{manage.here}/data",
    )  # fmt: skip


@router.post("/manage/{token}/delete", response_class=HTMLResponse)
async def delete(request: Request, token: str, site: SiteDep) -> HTMLResponse:
    """Erase at once; a stopped subscriber may delete too (their data is still held)."""
    manage = await Manage.posted(request, site, token)
    if manage.subscription is None:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    if not site.pages.csrf_ok(request, manage.form):
        return notice(request, site, manage.locale, "expired", status_code=403,
                      back=request.url.path)  # fmt: skip
    secret = site.runtime.settings.secret_key.get_secret_value()  # the pages need it to exist
    privacy.forget_subscriber(site.runtime.engine, manage.subscriber_id, now=now(request),
                              secret=secret, actor=WEB_ACTOR)  # fmt: skip
    return site.pages.render(request, "my_data_deleted.html", locale=manage.locale)
