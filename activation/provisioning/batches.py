"""Split planned operations into SCIM bulk requests and pace the calls under the rate ceiling."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from activation.clock import Clock
from activation.errors import ConfigurationError
from activation.provisioning.planner import PlannedOperation
from activation.provisioning.scim import MAX_OPERATIONS, build_bulk_request


@dataclass(frozen=True, slots=True)
class BulkBatch:
    number: int  # 1-based, in upload order
    items: tuple[PlannedOperation, ...]
    request: dict[str, Any]

    @property
    def employee_ids(self) -> tuple[str, ...]:
        return tuple(item.employee_id for item in self.items)


def split_into_batches(operations: Iterable[PlannedOperation], *, size: int = MAX_OPERATIONS) -> Iterator[BulkBatch]:
    """Group operations into bulk requests of at most `size` (<= 50), bulkIds unique per request.

    A bulkId that would repeat inside a request is renamed `<bulkId>-<n>` so the request stays valid.
    """
    if not 1 <= size <= MAX_OPERATIONS:
        raise ConfigurationError(f"batch size {size} is out of range; use 1 to {MAX_OPERATIONS}")
    number = 0
    pending: list[PlannedOperation] = []
    for item in operations:
        pending.append(item)
        if len(pending) == size:
            number += 1
            yield _batch(number, pending)
            pending = []
    if pending:
        yield _batch(number + 1, pending)


def _batch(number: int, items: list[PlannedOperation]) -> BulkBatch:
    seen: set[str] = set()
    unique: list[PlannedOperation] = []
    for item in items:
        bulk_id = str(item.operation["bulkId"])
        if bulk_id in seen:
            suffix = 2
            while f"{bulk_id}-{suffix}" in seen:
                suffix += 1
            bulk_id = f"{bulk_id}-{suffix}"
            item = item._replace(operation={**item.operation, "bulkId": bulk_id})
        seen.add(bulk_id)
        unique.append(item)
    return BulkBatch(number, tuple(unique), build_bulk_request([item.operation for item in unique]))


class RatePacer:
    """Sliding-window pacer: at most `calls` calls in any `period` seconds, waiting on the clock.

    Call `wait()` right before each request. `defer(seconds)` pushes the next call out (a 429's
    Retry-After). `margin` adds a little slack to each wait for servers that count windows differently.
    """

    def __init__(self, calls: int, period: float, clock: Clock, *, margin: float = 0.0) -> None:
        if calls < 1 or period <= 0 or margin < 0:
            raise ConfigurationError(
                f"rate ceiling {calls} calls per {period} s is invalid; use at least 1 call per positive period"
            )
        self.calls = calls
        self.period = period
        self._clock = clock
        self._margin = margin
        self._sent: deque[float] = deque()
        self._not_before = float("-inf")

    def wait(self) -> float:
        """Block until a call is allowed, record it, and return the seconds waited."""
        waited = 0.0
        now = self._clock.monotonic()
        if now < self._not_before:
            delay = self._not_before - now
            self._clock.sleep(delay)
            waited += delay
            now = self._clock.monotonic()
        self._forget_before(now)
        while len(self._sent) >= self.calls:
            delay = max(self._sent[0] + self.period - now, 0.0) + self._margin
            self._clock.sleep(delay)
            waited += delay
            now = self._clock.monotonic()
            self._forget_before(now)
        self._sent.append(now)
        return waited

    def defer(self, seconds: float) -> None:
        """Allow no call for `seconds` from now (e.g. a 429 with Retry-After)."""
        self._not_before = max(self._not_before, self._clock.monotonic() + max(seconds, 0.0))

    def _forget_before(self, now: float) -> None:
        horizon = now - self.period
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()
