"""What an operator watches, as counters and histograms: a port with a no-op and a Prometheus adapter.

Chosen by configuration (`build_metrics`): with ACTIVATION_METRICS_TOKEN set the portal counts with
prometheus-client, which under gunicorn writes one file per worker in PROMETHEUS_MULTIPROC_DIR
(config/gunicorn.conf.py sets it up) so /metrics sums every worker; otherwise nothing is counted.

Most counts come from the audit trail, so no service has to remember to count: every AuditEvent
committed is counted by action and outcome, and the interesting ones also by name (activations by
state, lockouts, unlocks and desk actions, provisioning records). Rolled-back events are not counted.
Graph calls, mail and request latency are counted by thin wrappers around the adapters.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from activation.errors import ConfigurationError

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class Metric:
    kind: str  # "counter" or "histogram"
    help: str
    labels: tuple[str, ...] = ()


CATALOGUE: dict[str, Metric] = {
    "activation_audit_events": Metric("counter", "Audit events committed, by action and outcome.",
                                      ("action", "outcome")),
    "activation_activations": Metric("counter", "Activation state changes, by new state and outcome.",
                                     ("state", "outcome")),
    "activation_lockouts": Metric("counter", "Activations locked after too many wrong codes."),
    "activation_desk_actions": Metric("counter", "Service desk actions (unlock, reset, revoke TAP, ...).",
                                      ("action", "outcome")),
    "activation_unlocks": Metric("counter", "Locked activations unlocked by the service desk."),
    "activation_provisioning_records": Metric("counter", "Provisioning records reconciled, by outcome.",
                                              ("outcome",)),
    "activation_step_seconds": Metric("histogram", "Time to answer one step of a journey (portal endpoint).",
                                      ("step",)),
    "activation_graph_calls": Metric("counter", "Graph calls by operation and status.", ("operation", "status")),
    "activation_graph_call_seconds": Metric("histogram", "Graph call time including retries.", ("operation",)),
    "activation_graph_throttles": Metric("counter", "Graph answers 429 Too Many Requests."),
    "activation_graph_retryable_responses": Metric("counter", "Graph answers that are retried (429, 5xx).",
                                                   ("status",)),
    "activation_mail": Metric("counter", "Mail handed to the mail backend, by outcome (sent, failed).",
                              ("outcome",)),
}

# audit action -> (metric, labels) beyond the general audit counter
_ACTION_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("activation.", "activation_activations", "state"),
    ("desk.", "activation_desk_actions", "action"),
)
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class Metrics(Protocol):
    def count(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None: ...

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None: ...

    def exposition(self) -> tuple[bytes, str]:
        """The text an operator's scraper reads, and its content type."""
        ...


class NoMetrics:
    """Counting switched off: every call is a no-op."""

    enabled = False

    def count(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        return None

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        return None

    def exposition(self) -> tuple[bytes, str]:
        return b"", "text/plain; charset=utf-8"


class PrometheusMetrics:
    """prometheus-client behind the port; multiprocess when PROMETHEUS_MULTIPROC_DIR is set."""

    enabled = True

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        try:
            import prometheus_client
        except ImportError:  # pragma: no cover - a packaging mistake, reported at start-up
            raise ConfigurationError(
                "ACTIVATION_METRICS_TOKEN is set but prometheus-client is not installed: "
                "pip install 'day-one-activation[production]'."
            ) from None
        self._client = prometheus_client
        self._multiprocess_dir = multiprocess_dir
        self._registry = prometheus_client.CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Any] = {}
        for name, metric in CATALOGUE.items():
            if metric.kind == "counter":
                self._metrics[name] = prometheus_client.Counter(
                    name, metric.help, metric.labels, registry=self._registry)
            else:
                self._metrics[name] = prometheus_client.Histogram(
                    name, metric.help, metric.labels, buckets=LATENCY_BUCKETS, registry=self._registry)

    def _child(self, name: str, labels: Mapping[str, str] | None) -> Any:
        metric = self._metrics[name]
        wanted = CATALOGUE[name].labels
        if not wanted:
            return metric
        values = labels or {}
        return metric.labels(**{key: _label(values.get(key, "")) for key in wanted})

    def count(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        self._child(name, labels).inc(amount)

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self._child(name, labels).observe(value)

    def exposition(self) -> tuple[bytes, str]:
        client = self._client
        if self._multiprocess_dir:
            from prometheus_client import multiprocess

            registry = client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self._multiprocess_dir)
            return client.generate_latest(registry), client.CONTENT_TYPE_LATEST
        return client.generate_latest(self._registry), client.CONTENT_TYPE_LATEST


