"""The adapters a service needs, bundled; the Graph client is built only when first used."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from activation import audit
from activation.clock import Clock
from activation.config import Settings
from activation.keys import derive_key

if TYPE_CHECKING:
    from activation.graph.auth_methods import TapPolicy
    from activation.graph.protocol import GraphClient
    from activation.mail.protocol import Mailer
    from activation.mail.rendering import EmailRenderer
    from activation.tap_policy_cache import TapPolicyCache


class JobNudger(Protocol):
    def enqueue_after_commit(self, session: Session, job_id: int, delay_seconds: float | None = None) -> None: ...


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    mailer: Mailer
    renderer: EmailRenderer
    graph_provider: Callable[[], GraphClient] = field(repr=False)
    context: audit.RequestContext = audit.NO_REQUEST  # where the work came from, when not passed per call
    jobs: JobNudger | None = None  # the job queue (activation/jobs/); None: rows wait for the consumer's sweep
    tap_policy_cache: TapPolicyCache | None = None  # the runtime's, shared by its requests; None: read every time
    graph_reads: Executor | None = None  # the runtime's threads for parallel Graph reads; None: a pool per call

    @property
    def graph(self) -> GraphClient:
        return self.graph_provider()

    def tap_policy(self) -> TapPolicy:
        """The tenant's TAP policy: from the runtime's cache when it has one (activation/tap_policy_cache.py)."""
        if self.tap_policy_cache is None:
            return self.graph.tap_policy()
        return self.tap_policy_cache.get(self.graph)

    def audit(self, session: Session, **event: Any) -> None:
        """Record an audit event stamped by this clock (so tests with a fake clock see one timeline)."""
        event.setdefault("at", self.clock.now())
        event.setdefault("context", self.context)
        audit.record(session, **event)

    @property
    def otp_key(self) -> bytes:
        return derive_key(self.settings.secret_key, "otp-code")

    @property
    def binding_key(self) -> bytes:
        return derive_key(self.settings.secret_key, "browser-binding")
