"""The emailed one-time passcode: request (with cooldown) and verify (atomically counted, then compared)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.selectable import ScalarSelect

from activation import activation_rows, audit, code_limits, otp
from activation.deps import Deps
from activation.errors import ActivationError
from activation.invites import OpenInvite
from activation.keys import keyed_hash
from activation.mail.message import MailDeliveryError
from activation.masking import mask_email
from activation.models import Activation, ActivationState, OtpChallenge
from activation.window import window_for, window_state

CODE_REQUEST_STATES = frozenset({
    ActivationState.INVITED, ActivationState.CODE_SENT, ActivationState.VERIFIED, ActivationState.ENABLED,
})

# The statements of the code steps are built once, with bound parameters for the values: building a
# statement (and its cache key) cost SQLAlchemy more CPU than running it (docs/benchmarks.md, 2026-12-03).
# Those that return no entity are written against the tables (`.c`), not the mapped classes: the
# session then hands them straight to the connection, without the ORM's bulk-update and result
# machinery, at about two thirds of the CPU (docs/benchmarks.md, 2026-12-03, afternoon). Core
# statements do not autoflush: each runs where the session holds no pending change.
# (An UPDATE's parameters may not be named like a column of its table: hence for_activation, resume_by.)
_challenge, _activation = OtpChallenge.__table__.c, Activation.__table__.c
_LIVE = (_challenge.consumed_at.is_(None), _challenge.superseded_at.is_(None))
_LIVE_CHALLENGE = (select(OtpChallenge).where(OtpChallenge.activation_id == bindparam("for_activation"), *_LIVE)
                   .order_by(OtpChallenge.created_at.desc()).limit(1))


def last_right_code_binding(activation_id: Any) -> ScalarSelect[str]:
    """The browser binding of the activation's last right code, as a subquery (`activation_id`: a bound
    parameter, or a column to correlate with)."""
    return (select(_challenge.session_binding)
            .where(_challenge.activation_id == activation_id, _challenge.consumed_at.is_not(None))
            .order_by(_challenge.consumed_at.desc()).limit(1).scalar_subquery())


_LAST_RIGHT_CODE_BINDING = select(last_right_code_binding(bindparam("for_activation")))
_SUPERSEDE_LIVE = (update(OtpChallenge.__table__)
                   .where(_challenge.activation_id == bindparam("for_activation"), *_LIVE)
                   .values(superseded_at=bindparam("now")))
# One try of the activation's latest live code (the one the code page names), taken only if this
# browser asked for it, it has not expired and it has tries left; RETURNING hands back what the
# comparison needs, so a wrong code costs no SELECT. The live conditions stand outside the subquery
# too: PostgreSQL re-checks them on a row another transaction changed while this one waited for it.
_LATEST_LIVE = (select(_challenge.id).where(_challenge.activation_id == bindparam("for_activation"), *_LIVE)
                .order_by(_challenge.created_at.desc()).limit(1).scalar_subquery())
_TAKE_TRY = (update(OtpChallenge.__table__)
             .where(_challenge.id == _LATEST_LIVE, *_LIVE, _challenge.session_binding == bindparam("binding"),
                    _challenge.expires_at > bindparam("now"), _challenge.attempts < bindparam("max_attempts"))
             .values(attempts=_challenge.attempts + 1)
             .returning(_challenge.id, _challenge.code_hash, _challenge.attempts))
_CONSUME = (update(OtpChallenge.__table__).where(_challenge.id == bindparam("challenge_id"), *_LIVE)
            .values(consumed_at=bindparam("now")))
# A new code: its row, and the activation's count (the challenge object itself stays out of the session).
_INSERT_CHALLENGE = insert(OtpChallenge.__table__)
_CHALLENGE_COLUMNS = ("id", "activation_id", "code_hash", "session_binding", "created_at", "expires_at", "attempts")
_MARK_CODE_SENT = activation_rows.versioned_update(codes_sent=_activation.codes_sent + 1,
                                                   last_code_sent_at=bindparam("now"),
                                                   state=ActivationState.CODE_SENT, resume_until=None)
_BELOW_LOCKOUT = (_activation.id == bindparam("for_activation"), _activation.state == ActivationState.CODE_SENT,
                  _activation.failed_code_count < bindparam("lockout_threshold"))
_COUNT_FAILURE = (update(Activation.__table__).where(*_BELOW_LOCKOUT)
                  .values(failed_code_count=_activation.failed_code_count + 1, version=_activation.version + 1)
                  .returning(_activation.failed_code_count, _activation.version))
_VERIFY = (update(Activation.__table__).where(*_BELOW_LOCKOUT)
           .values(state=ActivationState.VERIFIED, verified_at=bindparam("now"), failed_code_count=0,
                   resume_until=bindparam("resume_by"), version=_activation.version + 1)
           .returning(_activation.state, _activation.verified_at, _activation.failed_code_count,
                      _activation.resume_until, _activation.version))


class OutsideWindow(ActivationError):
    def __init__(self, when: str, opens: str) -> None:
        super().__init__(when)
        self.when = when  # "before" or "after"
        self.opens = opens


class ActivationLocked(ActivationError):
    """Too many wrong codes; only the service desk can unlock."""


class CooldownActive(ActivationError):
    def __init__(self, seconds_left: int) -> None:
        super().__init__(f"wait {seconds_left} s")
        self.seconds_left = seconds_left


class CodeNotSent(ActivationError):
    """The mail backend failed; nothing claims success."""


class CodeRejected(ActivationError):
    """A wrong code. `tries_left`: on this code; `failures_left`: wrong codes before the activation pauses."""

    def __init__(self, tries_left: int, failures_left: int) -> None:
        super().__init__("code rejected")
        self.tries_left = tries_left
        self.failures_left = failures_left


class CodeExpired(ActivationError):
    """No live code for this browser: expired, superseded, or asked for elsewhere."""


class CodeUsedUp(CodeExpired):
    """Every try of this code is spent; nothing was compared, so nothing was counted."""


@dataclass(frozen=True)
class CodeSent:
    masked_email: str
    expires_at: datetime
    resend_after: datetime
    tries_left: int = 0  # on this code
    failures_left: int = 0  # wrong codes before the activation is paused (locked)
    wrong_tries: int = 0  # wrong codes typed against this code so far

    @property
    def used_up(self) -> bool:
        return self.tries_left <= 0


def browser_binding(deps: Deps, browser_id: str) -> str:
    return keyed_hash(deps.binding_key, browser_id)


def verified_in_this_browser(session: Session, deps: Deps, activation_id: int, browser_id: str) -> bool:
    """Was the activation's last correct code typed in this browser? (Resume and password steps need it.)"""
    binding = session.scalars(_LAST_RIGHT_CODE_BINDING, {"for_activation": activation_id}).first()
    return binding is not None and binding == browser_binding(deps, browser_id)


