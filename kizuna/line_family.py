"""Family in LINE: inviting a caregiver to follow a child, joining with a code, and the
inviting parent's list of caregivers (by role and name only) to remove or trust."""

from __future__ import annotations

from datetime import datetime

from kizuna import family, family_follows
from kizuna.consent import LINE_NOTICE, notice_values
from kizuna.core.catalog import Role
from kizuna.enrollment import InvitationUnusable
from kizuna.i18n import format_day
from kizuna.line_events import conversation_locale, postback
from kizuna.runtime import plan_child
from kizuna.tokens import Purpose, Tokens

FAMILY_ACTIONS = ("finv", "frep", "floc", "frm", "fset")
ROLE_NAMES = {
    Role.PARENT: "Parent", Role.PARTNER: "Partner", Role.CO_PARENT: "Co-parent",
    Role.GRANDPARENT: "Grandparent", Role.OTHER: "Other carer",
}  # fmt: skip
QUICK_CAREGIVERS = 4  # three buttons each: LINE shows at most 13 quick replies


class FamilyCommands:
    """Mixed into LineBot: 「家族を招待」, 「家族」 and a family invitation code."""

    def _role(self, locale: str, role: str) -> str:
        return self._t(locale, ROLE_NAMES.get(role, "Other carer"))

    def _yes_no(self, locale: str, action: str, **data: str) -> list[dict]:
        return [postback(self._t(locale, "Yes"), a=action, v="yes", **data),
                postback(self._t(locale, "No"), a=action, v="no", **data)]  # fmt: skip

    def _invite_question(self, subscriber, locale: str) -> list[dict]:
        if family.managed_child(self.runtime.engine, subscriber.id) is None:
            return [self._text(locale, "Only someone who may report for a child can invite "
                                       "others to follow it.")]  # fmt: skip
        quick = [postback(self._role(locale, role), a="finv", v=role)
                 for role in family.INVITABLE_ROLES]  # fmt: skip
        return [self._text(locale, "Whom would you like to invite to follow your child?", quick)]

    def _family_action(self, event, subscriber, action, value, locale, now) -> list[dict]:
        data = event.data
        if action == "finv" and value in family.INVITABLE_ROLES:
            quick = self._yes_no(locale, "frep", r=value)
            return [self._text(locale, "May they report a birth or a loss for your child?", quick)]
        if action == "frep" and data.get("r") in family.INVITABLE_ROLES:
            quick = self._yes_no(locale, "floc", r=data["r"], m=value)
            return [self._text(locale, "family-local-info-question", quick)]
        if action == "floc" and data.get("r") in family.INVITABLE_ROLES:
            return self._create_invitation(subscriber, data, locale, now)
        if action in ("frm", "fset") and data.get("f", "").isdigit():
            return self._manage_caregiver(subscriber, action, data, locale)
        return [self._help(locale)]

    def _create_invitation(self, subscriber, data: dict, locale: str, now) -> list[dict]:
        child_id = family.managed_child(self.runtime.engine, subscriber.id)
        try:
            if child_id is None:
                raise family.NotAllowed("no child to invite for")
            made = family.create_invitation(
                self.runtime.engine, inviter_id=subscriber.id, child_id=child_id,
                role=Role(data["r"]), may_report=data.get("m") == "yes",
                receives_local_info=data.get("v") == "yes",
                days=self.runtime.settings.family_invitation_days, now=now,
            )  # fmt: skip
        except family.NotAllowed:
            return [self._text(locale, "Only someone who may report for a child can invite "
                                       "others to follow it.")]  # fmt: skip
        until = format_day(made.expires_at.date(), locale)
        replies = [self._text(locale, "Invitation code: %(code)s\nAsk them to send this code to "
                                      "Kizuna on LINE. It works once, until %(date)s.",
                              code=made.code, date=until)]  # fmt: skip
        link = self._family_link(made.invitation_id)
        if link is not None:
            replies.append(self._text(locale, "Or they can sign up by email with this link: "
                                              "%(link)s", link=link))  # fmt: skip
        return replies

    def _family_link(self, invitation_id: int) -> str | None:
        """The sign-up page for the invitation, when links can be signed here."""
        settings = self.runtime.settings
        if settings.secret_key is None:
            return None
        token = Tokens(settings.secret_key.get_secret_value()).issue(Purpose.FAMILY, invitation_id)
        return f"{settings.base_url.rstrip('/')}/family/{token}"

    def _caregiver_list(self, subscriber, locale: str) -> list[dict]:
        found = family_follows.caregivers(self.runtime.engine, manager_id=subscriber.id)
        if not found:
            return [self._text(locale, "No one follows your child by your invitation yet. "
                                       "Send “invite family” to invite someone.")]  # fmt: skip
        yes, no = self._t(locale, "Yes"), self._t(locale, "No")
        lines = [self._t(locale, "The people who follow your child by invitation:")]
        quick = []
        for number, one in enumerate(found, start=1):
            role = self._role(locale, one.role)
            lines.append(self._t(
                locale, "%(number)s. %(role)s %(name)s (reports a birth or loss: %(report)s; "
                "local information: %(local)s)", number=str(number), role=role, name=one.label,
                report=yes if one.may_report else no, local=yes if one.receives_local_info else no,
            ))  # fmt: skip
            if number <= QUICK_CAREGIVERS:
                n, f = str(number), str(one.follow_id)
                quick += [
                    postback(self._t(locale, "Remove %(number)s", number=n), a="frm", f=f),
                    postback(self._t(locale, "Reports %(number)s", number=n), a="fset", f=f,
                             k="report", v="off" if one.may_report else "on"),
                    postback(self._t(locale, "Local info %(number)s", number=n), a="fset", f=f,
                             k="local", v="off" if one.receives_local_info else "on"),
                ]  # fmt: skip
        return [{"type": "text", "text": "\n".join(lines), "quickReply": {"items": quick}}]

    def _manage_caregiver(self, subscriber, action: str, data: dict, locale: str) -> list[dict]:
        follow_id, on = int(data["f"]), data.get("v") == "on"
        try:
            if action == "frm":
                family_follows.remove(self.runtime.engine, manager_id=subscriber.id,
                                      follow_id=follow_id)  # fmt: skip
                return [self._text(locale, "Removed. They receive nothing more about your "
                                           "child.")]  # fmt: skip
            change = (
                {"may_report": on} if data.get("k") == "report" else {"receives_local_info": on}
            )
            family_follows.change(self.runtime.engine, manager_id=subscriber.id,
                                  follow_id=follow_id, **change)  # fmt: skip
        except family.NotAllowed:
            return [self._help(locale)]
        return [self._text(locale, "Saved."), *self._caregiver_list(subscriber, locale)]

    # -- joining with a code --------------------------------------------------------------

    def _family_code(self, subscriber, code: str, locale: str, now: datetime) -> list[dict]:
        """A registered subscriber sends a family code: they follow the child at once."""
        engine = self.runtime.engine
        try:
            invitation = family.find_invitation(engine, code=code, now=now)
            child_id = family.accept(engine, invitation.id, subscriber_id=subscriber.id, now=now)
        except InvitationUnusable:
            return [self._text(locale, "This invitation code cannot be used. Please ask for a "
                                       "new one.")]  # fmt: skip
        except family.AlreadyFollowing:
            return [self._text(locale, "You follow this child already.")]
        plan_child(self.runtime, child_id, now=now)
        role = self._role(locale, invitation.role)
        return [self._text(locale, "You now follow this child too, as %(role)s.", role=role)]

    def _family_invited(self, user_id: str, code: str, before: dict, now) -> list[dict] | None:
        """Someone not registered sends a family code: only their variant is asked (no
        dates: the child has them). None when the code is not a family one."""
        try:
            invitation = family.find_invitation(self.runtime.engine, code=code, now=now)
        except InvitationUnusable:
            return None
        data = {"kind": "family", "family": str(invitation.id), "role": invitation.role}
        if "locale" in before:
            data["locale"] = before["locale"]
        self.conversations.save(user_id, "variant", data, now=now)
        return self._family_welcome(data)

    def _family_welcome(self, data: dict) -> list[dict]:
        """The invitation, the privacy notice, and the one question: which Japanese."""
        locale = conversation_locale(data)
        invited = self._text(locale, "You are invited to follow a child as %(role)s.",
                             role=self._role(locale, data["role"]))  # fmt: skip
        question = self._variant_question(locale)
        question["quickReply"]["items"].append(self._language_button(locale))
        notice = self._text(locale, LINE_NOTICE, **notice_values(self.runtime.settings))
        return [invited, notice, question]
