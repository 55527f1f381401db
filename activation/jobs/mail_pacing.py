"""Queued mail stays under the sender mailbox's limit (Exchange Online: about 30 messages a minute).

The count is of mail actually sent in the last 60 seconds, read from the audit trail (every email we
send is audited: invites, codes, manager notices), so it is shared by every worker and host and
includes the code emails the portal sends in the request. Queued mail is capped at
`[queue] mail_per_minute` (25 by default), leaving room for those.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activation.jobs.errors import Paced
from activation.models import AuditEvent, Job, JobState

MAIL_ACTIONS = ("invite.sent", "code.sent", "manager.notified")
WINDOW = timedelta(seconds=60)


def wait_for_room(session: Session, *, now: datetime, per_minute: int, job_kinds: Collection[str] = ()) -> None:
    """Raise Paced (with the seconds until a slot frees) when `per_minute` emails went in the last minute.

    Mail jobs of `job_kinds` already waiting for a slot are counted too, and this one lines up behind
    them, one slot (60 / per_minute s) each: after a burst, paced jobs wake one by one instead of all
    at once, each to find the minute full again.
    """
    recent = select(AuditEvent.at).where(AuditEvent.action.in_(MAIL_ACTIONS), AuditEvent.outcome == "success",
                                         AuditEvent.at > now - WINDOW)
    sent = session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    if sent < per_minute:
        return
    oldest_counted = session.scalars(recent.order_by(AuditEvent.at.desc()).offset(per_minute - 1).limit(1)).first()
    delay = (oldest_counted + WINDOW - now).total_seconds() if oldest_counted else WINDOW.total_seconds()
    waiting = session.scalar(select(func.count(Job.id)).where(
        Job.kind.in_(job_kinds), Job.state == JobState.QUEUED, Job.not_before > now)) if job_kinds else 0
    delay = max(1.0, delay) + (waiting or 0) * WINDOW.total_seconds() / per_minute
    raise Paced(f"mail paced: {sent} emails sent in the last minute (limit {per_minute})", delay=delay)
