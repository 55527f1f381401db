"""Audit CSV: spreadsheet formulas neutralised, RFC 4180 quoting, a bounded request."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from activation.audit import Actor
from activation.models import ActorType, AuditEvent
from activation.staff import audit_export
from activation.staff.auth import DESK_ROLE, StaffMember
from tests.unit.starter_support import make_flow


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"), ("+44 7700", "'+44 7700"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("", ""), ("a=b", "a=b"), ("'quoted", "'quoted"),
    ],
)
def test_cells_that_would_run_as_formulas_are_neutralised(cell: str, safe: str) -> None:
    assert audit_export.neutralise(cell) == safe


def test_csv_quotes_per_rfc_4180_and_round_trips() -> None:
    event = AuditEvent(at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), actor_type=ActorType.STAFF, actor_id="oid-1",
                       action="desk.unlock", employee_id="E1", outcome="success",
                       reason='Said "hi", then\nleft; =cmd', request_id=None, client_ip=None,
                       details={"invite": "kept"})
    text = audit_export.to_csv([event]).removeprefix(audit_export.BOM)
    assert text.startswith("at,actor_type,") and "\r\n" in text
    assert '"Said ""hi"", then\nleft; =cmd"' in text
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["reason"] == 'Said "hi", then\nleft; =cmd' and row["details"] == '{"invite": "kept"}'
    formula = AuditEvent(at=event.at, actor_type=ActorType.STAFF, actor_id="oid-1", action="desk.unlock",
                         employee_id="=HYPERLINK(1)", outcome="success", reason="-1", details={})
    [row] = list(csv.DictReader(io.StringIO(audit_export.to_csv([formula]), newline="")))
    assert (row["employee_id"], row["reason"]) == ("'=HYPERLINK(1)", "'-1")


def test_csv_starts_with_a_bom_and_names_staff_and_actions_in_words(memory_session, make_settings) -> None:  # type: ignore[no-untyped-def]
    flow = make_flow(memory_session, make_settings())
    flow.person("SD1", with_account=False, email=None, entra_object_id="oid-dana")  # named Ada Lovelace
    person = flow.person("E1")
    desk = StaffMember("oid-dana", "Dana", "dana@contoso.example", frozenset({DESK_ROLE}))
    flow.deps.audit(memory_session, action="desk.unlock", actor=desk.actor, person=person, reason="caller verified")
    flow.deps.audit(memory_session, action="person.created", actor=Actor.system(), person=person)
    memory_session.commit()
    exported = audit_export.export(memory_session, flow.deps, desk, employee_id="E1")
    raw = exported.text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the byte-order mark
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    unlock = next(r for r in rows if r["action"] == "desk.unlock")
    assert (unlock["actor_id"], unlock["actor_name"]) == ("oid-dana", "Ada Lovelace")
    assert unlock["what"] == "Service desk unlocked the activation"
    created = next(r for r in rows if r["action"] == "person.created")
    assert created["what"] == "Person added from HR data" and created["actor_name"] == ""


@pytest.mark.parametrize(
    ("since", "until", "employee_id", "why"),
    [
        (None, None, None, "Give a period"),
        (date(2026, 3, 2), date(2026, 3, 1), None, "before its start"),
        (date(2024, 1, 1), date(2026, 1, 1), None, "at most 366 days"),
        (None, None, "NOBODY", "No person"),
    ],
)
def test_export_requests_are_bounded(memory_session, make_settings, since, until, employee_id, why) -> None:  # type: ignore[no-untyped-def]
    flow = make_flow(memory_session, make_settings())
    desk = StaffMember("oid-dana", "Dana", "dana@contoso.example", frozenset({DESK_ROLE}))
    with pytest.raises(audit_export.ExportRequestInvalid) as invalid:
        audit_export.export(memory_session, flow.deps, desk, since=since, until=until, employee_id=employee_id)
    assert why in invalid.value.why


def test_an_export_that_would_be_cut_is_refused_not_truncated(memory_session, make_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from activation import audit

    monkeypatch.setattr(audit, "MAX_QUERY_ROWS", 3)  # our own constant, not a library internal
    flow = make_flow(memory_session, make_settings())
    for n in range(4):
        memory_session.add(AuditEvent(at=datetime(2026, 3, 2, 9, n, tzinfo=UTC), actor_type=ActorType.SYSTEM,
                                      actor_id="system", action="invite.sent", outcome="success", details={}))
    memory_session.commit()
    desk = StaffMember("oid-dana", "Dana", "dana@contoso.example", frozenset({DESK_ROLE}))
    with pytest.raises(audit_export.ExportRequestInvalid) as invalid:
        audit_export.export(memory_session, flow.deps, desk, since=date(2026, 3, 1), until=date(2026, 3, 3))
    assert "More than 3 events" in invalid.value.why
    exported = audit_export.export(memory_session, flow.deps, desk, since=date(2026, 3, 1), until=date(2026, 3, 1))
    assert exported.rows == 0
