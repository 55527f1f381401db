"""Quotas Microsoft enforces beyond the short-term rate ceiling.

- bulkUpload: a daily number of calls per tenant by licence (2,000 with Entra ID P1/P2, 6,000 with
  Governance); over it, 429 with Retry-After until the next UTC midnight.
- sendMail: Exchange Online allows about 30 messages a minute per mailbox; over it, 429 with
  Retry-After, the way Exchange throttles.
Both are configurable (`--bulk-daily-quota`, `--mail-per-minute`, or PUT /_emulator/quotas).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .graph_errors import GraphError


@dataclass
class Quotas:
    bulk_daily_quota: int = 2000
    mail_per_minute: int = 30
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    bulk_day: str = ""
    bulk_used: int = 0
    mail_sent: dict[str, deque[float]] = field(default_factory=dict)

    def take_bulk_call(self, now: dt.datetime | None = None) -> None:
        """Count one bulkUpload call, or raise 429 when today's quota is used up."""
        now = now or dt.datetime.now(dt.UTC)
        with self.lock:
            today = now.date().isoformat()
            if self.bulk_day != today:
                self.bulk_day, self.bulk_used = today, 0
            if self.bulk_used >= self.bulk_daily_quota:
                midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
                raise Throttled(
                    max(1, math.ceil((midnight - now).total_seconds())), "TooManyRequests",
                    f"The daily quota of {self.bulk_daily_quota} bulkUpload calls for this tenant is used up; "
                    "it resets at 00:00 UTC.")
            self.bulk_used += 1

    def take_mail(self, mailbox: str) -> None:
        """Count one sendMail from `mailbox` (sliding minute), or raise 429 like Exchange Online."""
        now = time.monotonic()
        with self.lock:
            window = self.mail_sent.setdefault(mailbox.lower(), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.mail_per_minute:
                raise Throttled(max(1, math.ceil(window[0] + 60 - now)), "ApplicationThrottled",
                                f"Mailbox {mailbox} is over its limit of {self.mail_per_minute} messages a minute.")
            window.append(now)

    def reset_counts(self) -> None:
        with self.lock:
            self.bulk_day, self.bulk_used = "", 0
            self.mail_sent.clear()

    def view(self) -> dict:
        with self.lock:
            return {"bulkDailyQuota": self.bulk_daily_quota, "bulkUsedToday": self.bulk_used,
                    "bulkDay": self.bulk_day, "mailPerMinute": self.mail_per_minute,
                    "mailLastMinute": {box: len(sent) for box, sent in self.mail_sent.items()}}

    def configure(self, body: dict) -> None:
        with self.lock:
            if "bulkDailyQuota" in body:
                self.bulk_daily_quota = _positive(body["bulkDailyQuota"], "bulkDailyQuota")
            if "bulkUsedToday" in body:
                self.bulk_used = max(0, int(body["bulkUsedToday"]))
                self.bulk_day = dt.datetime.now(dt.UTC).date().isoformat()
            if "mailPerMinute" in body:
                self.mail_per_minute = _positive(body["mailPerMinute"], "mailPerMinute")
                self.mail_sent.clear()


def _positive(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer")
    return value


class Throttled(GraphError):
    def __init__(self, wait: int, code: str, message: str) -> None:
        super().__init__(429, code, f"{message} Retry after {wait} seconds.")
        self.wait = wait

    def response(self):  # type: ignore[no-untyped-def]
        response = super().response()
        response.headers["Retry-After"] = str(self.wait)
        return response
