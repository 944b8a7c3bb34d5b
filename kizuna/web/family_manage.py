"""Family on the settings page: invite a caregiver to follow a child, remove one at once, or
change what one may do. Caregivers are shown by role and the name the parent gave only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kizuna import family, family_follows
from kizuna.core.catalog import Role
from kizuna.tokens import Purpose
from kizuna.web.manage import Manage
from kizuna.web.pages import N_, SiteDep, notice, now

router = APIRouter()


def _checked(manage: Manage, name: str) -> bool:
    return manage.form.get(name) == "yes"


@router.post("/manage/{token}/children/{child_id}/invite", response_class=HTMLResponse)
async def invite(request: Request, token: str, child_id: int, site: SiteDep) -> HTMLResponse:
    """A new single-use invitation, shown once: the code for LINE and the sign-up link."""
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    role = str(manage.form.get("role") or "")
    if role not in family.INVITABLE_ROLES:
        return manage.page(status_code=422, error=N_("Please choose who they are."),
                           error_child=child_id)  # fmt: skip
    try:
        made = family.create_invitation(
            site.runtime.engine, inviter_id=manage.subscriber_id, child_id=child_id,
            role=Role(role), may_report=_checked(manage, "may_report"),
            receives_local_info=_checked(manage, "local_info"),
            label=str(manage.form.get("label") or "") or None,
            days=site.runtime.settings.family_invitation_days, now=now(request),
        )  # fmt: skip
    except family.NotAllowed:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    except ValueError:  # the name: too long, or control characters
        return manage.page(status_code=422, error=N_("Please give a shorter name."),
                           error_child=child_id)  # fmt: skip
    link = site.url(Purpose.FAMILY, made.invitation_id)
    return manage.page(invitation=made, invitation_link=link, invitation_child=child_id)


@router.post("/manage/{token}/family/{follow_id}/remove", response_class=HTMLResponse)
async def remove(request: Request, token: str, follow_id: int, site: SiteDep) -> HTMLResponse:
    """At once: their deliveries not yet sent are cancelled, and planning no longer sees them."""
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    try:
        family_follows.remove(
            site.runtime.engine, manager_id=manage.subscriber_id, follow_id=follow_id
        )
    except family.NotAllowed:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    return manage.page(saved=True)


@router.post("/manage/{token}/family/{follow_id}", response_class=HTMLResponse)
async def change(request: Request, token: str, follow_id: int, site: SiteDep) -> HTMLResponse:
    manage = await Manage.posted(request, site, token)
    if refused := manage.refusal():
        return refused
    try:
        family_follows.change(
            site.runtime.engine, manager_id=manage.subscriber_id, follow_id=follow_id,
            may_report=_checked(manage, "may_report"),
            receives_local_info=_checked(manage, "local_info"),
        )  # fmt: skip
    except family.NotAllowed:
        return notice(request, site, manage.locale, "broken_link", status_code=404)
    return manage.page(saved=True)
