"""/metrics (token-guarded Prometheus text) and /readyz (database, and Redis when configured)."""

from __future__ import annotations

import os

import pytest
from flask import Flask

from activation import audit
from activation.metrics import MeasuredGraphClient, MeasuredMailer, PrometheusMetrics
from activation.runtime import Runtime
from portal import create_app

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def make_app(make_settings, database_url, db_engine):  # type: ignore[no-untyped-def]
    def factory(**overrides) -> Flask:  # type: ignore[no-untyped-def]
        settings = make_settings(database={"url": database_url}, **overrides)
        return create_app(runtime=Runtime.from_settings(settings, engine=db_engine))

    return factory


def test_metrics_is_not_there_without_a_token(make_app) -> None:  # type: ignore[no-untyped-def]
    assert make_app().test_client().get("/metrics").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, "Bearer "])
def test_metrics_needs_the_bearer_token(make_app, header: str | None) -> None:  # type: ignore[no-untyped-def]
    client = make_app(metrics={"token": TOKEN}).test_client()
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert "activation_" not in response.get_data(as_text=True)


def test_metrics_counts_committed_audit_events_and_steps(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(metrics={"token": TOKEN})
    runtime = app.extensions["activation"]
    with runtime.session_factory() as session:
        audit.record(session, action="activation.completed", actor=audit.Actor.system())
        audit.record(session, action="activation.locked", actor=audit.Actor.system())
        audit.record(session, action="desk.unlock", actor=audit.Actor.system())
        session.commit()
        audit.record(session, action="activation.completed", actor=audit.Actor.system())
        session.flush()
        session.rollback()  # never happened: not counted
    client = app.test_client()
    assert client.get("/").status_code == 200
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert 'activation_activations_total{outcome="success",state="completed"} 1.0' in text
    assert "activation_lockouts_total 1.0" in text
    assert "activation_unlocks_total 1.0" in text
    assert 'activation_desk_actions_total{action="unlock",outcome="success"} 1.0' in text
    assert 'activation_step_seconds_count{step="GET starter.home"} 1.0' in text


def test_a_desk_burst_alert_has_its_own_series(make_app) -> None:  # type: ignore[no-untyped-def]
    """What docs/operations.md tells operators to alert on."""
    app = make_app(metrics={"token": TOKEN})
    with app.extensions["activation"].session_factory() as session:
        audit.record(session, action="desk.burst_alert", actor=audit.Actor.staff("agent-oid"), outcome="alert")
        session.commit()
    text = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert 'activation_desk_actions_total{action="burst_alert",outcome="alert"} 1.0' in text


def test_graph_and_mail_wrappers_count_by_operation_and_outcome() -> None:
    metrics = PrometheusMetrics()

    class Graph:
        def enable_user(self, user_id: str) -> None:
            if user_id == "bad":
                raise LookupError(user_id)

    class Mailer:
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send(self, email: str) -> None:
            if email == "broken":
                raise OSError("relay down")
            self.sent.append(email)

    graph = MeasuredGraphClient(Graph(), metrics)
    graph.enable_user("ok")
    with pytest.raises(LookupError):
        graph.enable_user("bad")
    mailer = MeasuredMailer(Mailer(), metrics)
    mailer.send("hello")
    with pytest.raises(OSError, match="relay down"):
        mailer.send("broken")
    text = metrics.exposition()[0].decode()
    assert 'activation_graph_calls_total{operation="enable_user",status="ok"} 1.0' in text
    assert 'activation_graph_calls_total{operation="enable_user",status="LookupError"} 1.0' in text
    assert 'activation_mail_total{outcome="sent"} 1.0' in text
    assert 'activation_mail_total{outcome="failed"} 1.0' in text


def test_readiness_reports_the_database_only_without_redis(make_app) -> None:  # type: ignore[no-untyped-def]
    assert make_app().test_client().get("/readyz").json == {"status": "ok", "database": "ok"}


@pytest.mark.skipif(not os.environ.get("ACTIVATION_TEST_REDIS_URL"), reason="needs ACTIVATION_TEST_REDIS_URL")
def test_readiness_checks_redis_when_configured(make_app) -> None:  # type: ignore[no-untyped-def]
    client = make_app(redis={"url": os.environ["ACTIVATION_TEST_REDIS_URL"]}).test_client()
    assert client.get("/readyz").json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_readiness_fails_when_redis_is_unreachable(make_app) -> None:  # type: ignore[no-untyped-def]
    response = make_app(redis={"url": "redis://127.0.0.1:1/0"}).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "ok", "redis": "unreachable"}


def test_graph_throttles_and_retried_answers_are_counted_per_attempt() -> None:
    from types import SimpleNamespace

    from activation.metrics import graph_response_hook

    metrics = PrometheusMetrics()
    hook = graph_response_hook(metrics)
    for status in (429, 429, 503, 200, 404):
        hook(SimpleNamespace(status_code=status))
    text = metrics.exposition()[0].decode()
    assert "activation_graph_throttles_total 2.0" in text
    assert 'activation_graph_retryable_responses_total{status="429"} 2.0' in text
    assert 'activation_graph_retryable_responses_total{status="503"} 1.0' in text
    assert 'status="404"' not in text
