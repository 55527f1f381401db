"""Fixed-window counters in the shared database, so every worker sees the same count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from activation.models import RateLimitCounter

# Built once, with bound parameters (see codes.py); an UPDATE's parameters are not named like its columns.
_COUNT_IN_WINDOW = (update(RateLimitCounter)
                    .where(RateLimitCounter.key == bindparam("for_key"),
                           RateLimitCounter.window_start > bindparam("live_since"))
                    .values(count=RateLimitCounter.count + 1)
                    .returning(RateLimitCounter.count).execution_options(synchronize_session=False))
_RESTART_WINDOW = (update(RateLimitCounter).where(RateLimitCounter.key == bindparam("for_key"))
                   .values(count=1, window_start=bindparam("now")).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window_seconds: int


def hit(session: Session, limit: Limit, subject: str, now: datetime) -> bool:
    """Count one event for `subject`; True while within the limit. Commits its own small transaction."""
    key = f"{limit.name}:{subject}"[:128]
    window_start = now - timedelta(seconds=limit.window_seconds)
    for _ in range(3):
        count = session.execute(_COUNT_IN_WINDOW, {"for_key": key, "live_since": window_start}).scalar()
        if count is not None:  # the new count, from the same UPDATE
            session.commit()
            return count <= limit.count
        restarted = session.execute(_RESTART_WINDOW, {"for_key": key, "now": now}).rowcount
        if restarted:
            session.commit()
            return True
        try:
            session.add(RateLimitCounter(key=key, window_start=now, count=1))
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
    return False


def current(session: Session, limit: Limit, subject: str, now: datetime) -> int:
    """The count in `subject`'s live window (0 when none), without counting anything."""
    key = f"{limit.name}:{subject}"[:128]
    window_start = now - timedelta(seconds=limit.window_seconds)
    count = session.scalar(select(RateLimitCounter.count).where(RateLimitCounter.key == key,
                                                                RateLimitCounter.window_start > window_start))
    return count or 0
