"""Audit events as CSV for a period or a person: RFC 4180 quoting, spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.errors import ActivationError
from activation.models import ActorType, AuditEvent, Person
from activation.staff import access
from activation.staff.action_words import action_words
from activation.staff.auth import StaffMember

MAX_PERIOD_DAYS = 366
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("at", "actor_type", "actor_id", "actor_name", "action", "what", "employee_id", "outcome", "reason",
           "request_id", "client_ip", "details")
BOM = "\ufeff"  # so Excel opens the file as UTF-8


class ExportRequestInvalid(ActivationError):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class AuditCsv:
    filename: str
    text: str
    rows: int


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula starts with a single quote instead; invisible
    characters (bidi controls such as U+202E, zero-width and control characters other than tab, CR and
    LF) are written as visible `\\uXXXX` escapes, so a reason cannot disguise itself in a spreadsheet."""
    value = escape_invisible(value)
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def escape_invisible(value: str) -> str:
    if value.isprintable():
        return value
    return "".join(f"\\u{ord(ch):04x}" if _invisible(ch) else ch for ch in value)


def _invisible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (category == "Cc" and ch not in "\t\n\r") or category in ("Cf", "Zl", "Zp", "Co", "Cs", "Cn")


def to_csv(events: Iterable[AuditEvent], names: Mapping[str, str] | None = None) -> str:
    """`names`: staff object id -> display name, written next to the id (the id stays the identity)."""
    names = names or {}
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for event in events:
        cells: Sequence[str] = (
            event.at.astimezone(UTC).isoformat(), event.actor_type.value, event.actor_id or "",
            names.get(event.actor_id or "", "") if event.actor_type is ActorType.STAFF else "",
            event.action, action_words(event.action, event.outcome), event.employee_id or "", event.outcome,
            event.reason or "", event.request_id or "",
            event.client_ip or "", json.dumps(event.details or {}, sort_keys=True, ensure_ascii=False),
        )
        writer.writerow([neutralise(cell) for cell in cells])
    return buffer.getvalue()


def open_export_form(session: Session, deps: Deps, member: StaffMember,
                     context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """The export page is the desk's, like the export itself (a manager gets 403, audited)."""
    access.require_desk(session, deps, member, "desk.audit_page", context)


def staff_names(session: Session, events: Sequence[AuditEvent]) -> dict[str, str]:
    """Display names for the staff object ids in `events`, from HR data (people we know by object id)."""
    ids = {e.actor_id for e in events if e.actor_type is ActorType.STAFF and e.actor_id}
    if not ids:
        return {}
    return dict(session.execute(
        select(Person.entra_object_id, Person.display_name).where(Person.entra_object_id.in_(ids))
    ).all())


def export(session: Session, deps: Deps, member: StaffMember, *, since: date | None = None,
           until: date | None = None, employee_id: str | None = None,
           context: audit.RequestContext = audit.NO_REQUEST) -> AuditCsv:
    """Events of one person (all time) or of a period (UTC days, both inclusive, at most a year). Audited."""
    access.require_desk(session, deps, member, "desk.audit_export", context)
    employee_id = (employee_id or "").strip() or None
    if employee_id is None and (since is None or until is None):
        raise ExportRequestInvalid("Give a period (from and to) or an employee id.")
    if since is not None and until is not None:
        if until < since:
            raise ExportRequestInvalid("The end of the period is before its start.")
        if (until - since).days >= MAX_PERIOD_DAYS:
            raise ExportRequestInvalid(f"Export at most {MAX_PERIOD_DAYS} days at a time.")
    person = None
    if employee_id is not None:
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).first()
        if person is None:
            raise ExportRequestInvalid("No person with that employee id.")
    start = datetime.combine(since, time(0, 0), tzinfo=UTC) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0, 0), tzinfo=UTC) if until else None
    events = audit.events(session, employee_id=employee_id, since=start, until=end,
                          limit=audit.MAX_QUERY_ROWS + 1, newest_first=False)
    if len(events) > audit.MAX_QUERY_ROWS:  # never hand over a silently cut file
        raise ExportRequestInvalid(f"More than {audit.MAX_QUERY_ROWS:,} events match; export a shorter period.")
    text = to_csv(events, staff_names(session, events))
    deps.audit(session, action="desk.audit_export", actor=member.actor, person=person, context=context,
               details={"since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
                        "rows": len(events)})
    session.commit()
    scope = employee_id or f"{since}_{until}"
    safe_scope = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in scope)[:64]
    return AuditCsv(filename=f"audit-{safe_scope}.csv", text=text, rows=len(events))
