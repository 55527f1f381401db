"""Split planned operations into SCIM bulk requests and pace the calls under the rate ceiling."""

from __future__ import annotations

import threading
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

    Two ways to use it. `wait()` right before a request stamps the call when it starts. `acquire()`
    before and `release(slot)` after a request stamp it when it *ends*: the server saw it somewhere in
    between, so two calls `calls` apart are then at least `period` apart on the server's side whatever
    the latency, and concurrent callers can share one pacer (a call still in flight counts in full).
    `defer(seconds)` pushes the next call out (a 429's Retry-After); `margin` adds slack to each wait.
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
        self._slots: list[list[Any]] = []  # [stamp, finished]; in flight until released
        self._not_before = float("-inf")
        self._changed = threading.Condition()

    def wait(self) -> float:
        """Block until a call is allowed, record it (stamped now), and return the seconds waited."""
        with self._changed:
            waited = self._reserve()
            self._slots.append([self._clock.monotonic(), True])
            return waited

    def acquire(self) -> list[Any]:
        """Block until a call is allowed and hold its place; hand the result to `release` afterwards."""
        with self._changed:
            self._reserve()
            slot = [self._clock.monotonic(), False]
            self._slots.append(slot)
            return slot

    def release(self, slot: list[Any]) -> None:
        """The call ended: it counts from now (the latest moment the server can have seen it)."""
        ended = self._clock.monotonic()  # before the lock: a waiter may hold it while sleeping
        with self._changed:
            slot[0] = max(slot[0], ended)
            slot[1] = True
            self._changed.notify_all()

    def defer(self, seconds: float) -> None:
        """Allow no call for `seconds` from now (e.g. a 429 with Retry-After)."""
        with self._changed:
            self._not_before = max(self._not_before, self._clock.monotonic() + max(seconds, 0.0))

    def _reserve(self) -> float:
        waited = 0.0
        while True:
            now = self._clock.monotonic()
            if now < self._not_before:
                delay = self._not_before - now
                self._clock.sleep(delay)
                waited += delay
                continue
            horizon = now - self.period
            self._slots = [slot for slot in self._slots if not (slot[1] and slot[0] <= horizon)]
            if len(self._slots) < self.calls:
                return waited
            finished = [slot[0] for slot in self._slots if slot[1]]
            if finished:
                delay = max(min(finished) + self.period - now, 0.0) + self._margin
                self._clock.sleep(delay)
                waited += delay
            else:  # every counted call is still in flight: wait for one to end
                self._changed.wait(timeout=self.period)