def check_window(deps: Deps, opened: OpenInvite) -> None:
    window = window_for(opened.person.start_date, opened.person.time_zone, deps.settings.policy)
    state = window_state(opened.person, opened.activation, deps.settings.policy, deps.clock.now())
    if state != "open":
        raise OutsideWindow(state, window.describe_opening())


def check_cooldown(deps: Deps, activation: Activation) -> None:
    """Raise CooldownActive while the last code is too fresh for another."""
    if activation.last_code_sent_at is None:
        return
    now = deps.clock.now()
    resend_after = activation.last_code_sent_at + timedelta(seconds=deps.settings.policy.resend_cooldown_seconds)
    if now < resend_after:
        raise CooldownActive(max(1, int((resend_after - now).total_seconds() + 0.999)))


def is_resend(opened: OpenInvite) -> bool:
    """Whether a code request asks for a further code on this invite (threat mode pauses those).

    The first code of a new invite is not a resend, nor the first after the desk's unlock or reset
    (they clear last_code_sent_at): that is the code the desk told the caller to ask for.
    """
    sent = opened.activation.last_code_sent_at
    return sent is not None and sent >= opened.invite.issued_at


def request_code(session: Session, deps: Deps, opened: OpenInvite, browser_id: str,
                 context: audit.RequestContext = audit.NO_REQUEST, *, for_new_pass: bool = False) -> CodeSent:
    """Create a new code (killing any older one) and email it. Commits.

    `for_new_pass`: a completed activation may ask too (lost_tap.py has checked that it may).
    """
    policy = deps.settings.policy
    activation, person = opened.activation, opened.person
    check_window(deps, opened)
    if activation.state is ActivationState.LOCKED:
        raise ActivationLocked()
    allowed = CODE_REQUEST_STATES | ({ActivationState.COMPLETED} if for_new_pass else set())
    if activation.state not in allowed:
        raise CodeNotSent(f"activation is {activation.state.value}")
    now = deps.clock.now()
    check_cooldown(deps, activation)
    code_limits.check_daily_cap(session, deps, activation, person, context)

    code = otp.new_code(policy.otp_digits)
    challenge = OtpChallenge(
        id=secrets.token_urlsafe(16), activation_id=activation.id, created_at=now,
        session_binding=browser_binding(deps, browser_id),
        expires_at=now + timedelta(minutes=policy.otp_lifetime_minutes), attempts=0,
    )
    challenge.code_hash = otp.code_hash(deps.otp_key, challenge.id, code)
    email = deps.renderer.render("code", to=person.personal_email or "",
                                 given_name=person.preferred_name or person.given_name,
                                 code=code, minutes=policy.otp_lifetime_minutes)
    del code
    starter = audit.Actor.starter(person.employee_id)
    try:
        deps.mailer.send(email)
    except MailDeliveryError as exc:
        deps.audit(session, action="code.sent", actor=starter, person=person, outcome="failure",
                   reason=str(exc), context=context)
        session.commit()
        raise CodeNotSent(str(exc)) from None

    if activation.codes_sent:  # every code has its row and counts there: none sent, none to supersede
        session.execute(_SUPERSEDE_LIVE, {"for_activation": activation.id, "now": now})
    session.execute(_INSERT_CHALLENGE, {column: getattr(challenge, column) for column in _CHALLENGE_COLUMNS})
    activation_rows.write(session, activation, _MARK_CODE_SENT, {"now": now}, codes_sent=activation.codes_sent + 1,
                          last_code_sent_at=now, state=ActivationState.CODE_SENT, resume_until=None)
    deps.audit(session, action="code.sent", actor=starter, person=person, context=context,
               details={"expires_at": challenge.expires_at.isoformat(), "codes_sent": activation.codes_sent})
    session.commit()
    return CodeSent(
        masked_email=mask_email(person.personal_email or ""),
        expires_at=challenge.expires_at,
        resend_after=now + timedelta(seconds=policy.resend_cooldown_seconds),
    )


