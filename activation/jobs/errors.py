"""Why a job did not finish this time."""

from __future__ import annotations

from activation.errors import ActivationError


class RetryLater(ActivationError):
    """Transient: run the job again after a backoff (or after `delay` seconds when the cause says so)."""

    def __init__(self, reason: str, *, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class Paced(RetryLater):
    """Not a failure: the job waits for room under a rate limit; it does not use up an attempt."""


class GiveUp(ActivationError):
    """Permanent: retrying cannot help (bad payload, missing record); the desk sees the reason."""
