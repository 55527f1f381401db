"""Day one ends with a credential: watch a new user's authentication methods while their TAP lives.

`watch_due(session, deps)` is the periodic job (run it every minute; it is idempotent and cheap when
nothing is due). For each completed activation without a credential whose pass is still alive and
whose next check is due, it reads `GET /users/{id}/authentication/methods`. When a passkey (FIDO2)
or Microsoft Authenticator appears it records the credential type and time, deletes the TAP (it is
no longer needed and should not linger), audits, and notifies the manager. Otherwise the next check
backs off (1, 2, 4 ... minutes by default, at most 15; see `policy.credential_check_*`) until the pass
expires; the desk dashboard then shows "no credential yet".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from activation import audit
from activation.config import PolicySettings
from activation.deps import Deps
from activation.graph.auth_methods import STRONG_KINDS, TAP
from activation.graph.errors import GraphError, NotFound, TokenError
from activation.mail.message import MailDeliveryError
from activation.models import Activation, Person
from activation.window import format_local, zone_for

logger = logging.getLogger(__name__)

BATCH = 200


@dataclass
class WatchReport:
    checked: int = 0
    registered: list[tuple[str, str]] = field(default_factory=list)  # (employee id, credential type)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (employee id, error class)
    still_watching: int = 0


def next_delay(policy: PolicySettings, checks: int) -> timedelta:
    """1, 2, 4 ... times the first delay, capped (policy.credential_check_first/max_seconds)."""
    seconds = policy.credential_check_first_seconds * (2 ** min(max(0, checks - 1), 20))
    return timedelta(seconds=min(seconds, policy.credential_check_max_seconds))


def _watching(now: datetime):  # type: ignore[no-untyped-def]
    return (Activation.completed_at.is_not(None), Activation.credential_at.is_(None), Activation.frozen_at.is_(None),
            Activation.tap_expires_at.is_not(None), Activation.tap_expires_at > now)


def watch_due(session: Session, deps: Deps, *, limit: int = BATCH) -> WatchReport:
    """Check every activation whose next credential check is due. The function to run periodically."""
    now = deps.clock.now()
    report = WatchReport()
    due = session.scalars(
        select(Activation).join(Person).where(*_watching(now), Person.entra_object_id.is_not(None))
        .where(or_(Activation.credential_next_check_at.is_(None), Activation.credential_next_check_at <= now))
        .order_by(Activation.credential_next_check_at, Activation.id).limit(limit)
    ).all()
    for activation in due:
        check_one(session, deps, activation, report)
    report.still_watching = session.scalar(select(func.count()).select_from(Activation)
                                           .where(*_watching(deps.clock.now()))) or 0
    return report


def check_one(session: Session, deps: Deps, activation: Activation, report: WatchReport | None = None) -> str | None:
    """One poll of one user's methods. Returns the credential type when one was found. Commits."""
    report = report if report is not None else WatchReport()
    person = activation.person
    user_id = person.entra_object_id or ""
    now = deps.clock.now()
    report.checked += 1
    activation.credential_checks += 1
    activation.credential_next_check_at = now + next_delay(deps.settings.policy, activation.credential_checks)
    try:
        methods = deps.graph.authentication_methods(user_id)
    except (GraphError, TokenError) as exc:
        logger.warning("credential watch for %s: %s", person.employee_id, type(exc).__name__)
        report.failed.append((person.employee_id, type(exc).__name__))
        session.commit()
        return None
    if activation.tap_used_at is None and any(m.kind == TAP and m.used_up for m in methods):
        activation.tap_used_at = now  # signed in with the pass; no credential yet
    strong = sorted((m for m in methods if m.kind in STRONG_KINDS), key=lambda m: (m.created_at is None, m.created_at))
    if not strong:
        session.commit()
        return None
    credential = strong[0]
    activation.credential_type = credential.kind
    activation.credential_at = credential.created_at or now
    activation.credential_next_check_at = None
    tap_deleted = _delete_taps(deps, user_id)
    if tap_deleted is not False:
        activation.tap_method_id = None
        activation.tap_expires_at = None
    deps.audit(session, action="credential.registered", actor=audit.Actor.system(), person=person,
               details={"registered": credential.kind, "temporary_method_removed": tap_deleted})
    session.commit()
    report.registered.append((person.employee_id, credential.kind))
    _notify_manager(session, deps, person, credential.kind)
    return credential.kind


def _delete_taps(deps: Deps, user_id: str) -> bool | None:
    """True deleted, None there was none, False Graph refused (the desk can still revoke it)."""
    try:
        taps = deps.graph.list_taps(user_id)
        for tap in taps:
            deps.graph.delete_tap(user_id, tap.id)
    except NotFound:
        return None
    except (GraphError, TokenError) as exc:
        logger.warning("credential watch: TAP not deleted (%s)", type(exc).__name__)
        return False
    return True if taps else None


def _notify_manager(session: Session, deps: Deps, person: Person, kind: str) -> None:
    if not person.manager_employee_id:
        return
    manager = session.scalars(select(Person).where(Person.employee_id == person.manager_employee_id)).first()
    if manager is None or not manager.upn:
        return
    words = "a passkey" if kind == "passkey" else "Microsoft Authenticator"
    email = deps.renderer.render(
        "credential_registered", to=manager.upn, manager_name=manager.preferred_name or manager.given_name,
        starter_name=person.display_name, credential=words,
        registered_at=format_local(deps.clock.now(), zone_for(manager.time_zone, deps.settings.policy).key),
    )
    try:
        deps.mailer.send(email)
    except MailDeliveryError as exc:
        deps.audit(session, action="manager.notified", actor=audit.Actor.system(), person=person, outcome="failure",
                   details={"about": "registered method", "error": type(exc).__name__})
    else:
        deps.audit(session, action="manager.notified", actor=audit.Actor.system(), person=person,
                   details={"about": "registered method", "manager_employee_id": manager.employee_id})
    session.commit()