def live_challenge(session: Session, activation_id: int, binding: str, now: datetime) -> OtpChallenge | None:
    challenge = session.scalars(_LIVE_CHALLENGE, {"for_activation": activation_id}).first()
    if challenge is None or challenge.expires_at <= now or challenge.session_binding != binding:
        return None
    return challenge


def verify_code(session: Session, deps: Deps, opened: OpenInvite, browser_id: str, code: str,
                context: audit.RequestContext = audit.NO_REQUEST) -> Activation:
    """Count the attempt atomically, then compare. On success the activation is `verified`. Commits.

    A locked activation answers every code, right or wrong, with ActivationLocked.
    """
    policy = deps.settings.policy
    activation, person = opened.activation, opened.person
    starter = audit.Actor.starter(person.employee_id)
    check_window(deps, opened)
    now = deps.clock.now()
    if activation.state is ActivationState.LOCKED:
        deps.audit(session, action="code.verify", actor=starter, person=person, outcome="refused",
                   reason="activation locked", context=context)
        session.commit()
        raise ActivationLocked()
    if activation.state is not ActivationState.CODE_SENT:  # no code was sent, or it was already used
        raise CodeExpired()

    # What makes a try count is the database: one UPDATE takes the try before the comparison, only
    # while the code is live with tries left, and another counts a failure only while the activation is
    # below the lockout, so parallel guesses across workers cannot exceed either cap, and a code whose
    # tries are spent (or that died meanwhile) is refused without touching the activation's counter.
    # The UPDATEs hold both rows until this transaction commits, with the outcome's audit row;
    # RETURNING gives the new values without a read. The comparison itself is local (the row holds the
    # code's hash).
    binding = browser_binding(deps, browser_id)
    taken = session.execute(_TAKE_TRY, {"for_activation": activation.id, "binding": binding, "now": now,
                                        "max_attempts": policy.otp_max_attempts}).one_or_none()
    if taken is None:  # no live code for this browser, or none with tries left: which one, read only now
        used_up = live_challenge(session, activation.id, binding, now) is not None
        session.rollback()
        if not used_up:
            raise CodeExpired()
        deps.audit(session, action="code.verify", actor=starter, person=person, outcome="refused",
                   reason="no tries left for this code (not counted)", context=context)
        session.commit()
        raise CodeUsedUp()
    attempts = taken.attempts
    matched = otp.code_matches(deps.otp_key, taken.id, code, taken.code_hash)
    # The right code is consumed on the row this transaction holds since the try: nobody else can have.
    if matched and session.execute(_CONSUME, {"challenge_id": taken.id, "now": now}).rowcount != 1:
        raise RuntimeError("a live code this transaction holds could not be consumed")
    counted = session.execute(_VERIFY if matched else _COUNT_FAILURE, {
        "for_activation": activation.id, "lockout_threshold": policy.lockout_threshold, "now": now,
        "resume_by": now + timedelta(minutes=policy.retry_window_minutes)}).one_or_none()
    if counted is None:
        session.rollback()  # the code's try is given back: it was not allowed to count
        _lock(session, deps, activation, person, starter, context)
        raise ActivationLocked()
    for name, value in counted._mapping.items():
        set_committed_value(activation, name, value)

    if not matched:
        deps.audit(session, action="code.verify", actor=starter, person=person, outcome="failure",
                   reason="wrong code", context=context,
                   details={"attempts_on_code": attempts, "failures": counted.failed_code_count})
        session.commit()
        if counted.failed_code_count >= policy.lockout_threshold:
            _lock(session, deps, activation, person, starter, context)
            raise ActivationLocked()
        raise CodeRejected(tries_left=max(0, policy.otp_max_attempts - attempts),
                           failures_left=max(0, policy.lockout_threshold - counted.failed_code_count))
    deps.audit(session, action="code.verify", actor=starter, person=person, context=context)
    session.commit()
    return activation


