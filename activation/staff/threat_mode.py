"""Threat mode: while an attack on the desk is suspected, every account-handing action needs two people
and starters' self-service resends and lost-link requests pause. Only a desk lead switches it (audited).

Also the burst alert: one agent performing more account-handing actions in an hour than configured is
logged and audited as `desk.burst_alert` (the metric counts those events; see docs/operations.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.models import ActorType, AuditEvent, DeskFlag
from activation.staff import access
from activation.staff.auth import StaffMember
from activation.staff.desk_actions import check_reason

logger = logging.getLogger(__name__)

DESK_LEAD_ROLE = "DeskLead"
FLAG = "threat_mode"
ACCOUNT_HANDING_AUDIT_ACTIONS = ("desk.unlock", "desk.resend_invite", "desk.reset", "desk.new_tap")
BURST_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class ThreatMode:
    on: bool
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None


def current(session: Session) -> ThreatMode:
    flag = session.get(DeskFlag, FLAG)
    if flag is None:
        return ThreatMode(False, None, None, None)
    return ThreatMode(flag.enabled, flag.changed_by, flag.changed_at, flag.reason)


# Asked on every lost-link request and code resend: one column, without loading the row as an object.
_ENABLED = select(DeskFlag.__table__.c.enabled).where(DeskFlag.__table__.c.name == FLAG)


def is_on(session: Session) -> bool:
    return bool(session.scalar(_ENABLED))


def self_service_paused(session: Session) -> bool:
    """Starters' resends and lost-link requests wait while threat mode is on."""
    return is_on(session)


def is_desk_lead(member: StaffMember) -> bool:
    return DESK_LEAD_ROLE in member.roles


def switch(session: Session, deps: Deps, member: StaffMember, on: bool, reason: str,
           context: audit.RequestContext = audit.NO_REQUEST) -> ThreatMode:
    """Turn threat mode on or off. Desk leads only; the reason is mandatory; audited. Commits."""
    access.require_desk(session, deps, member, "desk.threat_mode", context)
    if not is_desk_lead(member):
        deps.audit(session, action="staff.access_denied", actor=member.actor, outcome="denied",
                   reason=f"not in the {DESK_LEAD_ROLE} role", context=context, details={"what": "desk.threat_mode"})
        session.commit()
        raise access.AccessDenied(403, f"not in the {DESK_LEAD_ROLE} role")
    reason = check_reason(reason)
    flag = session.get(DeskFlag, FLAG) or DeskFlag(name=FLAG)
    flag.enabled, flag.changed_by, flag.changed_at, flag.reason = on, member.oid, deps.clock.now(), reason
    session.add(flag)
    deps.audit(session, action="desk.threat_mode", actor=member.actor, reason=reason, context=context,
               details={"on": on})
    session.commit()
    logger.warning("threat mode switched %s by %s", "on" if on else "off", member.oid)
    return current(session)


def actions_in_last_hour(session: Session, agent_oid: str, now: datetime) -> int:
    return int(session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.actor_type == ActorType.STAFF, AuditEvent.actor_id == agent_oid,
               AuditEvent.action.in_(ACCOUNT_HANDING_AUDIT_ACTIONS), AuditEvent.outcome == "success",
               AuditEvent.at > now - BURST_WINDOW)
    ) or 0)


def check_burst(session: Session, deps: Deps, agent_oid: str,
                context: audit.RequestContext = audit.NO_REQUEST) -> bool:
    """After an account-handing action: alert (log + `desk.burst_alert` event) above the hourly limit."""
    limit = deps.settings.desk.burst_actions_per_hour
    count = actions_in_last_hour(session, agent_oid, deps.clock.now())
    if count <= limit:
        return False
    logger.warning("desk burst alert: agent %s performed %d account-handing actions in the last hour (limit %d)",
                   agent_oid, count, limit)
    deps.audit(session, action="desk.burst_alert", actor=audit.Actor.staff(agent_oid), outcome="alert",
               context=context, details={"actions_last_hour": count, "limit": limit})
    session.commit()
    return True


def burst_alerts(session: Session) -> int:
    """How many burst alerts were raised: the counter the metrics endpoint exposes (issue 10's /metrics)."""
    return int(session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "desk.burst_alert")) or 0)
