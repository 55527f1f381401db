"""The adapters a service needs, bundled; the Graph client is built only when first used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from activation import audit
from activation.clock import Clock
from activation.config import Settings
from activation.keys import derive_key

if TYPE_CHECKING:
    from activation.graph.protocol import GraphClient
    from activation.mail.protocol import Mailer
    from activation.mail.rendering import EmailRenderer


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

    @property
    def graph(self) -> GraphClient:
        return self.graph_provider()

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
