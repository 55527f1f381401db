"""The HR push API through the app factory with FakeGraph: keys, pushes, run results, bad bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from activation import api_keys
from activation.clock import FakeClock
from activation.mail.fake import FakeMailer
from activation.models import ApiClient, AuditEvent, Person
from activation.runtime import Runtime
from portal import create_app
from tests.provisioning_support import FAKE_PROVISIONING_APP, RecordingGraph


def worker(employee_id: str, **fields: str) -> dict[str, str]:
    return {
        "employee_id": employee_id, "first_name": "Ada", "last_name": f"Person{employee_id}", "preferred_name": "",
        "personal_email": f"{employee_id.lower()}@home.example", "mobile_phone": "", "manager_id": "",
        "start_date": "2026-03-09", "end_date": "", "department": "Engineering", "job_title": "Engineer",
        "company": "Contoso Ltd", "country": "GB", "usage_location": "GB", "preferred_language": "en-GB",
        "time_zone": "Europe/London", "worker_type": "Employee", "status": "active", **fields,
    }


@dataclass
class Api:
    client: FlaskClient
    runtime: Runtime
    graph: RecordingGraph

    def key(self, name: str = "workday") -> str:
        with self.runtime.session_factory() as session:
            return api_keys.create_api_key(session, name, clock=self.runtime.clock).key

    def push(self, key: str, body: object):  # type: ignore[no-untyped-def]
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post("/api/v1/workers", data=data, content_type="application/json",
                                headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def api(make_settings, database_url, db_engine) -> Api:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": database_url}, portal={"max_request_bytes": 20_000},
                             microsoft=FAKE_PROVISIONING_APP)
    clock = FakeClock(datetime(2026, 2, 20, 9, 0, tzinfo=UTC))
    runtime = Runtime.from_settings(settings, engine=db_engine, clock=clock)
    graph = RecordingGraph(clock=clock)
    runtime.override("graph", graph)
    runtime.override("mailer", FakeMailer())
    return Api(create_app(runtime=runtime).test_client(), runtime, graph)


def test_a_good_key_pushes_workers_and_the_run_shows_each_record(api: Api) -> None:
    key = api.key()
    answer = api.push(key, [worker("W1"), worker("W2", start_date="2026-02-30", personal_email="ada.secret@x")])

    assert answer.status_code == 202, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status"] == "queued" and answer.headers["Location"] == f"/api/v1/runs/{body['run_id']}"
    assert api.graph.sent() == {"W1": False}  # the test environment's queue runs the job as the request commits

    run = api.client.get(answer.headers["Location"], headers={"Authorization": f"Bearer {key}"})
    assert run.status_code == 200
    document = run.get_json()
    assert document["status"] == "uploaded" and document["job"]["state"] == "done"
    assert document["source"] == "api" and document["file"] == "api:workday"
    assert [(r["employee_id"], r["action"], r["upload_status"]) for r in document["records"]] == [
        ("W1", "joiner", "uploaded")]
    rejected = document["rejections"]
    assert rejected and {r["ref"] for r in rejected} == {"index 1"} and rejected[0]["employee_id"] == "W2"
    assert rejected[0]["field"] in {"start_date", "personal_email"} and rejected[0]["reason"]
    assert "ada.secret" not in run.get_data(as_text=True)
    with api.runtime.session_factory() as session:
        assert session.scalars(select(Person.employee_id)).all() == ["W1"]
        client = session.scalars(select(ApiClient)).one()
        assert client.last_used_at is not None and key not in client.key_hash
        created = session.scalars(select(AuditEvent).where(AuditEvent.action == "person.created")).all()
        assert {event.actor_id for event in created} == {"workday"}
        assert all(event.request_id and event.client_ip for event in created)  # traceable to the HTTP call


def test_a_revoked_or_missing_key_gets_401_with_a_bearer_challenge(api: Api) -> None:
    key = api.key()
    with api.runtime.session_factory() as session:
        api_keys.revoke_api_key(session, "workday")
    for headers in ({"Authorization": f"Bearer {key}"}, {}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer " + key[:-1] + ("A" if key[-1] != "A" else "B")}):
        answer = api.client.post("/api/v1/workers", json=[worker("W1")], headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.get_json()["error"]["status"] == 401
    assert api.client.get("/api/v1/runs/1").status_code == 401
    assert api.graph.calls == []


def test_the_logic_apps_rows_wrapper_is_accepted(api: Api) -> None:
    """Microsoft's Logic Apps sample posts {"rows": [...]}; it is the same list of workers."""
    answer = api.push(api.key(), {"rows": [worker("W1")]})
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert api.graph.sent() == {"W1": False}


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    ({"workers": []}, 400, "JSON array"),
    ([], 400, "JSON array"),
    ([{"employee_id": "W1", "favourite_colour": "blue"}], 400, "favourite_colour"),
    ([worker(f"W{n}", job_title="x" * 100) for n in range(200)], 413, "larger than"),
])
def test_a_bad_body_gets_a_json_error_never_a_500(api: Api, body: object, status: int, message: str) -> None:
    answer = api.push(api.key(), body)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.is_json and message in answer.get_json()["error"]["message"]
    assert api.graph.calls == []


