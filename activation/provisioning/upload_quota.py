"""The tenant's daily bulkUpload quota (2,000 calls with Entra ID P1/P2, 6,000 with Governance).

Microsoft offers no call to read what is left, so we count our own calls: every batch a run sent
today (UTC) is one call. A plan that needs more calls than are left says so before uploading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activation.models import ProvisioningItem, ProvisioningRun

MAX_OPERATIONS = 50
SENT = ("uploaded", "failed")  # a failed batch was usually still a call (an error answer)


@dataclass(frozen=True)
class QuotaCheck:
    daily_quota: int
    used_today: int
    needed: int

    @property
    def left(self) -> int:
        return max(0, self.daily_quota - self.used_today)

    @property
    def exceeded(self) -> bool:
        return self.needed > self.left

    def as_counts(self) -> dict[str, int]:
        return {"daily_quota": self.daily_quota, "used_today": self.used_today, "left": self.left,
                "needed": self.needed}

    def message(self) -> str:
        return (f"this run needs {self.needed} bulkUpload call(s) but only {self.left} of today's "
                f"{self.daily_quota} are left ({self.used_today} used since 00:00 UTC); nothing was uploaded. "
                "Run it again after midnight UTC, or split the file")


def calls_used_today(session: Session, now: datetime) -> int:
    midnight = datetime.combine(now.date(), time(), now.tzinfo)
    batches = (select(ProvisioningItem.run_id, ProvisioningItem.batch)
               .join(ProvisioningRun, ProvisioningRun.id == ProvisioningItem.run_id)
               .where(ProvisioningRun.started_at >= midnight, ProvisioningItem.batch.is_not(None),
                      ProvisioningItem.upload_status.in_(SENT)))
    return session.scalar(select(func.count()).select_from(batches.distinct().subquery())) or 0


def check(session: Session, *, now: datetime, daily_quota: int, records_to_upload: int) -> QuotaCheck:
    return QuotaCheck(daily_quota, calls_used_today(session, now), math.ceil(records_to_upload / MAX_OPERATIONS))
