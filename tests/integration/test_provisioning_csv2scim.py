"""Microsoft's CSV2SCIM layout and its quirks, end to end with FakeGraph (fixtures of our own, same shape)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.clock import FakeClock
from activation.db import make_session_factory
from activation.models import Person
from activation.provisioning.apply import RunResult, provision_file
from activation.provisioning.mapping import CSV2SCIM_MAPPING_PATH, load_mapping
from activation.provisioning.reconcile import reconcile
from tests.provisioning_support import DAY_ONE, RecordingGraph, make_deps

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv2scim"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DAYONE = "urn:ietf:params:scim:schemas:extension:dayone:1.0:User"


class Sample:
    def __init__(self, session: Session, deps, graph: RecordingGraph) -> None:  # type: ignore[no-untyped-def]
        self.session, self.deps, self.graph = session, deps, graph
        self.mapping = load_mapping(CSV2SCIM_MAPPING_PATH)

    def run(self, name: str, **options) -> RunResult:  # type: ignore[no-untyped-def]
        self.graph.payloads.clear()
        return provision_file(self.session, self.deps, FIXTURES / name, mapping=self.mapping, **options)

    def settle(self) -> None:
        self.graph.process_uploads()
        reconcile(self.session, self.deps)

    def sent(self, employee_id: str) -> dict:
        return next(op["data"] for op in self.graph.operations() if op["data"]["externalId"] == employee_id)


@pytest.fixture
def sample(make_settings, database_url, db_engine) -> Iterator[Sample]:  # type: ignore[no-untyped-def]
    clock = FakeClock(DAY_ONE)
    graph = RecordingGraph(clock=clock)
    session = make_session_factory(db_engine)()
    yield Sample(session, make_deps(make_settings(database={"url": database_url}), graph, clock), graph)
    session.close()


def test_the_first_extract_with_every_quirk(sample: Sample) -> None:
    result = sample.run("first.csv")

    assert result.counts["rows_read"] == 10 and result.counts["duplicates_collapsed"] == 1
    reasons = Counter(r.field for r in result.rejections)
    assert reasons == {"manager_employee_id": 1, "employee_id": 2}  # the self-manager; 4104 on two lines
    assert {r.employee_id for r in result.rejections} == {"4103", "4104"}
    assert result.counts["plan"]["joiner"] == 3 and result.counts["plan"]["skipped"] == 1  # 4107 inactive
    assert result.counts["held_back"] == 2  # 4105, 4106: hired in 2012 and 2019, no account in Entra ID
    assert set(sample.graph.sent()) == {"4100", "4101", "4102"}
    dangling = next(w for w in result.warnings if w.employee_id == "4102" and w.field == "manager_employee_id")
    assert "sent again automatically once 4999 has an account" in dangling.reason

    orla = sample.sent("4100")
    assert orla["displayName"] == "Orla Quinn" and orla["userType"] == "Employee"
    assert orla["addresses"] == [{"type": "work", "streetAddress": "12 Harbour Row", "locality": "Leeds",
                                  "postalCode": "LS1 4AP", "country": "GB"}]  # UK -> GB
    assert orla["phoneNumbers"] == [{"type": "work", "value": "01134960100"}]
    assert orla[ENTERPRISE]["costCenter"] == "CC4100" and orla[ENTERPRISE]["division"] == "Retail"
    assert orla[DAYONE]["usageLocation"] == "GB" and "workerType" not in orla[DAYONE]
    assert sample.sent("4101")[DAYONE]["hireDate"] == "2026-03-09"  # 2026-03-09T00:00:00-05:00


def test_a_later_file_adds_the_missing_manager_and_the_report_is_sent_again(sample: Sample) -> None:
    sample.run("first.csv")
    sample.settle()
    sample.run("later-adds-manager.csv")
    assert set(sample.graph.sent()) == {"4999"}  # 4102 unchanged: its manager has no account yet
    sample.settle()
    again = sample.run("later-adds-manager.csv")
    assert set(sample.graph.sent()) == {"4102"} and again.counts["plan"]["resync"] == 1
    assert sample.sent("4102")[ENTERPRISE]["manager"] == {"value": "4999"}


def test_a_file_that_clears_a_department_sends_explicit_nulls(sample: Sample) -> None:
    sample.run("first.csv")
    sample.settle()
    moved = sample.run("clears-department.csv")
    assert moved.counts["plan"]["mover"] == 1
    tomas = sample.sent("4101")
    assert tomas[ENTERPRISE]["department"] is None and tomas[ENTERPRISE]["costCenter"] is None
    diff = {c["field"] for r in moved_records(sample, moved) for c in r}
    assert {"department", "cost_center"} <= diff
    person = sample.session.scalars(select(Person).where(Person.employee_id == "4101")).one()
    assert person.department is None and person.cost_center is None


def test_the_logic_apps_rows_wrapper_is_read(sample: Sample) -> None:
    result = sample.run("logic-apps-rows.json", dry_run=True)
    assert result.counts["rows_read"] == 2 and not result.rejections
    assert result.counts["plan"]["joiner"] == 1 and result.counts["held_back"] == 1  # 4301 started in 2021


def moved_records(sample: Sample, result: RunResult) -> list[list[dict]]:
    from activation.provisioning.runs import get_run, run_document

    document = run_document(sample.session, get_run(sample.session, result.run_id))
    return [r["changes"] for r in document["records"] if r["action"] == "mover"]


def test_a_complete_extract_that_drops_five_people_reports_them_and_changes_nothing(sample: Sample) -> None:
    sample.run("complete-day1.csv")
    sample.settle()
    result = sample.run("complete-day2.csv", complete=True)
    assert result.counts["plan"]["absent"] == 5 and sample.graph.payloads == []
    assert "5 people we know are missing from this complete file" in result.message
    records = {r["employee_id"]: r for r in moved_records_all(sample, result) if r["action"] == "absent"}
    assert set(records) == {"5205", "5206", "5207", "5208", "5209"}
    assert "last known: Operator, Operations" in records["5205"]["note"]
    assert "has an Entra ID account" in records["5205"]["note"]
    not_declared = sample.run("complete-day2.csv")
    assert not_declared.counts["plan"]["absent"] == 0  # absence means nothing unless the file is complete


def test_absent_people_are_switched_off_only_when_configured_and_under_the_guard(sample: Sample, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = CSV2SCIM_MAPPING_PATH.read_text(encoding="utf-8").replace(
        'unknown_columns = "ignore"', 'unknown_columns = "ignore"\ncomplete = true\nabsent_workers = "switch_off"')
    (tmp_path / "complete.toml").write_text(text, encoding="utf-8")
    sample.run("complete-day1.csv")
    sample.settle()
    sample.mapping = load_mapping(tmp_path / "complete.toml")
    blocked = sample.run("complete-day2.csv")  # 5 of 10 known active people: the guard stops it
    assert blocked.verdict.blocked and blocked.counts["plan"]["leaver"] == 5 and sample.graph.payloads == []
    forced = sample.run("complete-day2.csv", force=True)
    assert forced.counts["plan"]["leaver"] == 5
    leavers = {r["employee_id"]: r for r in moved_records_all(sample, forced) if r["action"] == "leaver"}
    assert set(leavers) == {"5205", "5206", "5207", "5208", "5209"}
    assert "absent from a complete file; switched off" in leavers["5205"]["note"]
    assert all(sample.graph.sent()[employee_id] is False for employee_id in leavers)


def moved_records_all(sample: Sample, result: RunResult) -> list[dict]:
    from activation.provisioning.runs import get_run, run_document

    return run_document(sample.session, get_run(sample.session, result.run_id))["records"]
