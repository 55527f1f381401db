"""People whose start date is long past and who have no account in Entra ID: held back, not created dead.

A joiner is created disabled and waits for the portal. Someone whose start date passed more than the
activation grace period ago can no longer activate (their invite would expire at once), and a first
import of a real HR extract is mostly such people: they already work here, under an account that lacks
their employeeId, or their hire date is wrong. Creating disabled accounts for them helps nobody, so by
default (`[provisioning] past_start_policy = "hold"`) they are held back and reported as one group
with the decision the operator has to make; `"provision"` creates them as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from activation.errors import ConfigurationError
from activation.provisioning.adopt import AccountLookup

HOLD = "hold"
PROVISION = "provision"
PAST_START_POLICIES: tuple[str, ...] = (HOLD, PROVISION)
SETTING = "[provisioning] past_start_policy"


@dataclass(frozen=True, slots=True)
class HeldBack:
    """The group held back in one run, and what the operator is asked to decide."""

    notes: Mapping[str, str]  # employee id -> why this person was held back
    decision: str  # one paragraph: what these people probably are and the three ways forward


def check_policy(value: str) -> str:
    if value not in PAST_START_POLICIES:
        raise ConfigurationError(
            f"{SETTING} = {value!r} is not known; use \"hold\" (report people whose start date is long past and "
            "who have no account, create nothing) or \"provision\" (create their disabled accounts anyway)")
    return value


def held_back(lookup: AccountLookup, *, policy: str, grace_days: int) -> HeldBack:
    """Who is held back under `policy`; empty when the policy provisions them."""
    if check_policy(policy) == PROVISION:
        return HeldBack({}, "")
    since = lookup.cutoff.isoformat()
    notes = dict.fromkeys(lookup.not_found, (
        f"start date before {since} and no account with this employeeId in Entra ID; held back"))
    notes.update(dict.fromkeys(lookup.not_looked_up, (
        f"start date before {since}; not looked up in Entra ID (this dry run has no Microsoft settings): the "
        "real run adopts an enabled account with this employeeId and holds the person back otherwise")))
    if not notes:
        return HeldBack({}, "")
    people = "1 person" if len(notes) == 1 else f"{len(notes)} people"
    decision = (
        f"{people} started more than {grace_days} day(s) ago (before {since}) and have no account "
        "with their employeeId in Entra ID. A new disabled account could never be activated (the activation "
        "window has closed), so nothing was created for them. They usually already work here (their account "
        "lacks employeeId or has another one) or their start date is wrong. Decide per person: set employeeId "
        "on the existing account in Entra ID (the next run adopts it and keeps it enabled), correct the start "
        f"date in HR, or create new accounts anyway with --past-starters provision (or {SETTING} = \"provision\")."
    )
    return HeldBack(notes, decision)