def test_records_that_are_not_objects_are_rejected_per_record(api: Api) -> None:
    answer = api.push(api.key(), [worker("W1"), "W2", 3])
    assert answer.status_code == 202
    run = api.client.get(answer.headers["Location"], headers={"Authorization": answer.request.headers["Authorization"]})
    assert run.get_json()["counts"]["rejected_rows"] == 2
    assert api.graph.sent() == {"W1": False}


def test_a_key_sees_only_its_own_runs(api: Api) -> None:
    first = api.push(api.key("workday"), [worker("W1")])
    other = api.key("sap")
    answer = api.client.get(first.headers["Location"], headers={"Authorization": f"Bearer {other}"})
    assert answer.status_code == 404 and answer.is_json


def test_api_keys_are_stored_hashed_and_names_are_unique(api: Api) -> None:
    with api.runtime.session_factory() as session:
        client, key = api_keys.create_api_key(session, "hr-system")
        assert key.startswith("dak_") and client.key_prefix == key[:12] and key not in client.key_hash
        assert "dak_" not in repr(api_keys.create_api_key(session, "other"))
        with pytest.raises(api_keys.ApiKeyError, match="already exists"):
            api_keys.create_api_key(session, "hr-system")
        with pytest.raises(api_keys.ApiKeyError, match="not allowed"):
            api_keys.create_api_key(session, "bad name\n")
        assert api_keys.authenticate(session, key) is not None
        assert api_keys.authenticate(session, key.upper()) is None
        assert api_keys.authenticate(session, "") is None
        api_keys.revoke_api_key(session, "hr-system")
        assert api_keys.authenticate(session, key) is None
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("api_key.%"))).all()
        assert {e.action for e in events} == {"api_key.created", "api_key.revoked"}
        assert all(key not in json.dumps(e.details) for e in events)


def test_a_push_is_answered_at_once_and_the_consumer_runs_it(make_settings, database_url, db_engine,  # type: ignore[no-untyped-def]
                                                            tmp_path) -> None:
    """With a real queue (SQLite-backed Huey, as in development) the answer comes before any upload."""
    settings = make_settings(database={"url": database_url}, microsoft=FAKE_PROVISIONING_APP,
                             queue={"url": f"sqlite:///{tmp_path / 'queue.db'}"})
    runtime = Runtime.from_settings(settings, engine=db_engine, clock=FakeClock(datetime(2026, 2, 20, 9, tzinfo=UTC)))
    graph = RecordingGraph(clock=runtime.clock)
    runtime.override("graph", graph)
    runtime.override("mailer", FakeMailer())
    api = Api(create_app(runtime=runtime).test_client(), runtime, graph)
    key = api.key()
    answer = api.push(key, [worker("W1"), worker("W2")])
    assert answer.status_code == 202 and answer.get_json()["status"] == "queued"
    assert graph.calls == []  # nothing uploaded yet: the request did not wait for the run
    headers = {"Authorization": f"Bearer {key}"}
    waiting = api.client.get(answer.headers["Location"], headers=headers).get_json()
    assert waiting["status"] == "queued" and waiting["job"]["state"] == "queued"
    runtime.jobs.huey.execute(runtime.jobs.huey.dequeue())  # what `activation worker` does with the message
    done = api.client.get(answer.headers["Location"], headers=headers).get_json()
    assert done["status"] == "uploaded" and done["job"] == {"state": "done", "attempts": 1, "last_error": None,
                                                             "next_attempt_at": None, "continued_as_run": None}
    assert graph.sent() == {"W1": False, "W2": False}
