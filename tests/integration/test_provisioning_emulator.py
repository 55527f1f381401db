"""End to end against the emulator over HTTPS (real MSAL, real requests): provision, process, reconcile.

Runs on SQLite and on PostgreSQL (when configured). Processing is triggered with `/_emulator/process`,
so nothing here waits on a timer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from graph_fixtures import Emulator, running_emulator
from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.clock import Clock, FakeClock
from activation.db import make_session_factory
from activation.models import ActivationState, Person
from activation.provisioning import runs
from activation.provisioning.apply import provision_file, resolve_mapping
from activation.provisioning.reconcile import reconcile
from tests.provisioning_support import DAY_ONE, REPO_ROOT, hr_line, make_deps, write_hr


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    yield from running_emulator(tmp_path)


@pytest.fixture
def session(db_engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    session = make_session_factory(db_engine)()
    yield session
    session.close()


def _deps(make_settings, database_url: str, emulator: Emulator, clock: Clock | None = None,  # type: ignore[no-untyped-def]
          **policy):
    info = emulator.info
    settings = make_settings(database={"url": database_url}, policy=policy, microsoft={
        "tenant_id": info.tenant_id, "client_id": info.client_id, "authority_host": info.base_url,
        "graph_url": info.base_url, "ca_bundle": info.ca_path, "provisioning_sp_id": info.provisioning_sp_id,
        "provisioning_job_id": info.provisioning_job_id,
    })
    # The template's and hr_line's start dates are fixed: run on a day before them (joiners not started yet).
    return make_deps(settings, emulator.client(), clock or FakeClock(DAY_ONE))


def _emulator_users(emulator: Emulator) -> dict[str, dict]:
    response = emulator.control.get(f"{emulator.base}/_emulator/users", timeout=10)
    response.raise_for_status()
    return {u["employeeId"]: u for u in response.json()["value"] if u.get("employeeId")}


def test_the_shipped_template_ends_with_disabled_reconciled_users(
        make_settings, database_url, emulator: Emulator, session: Session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    deps = _deps(make_settings, database_url, emulator)
    template = shutil.copy(REPO_ROOT / "config" / "hr-template.csv", tmp_path / "hr.csv")

    result = provision_file(session, deps, template, mapping=resolve_mapping(deps.settings))

    assert result.status == runs.STATUS_UPLOADED, result.message
    assert result.counts["plan"]["joiner"] == 2 and result.counts["plan"]["skipped"] == 1  # E1003 never started
    uploads = [r for r in emulator.requests_log() if r["path"].endswith("/bulkUpload")]
    assert [r["status"] for r in uploads] == [202]
    assert uploads[0]["headers"]["content-type"].startswith("application/scim+json")

    emulator.post("process")
    outcome = reconcile(session, deps, run_id=result.run_id)

    assert (outcome.succeeded, outcome.failed, outcome.pending) == (2, 0, 0)
    users = _emulator_users(emulator)
    assert users["E1001"]["accountEnabled"] is False and users["E1002"]["accountEnabled"] is False
    assert "E1003" not in users
    session.expire_all()
    for employee_id in ("E1001", "E1002"):
        person = session.scalars(select(Person).where(Person.employee_id == employee_id)).one()
        assert person.entra_object_id == users[employee_id]["id"]
        assert person.upn == users[employee_id]["userPrincipalName"]
        assert person.account_enabled is False and person.provisioning_error is None
        assert person.activation is not None and person.activation.state is ActivationState.PENDING
    assert users["E1002"]["managerId"] == users["E1001"]["id"]  # manager.value = the manager's externalId
    assert session.get(runs.ProvisioningRun, result.run_id).status == runs.STATUS_COMPLETED  # type: ignore[union-attr]


def test_a_leaver_is_disabled_and_their_sessions_revoked(
        make_settings, database_url, emulator: Emulator, session: Session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    deps = _deps(make_settings, database_url, emulator, mass_change_share=1.0)
    mapping = resolve_mapping(deps.settings)
    first = provision_file(session, deps, write_hr(tmp_path / "day1.csv", hr_line("E1"), hr_line("E2")),
                           mapping=mapping)
    emulator.post("process")
    reconcile(session, deps, run_id=first.run_id)
    emulator.clear_requests()

    second = provision_file(session, deps, write_hr(tmp_path / "day2.csv", hr_line("E1"),
                                                    hr_line("E2", status="terminated")), mapping=mapping)
    emulator.post("process")

    assert second.counts["plan"] == {**second.counts["plan"], "leaver": 1, "unchanged": 1}
    assert [o.sessions_revoked for o in second.leavers] == [True] and not second.leaver_issues
    paths = [(r["method"], r["path"]) for r in emulator.requests_log()]
    assert any(method == "POST" and path.endswith("/revokeSignInSessions") for method, path in paths)
    assert _emulator_users(emulator)["E2"]["accountEnabled"] is False


def test_a_department_cleared_in_hr_is_cleared_in_entra(
        make_settings, database_url, emulator: Emulator, session: Session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    deps = _deps(make_settings, database_url, emulator)
    mapping = resolve_mapping(deps.settings)
    first = provision_file(session, deps, write_hr(tmp_path / "day1.csv", hr_line("E1", department="Sales"),
                                                   hr_line("E2", manager="E1")), mapping=mapping)
    emulator.post("process")
    reconcile(session, deps, run_id=first.run_id)
    before = _emulator_users(emulator)
    assert before["E1"]["department"] == "Sales" and before["E2"]["managerId"] == before["E1"]["id"]

    # The mover's department was removed in HR, and E2 lost their manager.
    second = provision_file(session, deps, write_hr(tmp_path / "day2.csv", hr_line("E1", department=""),
                                                    hr_line("E2")), mapping=mapping)
    assert second.counts["plan"]["mover"] == 2
    emulator.post("process")
    outcome = reconcile(session, deps, run_id=second.run_id)

    assert outcome.failed == 0
    users = _emulator_users(emulator)
    assert users["E1"]["department"] is None
    assert users["E2"]["managerId"] is None