def build_metrics(token: str, environ: Mapping[str, str] | None = None) -> Metrics:
    """Prometheus when a metrics token is configured, otherwise nothing."""
    if not token:
        return NoMetrics()
    environ = os.environ if environ is None else environ
    return PrometheusMetrics(environ.get("PROMETHEUS_MULTIPROC_DIR") or None)


def _label(value: object) -> str:
    text = str(value) if value is not None else ""
    return text[:64] or "none"


# Counting from the audit trail.

def count_audit_event(metrics: Metrics, action: str, outcome: str) -> None:
    metrics.count("activation_audit_events", {"action": action, "outcome": outcome})
    for prefix, name, label in _ACTION_PREFIXES:
        if action.startswith(prefix):
            metrics.count(name, {label: action.removeprefix(prefix), "outcome": outcome})
    if action == "activation.locked":
        metrics.count("activation_lockouts")
    elif action == "desk.unlock" and outcome == "success":
        metrics.count("activation_unlocks")
    elif action == "provisioning.result":
        metrics.count("activation_provisioning_records", {"outcome": outcome})


def count_committed_audit_events(session_factory: sessionmaker[Session], metrics: Metrics) -> None:
    """Count every audit event the sessions of this factory commit (and none that are rolled back).

    audit.record notes each event it writes in the session's info; the notes are counted at commit."""
    from activation.audit import PENDING_KEY

    def after_commit(session: Session) -> None:
        for action, outcome in session.info.pop(PENDING_KEY, ()):
            count_audit_event(metrics, action, outcome)

    def after_rollback(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)

    event.listen(session_factory, "after_commit", after_commit)
    event.listen(session_factory, "after_rollback", after_rollback)


# Thin wrappers around adapters.

class MeasuredGraphClient:
    """Delegates to the Graph client; counts and times each call by operation (the method name)."""

    def __init__(self, inner: Any, metrics: Metrics, clock: Callable[[], float] = time.perf_counter) -> None:
        self._inner = inner
        self._metrics = metrics
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or not inspect.ismethod(attribute):
            return attribute

        def measured(*args: Any, **kwargs: Any) -> Any:
            started = self._clock()
            status = "ok"
            try:
                return attribute(*args, **kwargs)
            except Exception as exc:
                status = type(exc).__name__
                raise
            finally:
                self._metrics.count("activation_graph_calls", {"operation": name, "status": status})
                self._metrics.observe("activation_graph_call_seconds", self._clock() - started, {"operation": name})

        return measured


def graph_response_hook(metrics: Metrics) -> Callable[..., Any]:
    """A requests response hook counting throttles and retryable answers (every attempt, retries included)."""

    def hook(response: Any, *_args: Any, **_kwargs: Any) -> Any:
        status = getattr(response, "status_code", 0)
        if status == 429:
            metrics.count("activation_graph_throttles")
        if status in RETRYABLE_STATUSES:
            metrics.count("activation_graph_retryable_responses", {"status": str(status)})
        return response

    return hook


class MeasuredMailer:
    """Delegates to the mailer; counts each message as sent or failed."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def send(self, email: Any) -> None:
        try:
            self._inner.send(email)
        except Exception:
            self._metrics.count("activation_mail", {"outcome": "failed"})
            raise
        self._metrics.count("activation_mail", {"outcome": "sent"})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
