"""When a starter may activate: from their start date in their own time zone, for a grace period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from activation.config import PolicySettings
from activation.models import Activation, Person


@dataclass(frozen=True)
class ActivationWindow:
    opens_at: datetime
    closes_at: datetime
    time_zone: str

    def state(self, now: datetime) -> str:
        if now < self.opens_at:
            return "before"
        if now >= self.closes_at:
            return "after"
        return "open"

    def describe_opening(self) -> str:
        return format_local(self.opens_at, self.time_zone)


def zone_for(time_zone: str | None, policy: PolicySettings) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone or policy.default_time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(policy.default_time_zone)


def window_for(start_date: date, time_zone: str | None, policy: PolicySettings) -> ActivationWindow:
    zone = zone_for(time_zone, policy)
    opens_day = start_date - timedelta(days=policy.activation_days_before_start)
    closes_day = start_date + timedelta(days=policy.activation_grace_days + 1)
    return ActivationWindow(
        opens_at=datetime.combine(opens_day, time(0, 0), tzinfo=zone),
        closes_at=datetime.combine(closes_day, time(0, 0), tzinfo=zone),
        time_zone=zone.key,
    )


def format_local(moment: datetime, time_zone: str) -> str:
    """`Monday 5 January 2026, 00:00 (Europe/London)`: unambiguous for a reader anywhere."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({time_zone})"


def format_utc(moment: datetime) -> str:
    """`Monday 5 January 2026, 08:00 UTC`."""
    utc = moment.astimezone(ZoneInfo("UTC"))
    return f"{utc:%A} {utc.day} {utc:%B %Y, %H:%M} UTC"


def format_local_and_utc(moment: datetime, time_zone: str) -> str:
    """`Monday 5 January 2026, 09:00 (Europe/Berlin), 08:00 UTC`: the starter's local time and UTC."""
    utc = moment.astimezone(ZoneInfo("UTC"))
    local = format_local(moment, time_zone)
    if time_zone in ("UTC", "Etc/UTC"):
        return local
    same_day = utc.date() == moment.astimezone(ZoneInfo(time_zone)).date()
    return f"{local}, {utc:%H:%M} UTC" if same_day else f"{local}, {format_utc(moment)}"


def format_duration(minutes: int) -> str:
    """`2 hours`, `90 minutes`, `1 hour`."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("" if hours == 1 else "s")
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def format_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def window_state(person: Person, activation: Activation | None, policy: PolicySettings, now: datetime) -> str:
    """"before", "open" or "after" for this person, counting a window staff have reopened."""
    extended = activation.window_extended_until if activation is not None else None
    if extended is not None and now < extended:
        return "open"
    return window_for(person.start_date, person.time_zone, policy).state(now)


def reopen_if_closed(person: Person, activation: Activation, policy: PolicySettings, now: datetime) -> datetime | None:
    """Staff help a starter whose window has closed (back from leave, lost everything): reopen it for
    as long as a new invite lives. Returns the new end, or None when the window was not closed."""
    if window_state(person, activation, policy, now) != "after":
        return None
    activation.window_extended_until = now + timedelta(days=policy.invite_lifetime_days)
    return activation.window_extended_until
