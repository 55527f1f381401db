"""A daily cap on codes emailed for one activation (policy `max_codes_per_day`), beyond the cooldown.

Without it a resend loop (one request a minute) mails a code every minute for as long as it runs. After
the cap the starter is sent to the service desk; a desk unlock, reset or new invite lifts the cap
(the count starts again after the desk's action). Counted from the `otp_challenge` rows, so every
portal worker sees the same number.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.errors import ActivationError
from activation.models import Activation, AuditEvent, OtpChallenge, Person

DESK_ACTIONS_THAT_LIFT = ("desk.unlock", "desk.reset", "desk.resend_invite")
DAY = timedelta(hours=24)
# One round trip, built once (see codes.py): a code counts when it was sent in the last 24 hours and
# after the desk's last action that lifts the cap (no such action at or after its creation).
_LIFTED_SINCE = select(AuditEvent.id).where(
    AuditEvent.person_id == bindparam("for_person"), AuditEvent.action.in_(DESK_ACTIONS_THAT_LIFT),
    AuditEvent.outcome == "success", AuditEvent.at >= OtpChallenge.created_at)
_CODES_SINCE = select(func.count()).select_from(OtpChallenge).where(
    OtpChallenge.activation_id == bindparam("for_activation"), OtpChallenge.created_at > bindparam("since"),
    ~_LIFTED_SINCE.exists())


class CodeLimitReached(ActivationError):
    """Enough codes for today: the starter should contact the service desk."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} codes in 24 hours")
        self.limit = limit


def check_daily_cap(session: Session, deps: Deps, activation: Activation, person: Person,
                    context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Raise CodeLimitReached (audited, committed) when another code would exceed today's cap."""
    limit = deps.settings.policy.max_codes_per_day
    if activation.codes_sent < limit:
        # codes_sent counts every code this activation was ever sent (it only grows, with each new
        # challenge row): below the cap in all, below it today. Most starters ask once or twice, so
        # most requests need no count.
        return
    now = deps.clock.now()
    sent = session.scalar(_CODES_SINCE, {"for_person": person.id, "for_activation": activation.id,
                                         "since": now - DAY}) or 0
    if sent >= limit:
        deps.audit(session, action="code.sent", actor=audit.Actor.starter(person.employee_id), person=person,
                   outcome="refused", reason="daily code limit reached", context=context,
                   details={"limit": limit})
        session.commit()
        raise CodeLimitReached(limit)
