"""Apply runs end to end with FakeGraph on every database backend: delta, leaver safety, guard, dry-run, pacing."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activation import invites
from activation.audit import Actor
from activation.clock import FakeClock
from activation.db import make_session_factory
from activation.deps import Deps
from activation.graph.errors import BadRequest, Throttled
from activation.graph.models import ProvisioningLogEntry
from activation.models import (
    Activation,
    ActivationState,
    AuditEvent,
    HrStatus,
    Invite,
    Person,
    ProvisioningItem,
    ProvisioningRun,
)
from activation.provisioning import runs
from activation.provisioning.apply import RunResult, provision_file, resolve_mapping
from activation.provisioning.reconcile import reconcile
from tests.provisioning_support import DAY_ONE, RecordingGraph, hr_line, make_deps, write_hr


@dataclass
class World:
    session: Session
    deps: Deps
    graph: RecordingGraph
    clock: FakeClock
    tmp: Path

    def run(self, *lines: str, name: str = "hr.csv", **options) -> RunResult:  # type: ignore[no-untyped-def]
        path = write_hr(self.tmp / name, *lines)
        return provision_file(self.session, self.deps, path, mapping=resolve_mapping(self.deps.settings), **options)

    def person(self, employee_id: str) -> Person:
        self.session.expire_all()
        return self.session.scalars(select(Person).where(Person.employee_id == employee_id)).one()

    def settle(self) -> None:
        """Microsoft processes what was uploaded; we read the results back."""
        self.graph.process_uploads()
        reconcile(self.session, self.deps)

    def next_day(self) -> None:
        self.clock.advance(24 * 3600)
        self.graph.payloads.clear()


@pytest.fixture
def build_world(make_settings, database_url, db_engine, tmp_path):  # type: ignore[no-untyped-def]
    """Factory: a World with policy overrides; its session is closed after the test."""
    sessions: list[Session] = []

    def factory(**policy) -> World:  # type: ignore[no-untyped-def]
        settings = make_settings(database={"url": database_url}, policy=policy)
        clock = FakeClock(DAY_ONE)
        graph = RecordingGraph(clock=clock)
        sessions.append(make_session_factory(db_engine)())
        return World(sessions[-1], make_deps(settings, graph, clock), graph, clock, tmp_path)

    yield factory
    for session in sessions:
        session.close()


@pytest.fixture
def world(build_world) -> World:  # type: ignore[no-untyped-def]
    return build_world()


DAY_ONE_FILE = (hr_line("E1", given="Grace"), hr_line("E2", manager="E1"), hr_line("E3", manager="E1"))


def test_day_one_creates_disabled_joiners_with_pending_activations(world: World) -> None:
    result = world.run(*DAY_ONE_FILE)
    assert result.ok and result.status == runs.STATUS_UPLOADED
    assert world.graph.sent() == {"E1": False, "E2": False, "E3": False}
    operation = world.graph.operations()[1]["data"]
    manager = operation["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]
    assert manager == {"value": "E1"}
    person = world.person("E2")
    assert person.activation is not None and person.activation.state is ActivationState.PENDING
    assert person.last_payload_hash and person.entra_object_id is None

    world.settle()
    person = world.person("E2")
    assert person.entra_object_id == world.graph.find_user_by_employee_id("E2").id  # type: ignore[union-attr]
    assert person.upn and person.account_enabled is False
    assert world.graph.find_user_by_employee_id("E2").account_enabled is False  # type: ignore[union-attr]
    run = world.session.get(ProvisioningRun, result.run_id)
    assert run is not None and run.status == runs.STATUS_COMPLETED
    assert run.counts["results"] == {"success": 3}


def test_day_two_uploads_only_the_changed_people_with_the_right_actions(world: World) -> None:
    world.run(*DAY_ONE_FILE)
    world.settle()
    world.next_day()

    result = world.run(
        hr_line("E1", given="Grace"),                                  # unchanged
        hr_line("E2", manager="E1", department="Finance"),             # mover
        hr_line("E3", manager="E1", status="terminated"),             # leaver
        hr_line("E4", manager="E1"),                                   # joiner
        force=True,  # one leaver out of three is over the 10 % guard
    )

    assert result.rejections == ()
    assert {op["data"]["externalId"] for op in world.graph.operations()} == {"E2", "E3", "E4"}
    assert world.graph.sent() == {"E2": False, "E3": False, "E4": False}
    assert result.counts["plan"]["unchanged"] == 1
    actions = dict(world.session.execute(
        select(ProvisioningItem.employee_id, ProvisioningItem.action).where(ProvisioningItem.run_id == result.run_id)
    ).all())
    assert actions == {"E2": "mover", "E3": "leaver", "E4": "joiner"}
    mover = world.session.scalars(select(ProvisioningItem).where(
        ProvisioningItem.run_id == result.run_id, ProvisioningItem.employee_id == "E2")).one()
    assert mover.details["diff"] == [{"field": "department", "old": "Engineering", "new": "Finance"}]
    assert world.person("E2").department == "Finance"
    assert world.person("E3").hr_status is HrStatus.TERMINATED


def test_a_third_identical_file_uploads_nothing(world: World) -> None:
    world.run(*DAY_ONE_FILE)
    world.settle()
    world.next_day()
    result = world.run(*DAY_ONE_FILE)
    assert world.graph.payloads == [] and result.status == runs.STATUS_COMPLETED and result.ok
    assert result.counts["plan"]["unchanged"] == 3


def test_an_activated_person_stays_enabled_and_a_leaver_is_switched_off(build_world) -> None:  # type: ignore[no-untyped-def]
    world = build_world(mass_change_share=1.0)
    world.run(hr_line("E1"), hr_line("E2"))
    world.settle()
    # The portal activated E1; E2 holds an invite and a TAP, and has signed in somewhere.
    e1, e2 = world.person("E1"), world.person("E2")
    world.graph.enable_user(e1.entra_object_id)  # type: ignore[arg-type]
    e1.activation.state = ActivationState.COMPLETED  # type: ignore[union-attr]
    invite = invites.issue(world.session, world.deps, e2, Actor.system())
    tap = world.graph.create_tap(e2.entra_object_id, 120, True)  # type: ignore[arg-type]
    world.session.commit()
    world.next_day()

    result = world.run(hr_line("E1"), hr_line("E2", status="terminated", end="2026-03-20"))

    assert world.graph.sent() == {"E1": True, "E2": False}  # an HR re-sync never switches E1 off
    world.settle()
    assert world.graph.get_user(e1.entra_object_id).account_enabled is True  # type: ignore[arg-type]
    assert world.graph.get_user(e2.entra_object_id).account_enabled is False  # type: ignore[arg-type]
    assert world.graph.sessions_revoked(e2.entra_object_id) == 1  # type: ignore[arg-type]
    assert world.graph.list_taps(e2.entra_object_id) == []  # type: ignore[arg-type]
    assert ("delete_tap", (e2.entra_object_id, tap.id)) in world.graph.calls
    world.session.expire_all()
    assert world.session.get(Invite, invite.id).superseded_at is not None  # type: ignore[union-attr]
    assert world.person("E2").activation.state is ActivationState.CANCELLED  # type: ignore[union-attr]
    assert world.person("E1").activation.state is ActivationState.COMPLETED  # type: ignore[union-attr]
    assert [o.employee_id for o in result.leavers] == ["E2"] and result.leavers[0].taps_deleted == 1
    audited = set(world.session.scalars(select(AuditEvent.action).where(AuditEvent.employee_id == "E2")))
    assert {"invite.superseded", "activation.cancelled", "account.sessions_revoked", "tap.deleted"} <= audited

    world.next_day()  # E1 activated and unchanged: nothing to send any more
    assert world.run(hr_line("E1"), hr_line("E2", status="terminated", end="2026-03-20")).counts["plan"][
        "unchanged"] == 2


def test_leaver_graph_failures_are_reported_not_fatal(build_world) -> None:  # type: ignore[no-untyped-def]
    world = build_world(mass_change_share=1.0)
    world.run(hr_line("E1"), hr_line("E2"))
    world.settle()
    world.next_day()
    world.graph.fail_next("revoke_sessions", BadRequest("Graph said no", status=400, code="BadRequest"))
    result = world.run(hr_line("E1"), hr_line("E2", status="terminated"))
    assert result.status == runs.STATUS_UPLOADED and not result.ok
    assert [(i.employee_id, i.step) for i in result.leaver_issues] == [("E2", "revoke sessions")]
    assert "Graph said no" in result.leaver_issues[0].error
    assert world.person("E2").activation.state is ActivationState.CANCELLED  # type: ignore[union-attr]
    assert "revoke sessions: " in (world.person("E2").offboarding_issue or "")

    from activation.provisioning.leavers import retry_offboarding

    [retried] = retry_offboarding(world.session, world.deps, actor=Actor.system())
    assert retried.employee_id == "E2" and retried.sessions_revoked and not retried.issues
    assert world.person("E2").offboarding_issue is None
    assert retry_offboarding(world.session, world.deps, actor=Actor.system()) == []


def test_mass_change_guard_blocks_before_uploading_and_force_overrides(world: World) -> None:
    world.run(*(hr_line(f"E{n}") for n in range(1, 5)))
    world.settle()
    world.next_day()
    day_two = [hr_line("E1"), hr_line("E2"), hr_line("E3", status="terminated"), hr_line("E4", status="terminated")]

    preview = world.run(*day_two, dry_run=True)
    assert preview.status == runs.STATUS_PLANNED and not preview.ok  # the real run would stop: exit 1
    blocked = world.run(*day_two)

    assert blocked.status == runs.STATUS_BLOCKED and not blocked.ok
    assert "switch off 2 of 4" in blocked.message and "--force" in blocked.message
    assert world.graph.payloads == []
    assert world.person("E3").hr_status is HrStatus.ACTIVE
    statuses = set(world.session.scalars(select(ProvisioningItem.upload_status).where(
        ProvisioningItem.run_id == blocked.run_id)))
    assert statuses == {runs.UPLOAD_NOT_SENT}

    forced = world.run(*day_two, force=True)
    assert forced.status == runs.STATUS_UPLOADED and forced.forced
    assert world.graph.sent() == {"E3": False, "E4": False}
    assert world.person("E3").hr_status is HrStatus.TERMINATED
    assert world.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "provisioning.guard_overridden")) == 1


def test_dry_run_changes_nothing_but_records_the_plan(world: World, tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.json"
    result = world.run(*DAY_ONE_FILE, hr_line("E9", start="2026-13-01"), hr_line("E8", email="zed.secret@@x"),
                       dry_run=True, report_path=report)

    assert result.status == runs.STATUS_PLANNED and result.mode == runs.MODE_DRY_RUN
    assert world.graph.calls == [] and world.graph.payloads == []
    assert world.session.scalar(select(func.count()).select_from(Person)) == 0
    assert world.session.scalar(select(func.count()).select_from(Activation)) == 0
    items = world.session.scalars(select(ProvisioningItem).where(ProvisioningItem.run_id == result.run_id)).all()
    assert {(i.employee_id, i.action, i.upload_status) for i in items if i.action == "joiner"} == {
        ("E1", "joiner", "planned"), ("E2", "joiner", "planned"), ("E3", "joiner", "planned")}
    assert any(i.action == "rejected" and i.source_ref == "line 5" for i in items)
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["mode"] == "dry-run" and document["run_id"] == result.run_id
    assert document["file_sha256"] and document["mass_change"]["blocked"] is False
    rejections = {r["ref"]: r for r in document["rejections"]}
    assert rejections["line 5"]["field"] == "start_date" and rejections["line 5"]["value"] == "2026-13-01"
    assert rejections["line 6"]["field"] == "personal_email" and rejections["line 6"]["reason"]
    assert "zed.secret" not in report.read_text(encoding="utf-8")


def test_uploads_are_paced_under_the_ceiling(build_world) -> None:  # type: ignore[no-untyped-def]
    world = build_world(upload_rate_calls=2, upload_rate_period_seconds=10.0)
    result = world.run(*(hr_line(f"E{n}") for n in range(1, 121)))  # 3 batches, ceiling 2 per 10 s
    assert result.ok and [len(p["Operations"]) for p in world.graph.payloads] == [50, 50, 20]
    assert sum(world.clock.slept) >= 10.0  # the third call waited for the window, no 429 needed


def test_a_throttled_batch_is_retried_after_retry_after(world: World) -> None:
    world.graph.fail_next("bulk_upload", Throttled("Too many requests", retry_after=7.0))
    result = world.run(*DAY_ONE_FILE)
    assert result.ok and world.graph.sent() == {"E1": False, "E2": False, "E3": False}
    assert sum(world.clock.slept) >= 7.0


def test_a_failed_batch_is_recorded_and_the_run_goes_on(world: World) -> None:
    world.graph.fail_next("bulk_upload", BadRequest("Operations[3] is broken", status=400, code="BadRequest"))
    result = world.run(*(hr_line(f"E{n}") for n in range(1, 61)))  # batches of 50 and 10
    assert result.status == runs.STATUS_UPLOADED and not result.ok
    assert [(f.batch, len(f.employee_ids)) for f in result.upload_failures] == [(1, 50)]
    assert "Operations[3] is broken" in result.upload_failures[0].error
    assert len(world.graph.operations()) == 10
    assert world.person("E1").last_payload_hash is None and world.person("E55").last_payload_hash
    failed = world.session.scalars(select(ProvisioningItem).where(
        ProvisioningItem.run_id == result.run_id, ProvisioningItem.employee_id == "E1")).one()
    assert failed.upload_status == runs.UPLOAD_FAILED and "broken" in failed.details["upload_error"]
    world.next_day()
    retry = world.run(*(hr_line(f"E{n}") for n in range(1, 61)))  # the failed ones go up again, nothing else
    assert retry.ok and len(world.graph.operations()) == 50


def test_microsoft_failures_are_recorded_and_cleared_on_success(world: World) -> None:
    world.run(hr_line("E1"))
    world.graph.logs.append(failure_entry(world, "E1"))
    result = reconcile(world.session, world.deps)
    assert result.failed == 1 and result.pending == 0
    assert result.failures[0].error == "AttributeValueRequired: userName is required"
    assert world.person("E1").provisioning_error == "AttributeValueRequired: userName is required"

    world.next_day()
    world.run(hr_line("E1", department="Finance"))
    world.settle()
    person = world.person("E1")
    assert person.provisioning_error is None and person.entra_object_id


def test_wait_polls_until_microsoft_has_processed(world: World) -> None:
    graph = SlowGraph(clock=world.clock, process_on_poll=3)
    world.deps.graph_provider = lambda: graph
    result = world.run(*DAY_ONE_FILE, wait=True, wait_seconds=120)
    assert result.reconciliation is not None and result.reconciliation.pending == 0
    assert result.reconciliation.succeeded == 3 and result.status == runs.STATUS_COMPLETED
    assert 0 < sum(world.clock.slept) < 120


def test_wait_gives_up_at_the_deadline(world: World) -> None:
    graph = SlowGraph(clock=world.clock, process_on_poll=10_000)
    world.deps.graph_provider = lambda: graph
    result = world.run(*DAY_ONE_FILE, wait=True, wait_seconds=60)
    assert result.reconciliation is not None and result.reconciliation.pending == 3
    assert result.status == runs.STATUS_UPLOADED
    assert 60 <= sum(world.clock.slept) < 61


def test_joiners_with_an_account_starting_soon_are_queued_for_invite(world: World) -> None:
    world.run(hr_line("E1", start="2026-02-24"), hr_line("E2", start="2026-06-01"))
    world.graph.process_uploads()
    result = reconcile(world.session, world.deps)
    assert result.queued_for_invite == 1
    sent = invites.send_due(world.session, world.deps)
    assert sent.sent == ["E1"]


@dataclass
class SlowGraph(RecordingGraph):
    """Processes uploads only on the n-th read of the provisioning logs, like a slow service."""

    process_on_poll: int = 1
    polls: int = 0

    def provisioning_logs(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.polls += 1
        if self.polls >= self.process_on_poll:
            self.process_uploads()
        return super().provisioning_logs(*args, **kwargs)


def failure_entry(world: World, employee_id: str) -> ProvisioningLogEntry:
    return ProvisioningLogEntry(
        id="log-1", activity_at=world.clock.now(), job_id=world.graph.job_id, change_id="c-1", action="create",
        status="failure", source_id=employee_id, source_display_name=None, target_id=None, target_upn=None,
        error_code="AttributeValueRequired", error_reason="userName is required",
    )


def test_existing_workers_with_enabled_accounts_are_adopted_not_switched_off(world: World) -> None:
    """A first import lists people who already work here: their enabled accounts must stay on."""
    veteran = world.graph.add_user("V1", "v1@contoso.example", "Val Veteran", account_enabled=True)
    world.graph.add_user("V2", "v2@contoso.example", "Dee Disabled", account_enabled=False)
    result = world.run(hr_line("V1", start="2019-04-01"), hr_line("V2", start="2019-04-01"),
                       hr_line("N1", start="2026-03-09"))
    assert result.ok and result.counts["adopted"] == 1
    assert world.graph.sent() == {"V1": True, "V2": False, "N1": False}
    adopted = world.person("V1")
    assert adopted.entra_object_id == veteran.id
    assert adopted.activation is not None and adopted.activation.state is ActivationState.COMPLETED
    assert world.person("V2").activation.state is ActivationState.PENDING  # type: ignore[union-attr]


def test_dry_run_shows_adoption_without_storing_anything(world: World) -> None:
    world.graph.add_user("V1", "v1@contoso.example", "Val Veteran", account_enabled=True)
    result = world.run(hr_line("V1", start="2019-04-01"), dry_run=True)
    assert result.counts["adopted"] == 1
    assert world.session.scalars(select(Person)).all() == []


def test_a_second_applying_run_is_refused_while_one_is_running(world: World) -> None:
    from activation.provisioning.runs import RunInProgress, start_run

    running = start_run(world.session, world.deps, source="file", source_name="other.csv", source_hash=None,
                        mode=runs.MODE_APPLY, actor=Actor.system())
    with pytest.raises(RunInProgress, match=f"run {running.id} \\(other.csv\\)"):
        world.run(*DAY_ONE_FILE)
    assert world.run(*DAY_ONE_FILE, dry_run=True).status == runs.STATUS_PLANNED  # a dry run may still look
    world.clock.advance(3 * 3600)  # a run "running" for hours has crashed: it no longer blocks
    assert world.run(*DAY_ONE_FILE).ok


def test_long_started_people_without_an_account_are_held_back_as_one_group(world: World, tmp_path: Path) -> None:
    """Microsoft's 1000-row sample: every joiner's hire date is years past. No dead disabled accounts."""
    world.graph.add_user("V1", "v1@contoso.example", "Val Veteran", account_enabled=True)
    report = tmp_path / "report.json"
    result = world.run(hr_line("V1", start="2019-04-01"), hr_line("H1", start="2013-01-01"),
                       hr_line("H2", start="2017-03-09T00:00:00-05:00"), hr_line("N1", start="2026-03-09"),
                       report_path=report)

    assert world.graph.sent() == {"V1": True, "N1": False}  # H1, H2: nothing created
    assert result.counts["held_back"] == 2 and result.counts["plan"]["held_back"] == 2
    assert not result.ok  # the operator has a decision to make
    decision = result.counts["held_back_decision"]
    assert "2 people started more than 14 day(s) ago" in decision and "--past-starters provision" in decision
    assert "held back" in result.message
    assert world.session.scalars(select(Person).where(Person.employee_id.in_(["H1", "H2"]))).all() == []
    document = json.loads(report.read_text(encoding="utf-8"))
    held = {r["employee_id"]: r for r in document["records"] if r["action"] == "held_back"}
    assert set(held) == {"H1", "H2"} and held["H1"]["upload_status"] == runs.UPLOAD_NOT_SENT
    assert "no account with this employeeId" in held["H1"]["note"]


def test_the_operator_can_provision_long_started_people_anyway(build_world) -> None:  # type: ignore[no-untyped-def]
    world = build_world()
    result = world.run(hr_line("H1", start="2013-01-01"), past_start_policy="provision")
    assert result.ok and world.graph.sent() == {"H1": False}
    configured = build_world()
    configured.deps = make_deps(configured.deps.settings.replace(provisioning={"past_start_policy": "provision"}),
                                configured.graph, configured.clock)
    assert configured.run(hr_line("H2", start="2013-01-01"), name="h2.csv").counts["held_back"] == 0


def test_an_unknown_past_start_policy_is_a_configuration_error(world: World) -> None:
    from activation.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="past_start_policy = 'maybe'"):
        world.run(hr_line("H1", start="2013-01-01"), past_start_policy="maybe")


def test_a_dry_run_without_microsoft_settings_says_the_adoption_lookup_was_skipped(
        make_settings, database_url, db_engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from activation.errors import ConfigurationError

    def no_graph():  # type: ignore[no-untyped-def]
        raise ConfigurationError("Graph needs ACTIVATION_TENANT_ID and ACTIVATION_CLIENT_ID.")

    settings = make_settings(database={"url": database_url})
    deps = make_deps(settings, RecordingGraph(), FakeClock(DAY_ONE))
    deps = Deps(settings=deps.settings, clock=deps.clock, mailer=deps.mailer, renderer=deps.renderer,
                graph_provider=no_graph)
    path = write_hr(tmp_path / "hr.csv", hr_line("V1", start="2019-04-01"), hr_line("N1"))
    with make_session_factory(db_engine)() as session:
        result = provision_file(session, deps, path, mapping=resolve_mapping(settings), dry_run=True)
    assert result.counts["adopted"] == 0
    note = result.counts["adoption_lookup"]
    assert note.startswith("skipped for 1 person who started long ago") and "ACTIVATION_TENANT_ID" in note
    assert "adoption look-up skipped" in result.message
    assert result.counts["plan"]["held_back"] == 1 and result.counts["plan"]["joiner"] == 1


def test_a_report_whose_manager_arrives_later_is_sent_again_once_the_manager_exists(world: World) -> None:
    """Microsoft's samples: 1727's manager 1222 is missing at first; a later file adds 1222."""
    first = world.run(hr_line("1727", manager="1222"))
    warning = next(w for w in first.warnings if w.employee_id == "1727")
    assert "sent again automatically once 1222 has an account" in warning.reason
    world.settle()
    assert world.person("1727").manager_pending is True

    world.next_day()
    later = world.run(hr_line("1222"), hr_line("1727", manager="1222"), name="later.csv")  # adds the manager
    assert later.counts["plan"]["joiner"] == 1 and set(world.graph.sent()) == {"1222"}
    world.settle()  # 1222 now has an account

    world.next_day()
    again = world.run(hr_line("1222"), hr_line("1727", manager="1222"), name="again.csv")
    assert set(world.graph.sent()) == {"1727"} and again.counts["plan"]["resync"] == 1
    sent = world.graph.operations()[0]["data"]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert sent["manager"] == {"value": "1222"}
    assert world.person("1727").manager_pending is False
    item = world.session.scalars(select(ProvisioningItem).where(
        ProvisioningItem.run_id == again.run_id, ProvisioningItem.employee_id == "1727")).one()
    assert "manager 1222 now has an account" in item.details["note"]

    world.next_day()
    world.run(hr_line("1222"), hr_line("1727", manager="1222"), name="settled.csv")
    assert world.graph.sent() == {}  # nothing left to repair


@dataclass
class OneUploadPerPoll(RecordingGraph):
    """Microsoft works through one bulk request between two reads of the logs."""

    def provisioning_logs(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self._staged:
            staged, self._staged = self._staged, self._staged[1:]
            self._staged = staged[:1]
            self.process_uploads()
            self._staged = staged[1:]
        return super().provisioning_logs(*args, **kwargs)


def test_wait_reports_every_uploaded_record_not_only_the_last_poll(world: World) -> None:
    graph = OneUploadPerPoll(clock=world.clock)
    world.deps.graph_provider = lambda: graph
    result = world.run(*(hr_line(f"W{n}", email=f"w{n}@home.example") for n in range(120)), wait=True,
                       wait_seconds=600)
    reconciliation = result.reconciliation
    assert reconciliation is not None and reconciliation.pending == 0
    assert (reconciliation.checked, reconciliation.succeeded) == (120, 120)


def test_a_dry_run_does_not_count_skipped_rows_as_planned_uploads(world: World) -> None:
    result = world.run(hr_line("E1"), hr_line("E2", status="terminated", start="2025-01-06", end="2025-06-30"),
                       dry_run=True)
    assert result.counts["plan"]["skipped"] == 1
    assert result.counts["uploads"] == {"planned": 1, "not_sent": 1}


@dataclass
class MeetingGraph(RecordingGraph):
    """Each bulk request waits (bounded) until another one is in flight: passes only with concurrent uploads."""

    meeting: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=10))
    met: int = 0

    def bulk_upload(self, payload):  # type: ignore[no-untyped-def]
        if self.payloads:  # the first request goes alone (token, pacer); the others overlap
            self.meeting.wait()
            self.met += 1
        return super().bulk_upload(payload)


def test_uploads_overlap_behind_the_shared_pacer(build_world) -> None:  # type: ignore[no-untyped-def]
    world = build_world()
    graph = MeetingGraph(clock=world.clock)
    world.deps.graph_provider = lambda: graph
    result = world.run(*(hr_line(f"C{n}", email=f"c{n}@home.example") for n in range(250)))  # 5 batches
    assert result.ok and graph.met == 4
    assert sorted(len(p["Operations"]) for p in graph.payloads) == [50] * 5
    items = world.session.scalars(select(ProvisioningItem.batch).where(ProvisioningItem.run_id == result.run_id))
    assert sorted(set(items)) == [1, 2, 3, 4, 5]


def test_a_bad_upload_concurrency_fails_before_anything_is_sent(make_settings, database_url, db_engine,
                                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    from activation.errors import ConfigurationError

    settings = make_settings(database={"url": database_url}, provisioning={"upload_concurrency": 0})
    graph = RecordingGraph()
    deps = make_deps(settings, graph, FakeClock(DAY_ONE))
    with make_session_factory(db_engine)() as session, pytest.raises(ConfigurationError, match="upload_concurrency"):
        provision_file(session, deps, write_hr(tmp_path / "hr.csv", hr_line("E1")),
                       mapping=resolve_mapping(settings))
    assert graph.payloads == []


def test_a_run_that_would_exceed_the_daily_bulk_upload_quota_stops_before_uploading(build_world) -> None:  # type: ignore[no-untyped-def]
    world = build_world(bulk_upload_daily_quota=3)
    first = world.run(*(hr_line(f"E{n}") for n in range(1, 101)))  # 2 calls of today's 3
    assert first.status == runs.STATUS_UPLOADED and len(world.graph.payloads) == 2
    assert first.counts["bulk_upload_quota"] == {"daily_quota": 3, "used_today": 0, "left": 3, "needed": 2}
    plan = world.run(*(hr_line(f"F{n}") for n in range(1, 61)), name="more.csv", dry_run=True)
    assert "applying it now would stop" in plan.message and "only 1 of today's 3 are left" in plan.message
    second = world.run(*(hr_line(f"F{n}") for n in range(1, 61)), name="more.csv")  # needs 2, 1 left
    assert second.status == runs.STATUS_BLOCKED and len(world.graph.payloads) == 2  # nothing more was sent
    assert "needs 2 bulkUpload call(s) but only 1 of today's 3 are left" in second.message
    world.next_day()
    third = world.run(*(hr_line(f"F{n}") for n in range(1, 61)), name="more.csv")
    assert third.status == runs.STATUS_UPLOADED and len(world.graph.payloads) == 2  # a new day, a new quota


def test_the_schedule_provisions_each_dropped_file_once_and_queues_reconcile(  # type: ignore[no-untyped-def]
        make_settings, database_url, db_engine, tmp_path) -> None:
    from activation.jobs.handlers import default_handlers
    from activation.jobs.runner import run_job
    from activation.jobs.submit import submit
    from activation.models import Job, JobState

    drop = tmp_path / "drop"
    drop.mkdir()
    clock = FakeClock(DAY_ONE)
    graph = RecordingGraph(clock=clock)
    deps = make_deps(make_settings(database={"url": database_url}, queue={"drop_folder": str(drop)}), graph, clock)
    write_hr(drop / "workers.csv", *DAY_ONE_FILE)
    (drop / "notes.txt").write_text("not an HR file", encoding="utf-8")
    with make_session_factory(db_engine)() as session:
        first = submit(session, deps, "schedule.provision_drop_folder", key="slot-1")
        session.commit()
        assert run_job(session, deps, first.id, default_handlers()).state is JobState.DONE
        assert graph.sent() == {"E1": False, "E2": False, "E3": False}
        assert sorted(p.name for p in drop.iterdir()) == ["notes.txt", "processed"]
        run_id = session.get(Job, first.id).result["handled"][0]["run_id"]  # type: ignore[union-attr,index]
        reconcile_job = session.scalars(select(Job).where(Job.kind == "provisioning.reconcile")).one()
        assert reconcile_job.key == f"run-{run_id}" and reconcile_job.not_before is not None  # polled later
        write_hr(drop / "again.csv", *DAY_ONE_FILE)  # the same content dropped again: not provisioned twice
        graph.payloads.clear()
        second = submit(session, deps, "schedule.provision_drop_folder", key="slot-2")
        session.commit()
        run_job(session, deps, second.id, default_handlers())
        assert graph.payloads == [] and session.get(Job, second.id).result["handled"][0]["run_id"] == run_id  # type: ignore[union-attr,index]