def _lock(session: Session, deps: Deps, activation: Activation, person, starter: audit.Actor,  # type: ignore[no-untyped-def]
          context: audit.RequestContext) -> None:
    locked = session.execute(
        update(Activation)
        .where(Activation.id == activation.id, Activation.state == ActivationState.CODE_SENT)
        .values(state=ActivationState.LOCKED, lock_reason="too many wrong codes", version=Activation.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if locked:
        deps.audit(session, action="activation.locked", actor=starter, person=person, outcome="failure",
                   reason="too many wrong codes", context=context)
    session.commit()
    session.refresh(activation)


def current_code(session: Session, deps: Deps, opened: OpenInvite, browser_id: str) -> CodeSent | None:
    """What the code page shows: where the live code went and when it expires, for this browser only."""
    if opened.activation.state is not ActivationState.CODE_SENT:  # no live code without one sent (no query)
        return None
    now = deps.clock.now()
    challenge = live_challenge(session, opened.activation.id, browser_binding(deps, browser_id), now)
    if challenge is None:
        return None
    policy = deps.settings.policy
    sent_at = opened.activation.last_code_sent_at or challenge.created_at
    return CodeSent(
        masked_email=mask_email(opened.person.personal_email or ""),
        expires_at=challenge.expires_at,
        resend_after=sent_at + timedelta(seconds=policy.resend_cooldown_seconds),
        tries_left=max(0, policy.otp_max_attempts - challenge.attempts),
        failures_left=max(0, policy.lockout_threshold - opened.activation.failed_code_count),
        wrong_tries=challenge.attempts,
    )
