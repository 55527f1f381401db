"""An activation's state in plain words, with the next step, for managers and the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation.models import Activation, ActivationState, Invite, Person

ACTIVATED_STATES = frozenset({ActivationState.COMPLETED})


@dataclass(frozen=True)
class StateInWords:
    state: str  # the raw state value, for badges and filters
    words: str
    next_step: str
    attention: bool  # locked or failed: someone has to act


def short_time(moment: datetime, time_zone: str) -> str:
    """`Tue 3 Mar 09:12`."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def labelled_time(moment: datetime, time_zone: str) -> str:
    """`Tue 3 Mar 09:12 Europe/Berlin (08:12 UTC)`: the zone always said, and UTC beside a local time."""
    local = short_time(moment, time_zone)
    if time_zone in ("UTC", "Etc/UTC"):
        return f"{local} UTC"
    utc = moment.astimezone(ZoneInfo("UTC"))
    same_day = utc.date() == moment.astimezone(ZoneInfo(time_zone)).date()
    in_utc = f"{utc:%H:%M}" if same_day else short_time(moment, "UTC")
    return f"{local} {time_zone} ({in_utc} UTC)"


def latest_invite(session: Session, person_id: int) -> Invite | None:
    return session.scalars(
        select(Invite).where(Invite.person_id == person_id).order_by(Invite.issued_at.desc()).limit(1)
    ).first()


def describe(person: Person, activation: Activation | None, invite: Invite | None, now: datetime,
             time_zone: str, *, for_desk: bool = False) -> StateInWords:
    """`for_desk`: the reader is the service desk, so the next step is theirs (never "contact the desk")."""
    state = activation.state if activation is not None else ActivationState.PENDING

    def at(moment: datetime | None) -> str:
        return labelled_time(moment, time_zone) if moment is not None else "(time not recorded)"

    if not person.personal_email and state in (ActivationState.PENDING, ActivationState.INVITED,
                                               ActivationState.EXPIRED):
        return StateInWords(state.value, "No personal email on record, so no invite can be sent",
                            "HR must add their personal email address (HR owns it); the invite then goes out."
                            if for_desk else "Ask HR to add their personal email address: the invite is sent there.",
                            False)
    if state is ActivationState.PENDING:
        if not person.entra_object_id:
            return StateInWords(state.value, "Waiting for the account to be created",
                                "Nothing to do yet: IT is creating the account.", False)
        return StateInWords(state.value, "Account ready, invite not sent yet",
                            "The invite goes out automatically before the start date; you can send it now.", False)
    if state is ActivationState.INVITED:
        if invite is not None and invite.expires_at <= now:
            return StateInWords(state.value, f"Invite expired {at(invite.expires_at)}", "Resend the invite.", False)
        if invite is None or invite.sent_at is None:
            return StateInWords(state.value, "Invite created but not emailed yet",
                                "Resend the invite.", False)
        return StateInWords(state.value, f"Invite sent {at(invite.sent_at)}, no code requested yet",
                            "Remind them to open the invite email in their personal inbox.", False)
    if activation is not None and activation.completed_at is not None and state in (
            ActivationState.CODE_SENT, ActivationState.VERIFIED, ActivationState.ENABLED):
        return StateInWords(state.value, f"Activated {at(activation.completed_at)}; getting a new pass after "
                            "losing the first", "Nothing to do.", False)
    if state is ActivationState.CODE_SENT:
        sent = activation.last_code_sent_at if activation is not None else None
        return StateInWords(state.value, f"Code emailed {at(sent)}, not entered yet",
                            "Ask them to enter the code from the email; they can ask for a new one.", False)
    if state in (ActivationState.VERIFIED, ActivationState.ENABLED):
        return StateInWords(state.value, "Code entered; the account is being switched on",
                            "They can finish from the same browser; if they are stuck, resend the invite.", False)
    if state is ActivationState.COMPLETED:
        completed = activation.completed_at if activation is not None else None
        return StateInWords(state.value, f"Activated {at(completed)}", "Nothing to do.", False)
    if state is ActivationState.LOCKED:
        reason = (activation.lock_reason if activation is not None else None) or "locked"
        if for_desk:
            return StateInWords(state.value, f"Locked: {reason}",
                                "Check it is really them (call back on the number HR holds), then unlock.", True)
        return StateInWords(state.value, f"Locked: {reason} — the service desk can unlock",
                            "Ask them to call the service desk, who will check it is them and unlock it.", True)
    if state is ActivationState.FAILED:
        if for_desk:
            return StateInWords(state.value, "Stopped: the account could not be switched on",
                                "Fix what the failure below names (for example enable the account in on-premises "
                                "AD), then unlock.", True)
        return StateInWords(state.value, "Stopped: the account could not be switched on — the service desk can help",
                            "The service desk will finish this; they have the details.", True)
    if state is ActivationState.EXPIRED:
        return StateInWords(state.value, "Activation expired", "Resend the invite.", False)
    return StateInWords(state.value, "Cancelled", "Nothing to do.", False)
