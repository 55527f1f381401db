"""The HR push API from the attacker's side: deep JSON, wrong keys (audited, rate-limited), key expiry
and rotation driven through the CLI, oversized bodies."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from activation import cli_commands
from activation.cli import cli
from activation.clock import FakeClock
from activation.mail.fake import FakeMailer
from activation.models import AuditEvent
from activation.runtime import Runtime
from portal import create_app
from tests.provisioning_support import FAKE_PROVISIONING_APP, REPO_ROOT, RecordingGraph


@dataclass
class Api:
    client: FlaskClient
    runtime: Runtime
    clock: FakeClock

    def push(self, key: str | None, body: object = None, ip: str = "198.51.100.7"):  # type: ignore[no-untyped-def]
        data = body if isinstance(body, bytes | str) else json.dumps(body if body is not None else [])
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return self.client.post("/api/v1/workers", data=data, content_type="application/json", headers=headers,
                                environ_base={"REMOTE_ADDR": ip})

    def events(self, action: str) -> list[AuditEvent]:
        with self.runtime.session_factory() as session:
            rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
            session.expunge_all()
            return rows


@pytest.fixture
def api(make_settings, database_url, db_engine) -> Api:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": database_url}, portal={"max_request_bytes": 20_000},
                             microsoft=FAKE_PROVISIONING_APP)
    clock = FakeClock(datetime.now(UTC))
    runtime = Runtime.from_settings(settings, engine=db_engine, clock=clock)
    runtime.override("graph", RecordingGraph(clock=clock))
    runtime.override("mailer", FakeMailer())
    return Api(create_app(runtime=runtime).test_client(), runtime, clock)


@pytest.fixture
def cli_run(monkeypatch, tmp_path, database_url, db_engine):  # type: ignore[no-untyped-def]
    cli_commands.register(cli)
    for name, value in {"ACTIVATION_ENV": "test", "ACTIVATION_DATABASE_URL": database_url,
                        "ACTIVATION_INSTANCE_DIR": str(tmp_path), "ACTIVATION_CONFIG_DIR": str(REPO_ROOT / "config"),
                        "COLUMNS": "200"}.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    return run


def key_from(output: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith("dak_"))


@pytest.mark.parametrize("depth", [9, 100, 5_000, 100_000])
def test_deeply_nested_json_is_a_400_without_a_traceback(api: Api, cli_run, depth: int, caplog) -> None:  # type: ignore[no-untyped-def]
    key = key_from(cli_run("api-key", "create", "workday")[1])
    caplog.set_level(logging.ERROR)
    answer = api.push(key, "[" * depth + "]" * depth)
    assert answer.status_code in (400, 413)
    assert answer.is_json and "nested" in answer.get_json()["error"]["message"] or answer.status_code == 413
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_nesting_inside_strings_is_not_counted(api: Api, cli_run) -> None:  # type: ignore[no-untyped-def]
    key = key_from(cli_run("api-key", "create", "workday")[1])
    answer = api.push(key, json.dumps([{"employee_id": "[" * 500 + '\\"{{{'}]))
    assert answer.status_code != 500 and "nested" not in answer.get_data(as_text=True)


def test_wrong_keys_are_audited_with_ip_and_prefix_never_the_key(api: Api, cli_run) -> None:  # type: ignore[no-untyped-def]
    good = key_from(cli_run("api-key", "create", "workday")[1])
    wrong = good[:13] + ("A" if good[13] != "A" else "B") + good[14:]
    unknown = "dak_00000001_" + "x" * 43
    for presented in (wrong, unknown, "not-a-key", None):
        assert api.push(presented, ip="203.0.113.5").status_code == 401
    refused = api.events("api_key.refused")
    assert [e.reason for e in refused] == ["wrong", "unknown", "malformed", "missing"]
    assert {e.client_ip for e in refused} == {"203.0.113.5"}
    assert [e.details["key_prefix"] for e in refused] == [good[:12], "dak_00000001", None, None]
    assert good not in repr([e.__dict__ for e in refused]) and wrong not in repr([e.__dict__ for e in refused])


def test_wrong_keys_are_rate_limited_per_client_ip_in_the_database(api: Api, cli_run) -> None:  # type: ignore[no-untyped-def]
    good = key_from(cli_run("api-key", "create", "workday")[1])
    answers = [api.push("dak_00000001_" + "x" * 43, ip="203.0.113.6").status_code for _ in range(30)]
    assert answers[:10] == [401] * 10 and set(answers[10:]) == {429}
    assert api.push(good, ip="203.0.113.6").status_code == 429  # guessing from there stops everything there
    assert api.push(good, [], ip="203.0.113.99").status_code == 400  # other addresses are not affected
    assert len(api.events("api_key.refused")) == 10  # the audit stays bounded too
    assert len(api.events("api_key.rate_limited")) == 1
    second_app = create_app(runtime=api.runtime).test_client()  # another worker, same database counters
    assert second_app.post("/api/v1/workers", data="[]", content_type="application/json",
                           headers={"Authorization": "Bearer x"},
                           environ_base={"REMOTE_ADDR": "203.0.113.6"}).status_code == 429
    api.clock.advance(16 * 60)
    assert api.push(good, [], ip="203.0.113.6").status_code == 400  # the window has passed: the key works


def test_a_key_expires(api: Api, cli_run) -> None:  # type: ignore[no-untyped-def]
    code, output = cli_run("api-key", "create", "workday", "--expires", "30")
    assert code == 0 and "expires on" in output
    key = key_from(output)
    assert api.push(key, []).status_code == 400  # accepted (an empty list is a 400 from the API itself)
    api.clock.advance(31 * 86400)
    assert api.push(key, []).status_code == 401
    assert api.events("api_key.refused")[-1].reason == "expired"
    expiry = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert expiry in cli_run("api-key", "list")[1]
    assert cli_run("api-key", "create", "other", "--expires", "0")[0] == 2


def test_rotation_gives_a_new_key_and_the_old_one_works_for_the_overlap_only(api: Api, cli_run) -> None:  # type: ignore[no-untyped-def]
    old = key_from(cli_run("api-key", "create", "workday", "--expires", "90")[1])
    code, output = cli_run("api-key", "rotate", "workday", "--overlap-hours", "2")
    assert code == 0 and "previous key works until" in output
    new = key_from(output)
    assert new != old
    assert api.push(new, []).status_code == 400 and api.push(old, []).status_code == 400
    api.clock.advance(3 * 3600)
    assert api.push(old, []).status_code == 401 and api.events("api_key.refused")[-1].reason == "rotated"
    assert api.push(new, []).status_code == 400
    newest = key_from(cli_run("api-key", "rotate", "workday", "--overlap-hours", "0")[1])
    assert api.push(new, []).status_code == 401 and api.push(newest, []).status_code == 400
    assert cli_run("api-key", "rotate", "nobody")[0] == 2


def test_a_revoked_key_cannot_be_rotated_back_to_life(api: Api, cli_run) -> None:  # type: ignore[no-untyped-def]
    key = key_from(cli_run("api-key", "create", "workday")[1])
    assert cli_run("api-key", "revoke", "workday")[0] == 0
    assert cli_run("api-key", "rotate", "workday")[0] == 2
    assert api.push(key, []).status_code == 401


def test_an_oversized_body_is_refused_before_parsing(api: Api, cli_run) -> None:  # type: ignore[no-untyped-def]
    key = key_from(cli_run("api-key", "create", "workday")[1])
    answer = api.push(key, "[" + ",".join(['{"employee_id": "E1"}'] * 5000) + "]")
    assert answer.status_code == 413 and answer.is_json
