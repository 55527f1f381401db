"""The composition of adapters chosen by configuration, shared by the portal and the CLI.

Built once per process from Settings. Adapters that talk to the outside are created lazily on first
use, so that merely starting the portal or running `activation --help` opens no connection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from activation.audit import NO_REQUEST, RequestContext
from activation.clock import Clock, SystemClock
from activation.config import Settings
from activation.db import make_engine, make_session_factory
from activation.deps import Deps

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# Three reads per activation, for as many activations as a worker serves at once (its gunicorn threads)
# and then some: a read waits for a thread only beyond this.
GRAPH_READ_THREADS = 16


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)
    _lazy: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)  # builders may nest (graph mail)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(settings.database.url)
        return cls(settings=settings, engine=engine, session_factory=make_session_factory(engine),
                   clock=clock or SystemClock())

    def provide(self, name: str, build: Any) -> Any:
        """Return the adapter called `name`, building it once with `build()` (thread-safe)."""
        with self._lock:
            if name not in self._lazy:
                self._lazy[name] = build()
            return self._lazy[name]

    def override(self, name: str, adapter: Any) -> None:
        """Install an adapter explicitly (tests hand in fakes this way)."""
        with self._lock:
            self._lazy[name] = adapter

    def dispose(self) -> None:
        with self._lock:
            reads = self._lazy.pop("graph_reads", None)
        if reads is not None:
            reads.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()

    # Adapters chosen by configuration, built on first use.

    @property
    def graph(self) -> Any:
        metrics = self.metrics  # built first: provide() holds the lock while it builds

        def build() -> Any:
            from activation.graph.factory import build_graph_client
            from activation.metrics import MeasuredGraphClient, graph_response_hook

            ms = self.settings.microsoft
            client = build_graph_client(
                graph_url=ms.graph_url, authority_host=ms.authority_host, tenant_id=ms.tenant_id,
                client_id=ms.client_id, client_secret=ms.client_secret or None,
                certificate_path=ms.certificate_path or None,
                certificate_thumbprint=ms.certificate_thumbprint or None, ca_bundle=ms.ca_bundle or None,
                clock=self.clock, provisioning_sp_id=ms.provisioning_sp_id or None,
                provisioning_job_id=ms.provisioning_job_id or None,
                response_hooks=[graph_response_hook(metrics)] if metrics.enabled else [],
            )
            return MeasuredGraphClient(client, metrics) if metrics.enabled else client

        return self.provide("graph", build)

    @property
    def mailer(self) -> Any:
        metrics = self.metrics

        def build() -> Any:
            from activation.mail.factory import build_mailer
            from activation.metrics import MeasuredMailer

            mailer = build_mailer(self.settings.mail, session_factory=self.session_factory,
                                  graph_client_provider=lambda: self.graph)
            return MeasuredMailer(mailer, metrics) if metrics.enabled else mailer

        return self.provide("mailer", build)

    @property
    def metrics(self) -> Any:
        """Counters for /metrics: Prometheus when ACTIVATION_METRICS_TOKEN is set, else a no-op.

        Built on first use; from then on every audit event this runtime's sessions commit is counted.
        """

        def build() -> Any:
            from activation.metrics import build_metrics, count_committed_audit_events

            metrics = build_metrics(self.settings.metrics.token)
            if metrics.enabled:
                count_committed_audit_events(self.session_factory, metrics)
            return metrics

        return self.provide("metrics", build)

    @property
    def renderer(self) -> Any:
        def build() -> Any:
            from activation.mail.rendering import EmailRenderer

            portal = self.settings.portal
            return EmailRenderer(TEMPLATES_DIR / "email", public_url=portal.public_url,
                                 organisation_name=portal.organisation_name, support_contact=portal.support_contact)

        return self.provide("renderer", build)

    @property
    def staff_sign_in(self) -> Any:
        """The staff sign-in provider: one long-lived MSAL application, built on first use."""

        def build() -> Any:
            from activation.staff.auth import build_sign_in

            return build_sign_in(self.settings.microsoft, self.clock)

        return self.provide("staff_sign_in", build)

    @property
    def staff_sessions(self) -> Any:
        """Server-side staff sessions: Redis when configured, else the database."""

        def build() -> Any:
            from activation.staff.sessions import build_session_store

            return build_session_store(self.settings, self.session_factory, self.clock)

        return self.provide("staff_sessions", build)

    @property
    def jobs(self) -> Any:
        """The job queue (activation/jobs/): Huey with every task registered, built on first use."""

        def build() -> Any:
            from activation.jobs.queue import build_queue

            return build_queue(self.settings, self)

        return self.provide("jobs", build)

    @property
    def tap_policy_cache(self) -> Any:
        """The tenant's TAP policy, read at most once a minute by this process (activation/tap_policy_cache.py)."""

        def build() -> Any:
            from activation.tap_policy_cache import TapPolicyCache

            return TapPolicyCache(self.clock)

        return self.provide("tap_policy_cache", build)

    @property
    def graph_reads(self) -> Any:
        """Threads for the Graph reads a request sends side by side (the checks before a pass), kept for
        the process's life: starting two or three threads per activation cost more CPU than the reads'
        own Python work (docs/benchmarks.md, 2026-12-06). Built on first use, so after gunicorn's fork."""

        def build() -> Any:
            from concurrent.futures import ThreadPoolExecutor

            return ThreadPoolExecutor(max_workers=GRAPH_READ_THREADS, thread_name_prefix="graph-read")

        return self.provide("graph_reads", build)

    def deps(self, context: RequestContext = NO_REQUEST) -> Deps:
        return Deps(settings=self.settings, clock=self.clock, mailer=self.mailer, renderer=self.renderer,
                    graph_provider=lambda: self.graph, context=context, jobs=self.jobs,
                    tap_policy_cache=self.tap_policy_cache, graph_reads=self.graph_reads)
