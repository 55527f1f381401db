"""After a correct code: find the user, enable the account, issue the TAP. Idempotent and resumable.

A short lease on the activation row (compare-and-set) makes sure only one request works on an
activation at a time, without holding a database lock across Graph calls: fifty simultaneous
"finish" requests produce exactly one Temporary Access Pass.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from activation import activation_rows, audit, codes, notices, tap_checks
from activation.deps import Deps
from activation.errors import ActivationError
from activation.graph.errors import GraphError, NotFound, OnPremisesMastered, TokenError
from activation.invites import OpenInvite
from activation.jobs.submit import submit
from activation.models import Activation, ActivationState, Invite, Person

logger = logging.getLogger(__name__)

RESUMABLE_STATES = (ActivationState.VERIFIED, ActivationState.ENABLED)
# The lease is taken only by the browser that typed the last right code (the same test as
# codes.verified_in_this_browser, inside the UPDATE): the result page needs no SELECT for it.
_LAST_RIGHT_CODE_HERE = (codes.last_right_code_binding(Activation.id) == bindparam("binding"))
# Built once, with bound parameters (see codes.py). RETURNING the row with populate_existing reloads the
# activation from the same UPDATE that takes the lease.
_TAKE_LEASE = (update(Activation)
               .where(Activation.id == bindparam("for_activation"), Activation.state.in_(RESUMABLE_STATES),
                      or_(Activation.step_lease_until.is_(None), Activation.step_lease_until < bindparam("now")),
                      _LAST_RIGHT_CODE_HERE)
               .values(step_lease_until=bindparam("lease_until"), version=Activation.version + 1)
               .returning(Activation)
               .execution_options(synchronize_session=False, populate_existing=True))
# The steps' own writes, against the tables (activation/activation_rows.py says why).
_person, _invite = Person.__table__.c, Invite.__table__.c
_MARK_ENABLED = activation_rows.versioned_update(state=ActivationState.ENABLED, enabled_at=bindparam("now"),
                                                 failure_reason=None)
_PERSON_ENABLED = update(Person.__table__).where(_person.id == bindparam("for_person")).values(account_enabled=True)
_MARK_COMPLETED = activation_rows.versioned_update(
    state=ActivationState.COMPLETED, completed_at=bindparam("now"), tap_method_id=bindparam("method_id"),
    tap_expires_at=bindparam("pass_expires"), failure_reason=None, resume_until=None, step_lease_until=None)
_INVITE_USED = update(Invite.__table__).where(_invite.id == bindparam("for_invite")).values(used_at=bindparam("now"))


class StepsInProgress(ActivationError):
    """Another request is finishing this activation right now."""


class ResumeNotAllowed(ActivationError):
    """Not verified in this browser, or the retry window has passed: ask for a new code."""


class AccountStepFailed(ActivationError):
    def __init__(self, step: str, retryable: bool) -> None:
        super().__init__(f"{step} failed")
        self.step = step
        self.retryable = retryable


@dataclass(frozen=True)
class IssuedPass:
    """What the result page shows once. Never stored; `tap` is hidden from repr."""

    user_principal_name: str
    lifetime_minutes: int
    usable_once: bool
    expires_at: datetime
    tap: str = field(repr=False)


def finish(session: Session, deps: Deps, opened: OpenInvite, browser_id: str,
           context: audit.RequestContext = audit.NO_REQUEST) -> IssuedPass:
    """Run the remaining account steps for a verified activation and return the TAP. Commits."""
    activation, person = opened.activation, opened.person
    now = deps.clock.now()
    _check_resumable(activation, now)
    if not _take_lease(session, activation, now, deps.settings.policy.account_step_lease_seconds,
                       codes.browser_binding(deps, browser_id)):
        # Which refusal, read only now: the last right code was typed in another browser, or another
        # request holds the lease.
        if not codes.verified_in_this_browser(session, deps, activation.id, browser_id):
            raise ResumeNotAllowed()
        raise StepsInProgress()
    starter = audit.Actor.starter(person.employee_id)
    try:
        user_id = _find_user(session, deps, person, activation, starter, context)
        # The pre-TAP reads go to Graph while the account is enabled: one round trip for both, not two.
        with _graph_reads(deps) as pool:
            reads = tap_checks.start_reads(pool, deps.graph, user_id, deps.tap_policy)
            if activation.state is ActivationState.VERIFIED and activation.completed_at is None:
                _enable(session, deps, person, activation, user_id, starter, context)
            elif activation.state is ActivationState.VERIFIED:  # a new pass: the account is already on
                activation.state = ActivationState.ENABLED
                session.commit()
            return _issue_pass(session, deps, opened, user_id, reads, starter, context)  # releases the lease
    except BaseException:
        session.rollback()
        session.execute(
            update(Activation).where(Activation.id == activation.id).values(step_lease_until=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        raise


@contextlib.contextmanager
def _graph_reads(deps: Deps) -> Iterator[Executor]:
    """The runtime's long-lived read threads, or (without a runtime: tests, tools) a pool for this call."""
    if deps.graph_reads is not None:
        yield deps.graph_reads
        return
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="account-steps") as pool:
        yield pool


def _check_resumable(activation: Activation, now: datetime) -> None:
    """The loaded row's state and retry window; which browser may go on is checked by the lease."""
    if activation.state not in RESUMABLE_STATES:
        raise ResumeNotAllowed()
    if activation.resume_until is None or activation.resume_until <= now:
        raise ResumeNotAllowed()


def _take_lease(session: Session, activation: Activation, now: datetime, lease_seconds: int, binding: str) -> bool:
    """Compare-and-set the lease, for the browser whose `binding` typed the last right code; when taken,
    `activation` is reloaded from the same UPDATE (RETURNING), so the steps start from the row as it is
    now, not as the page opened it."""
    taken = session.scalars(_TAKE_LEASE, {"for_activation": activation.id, "now": now, "binding": binding,
                                          "lease_until": now + timedelta(seconds=lease_seconds)}).first()
    session.commit()
    return taken is not None


def _find_user(session: Session, deps: Deps, person: Person, activation: Activation, starter: audit.Actor,
               context: audit.RequestContext) -> str:
    if person.entra_object_id:
        return person.entra_object_id
    try:
        user = deps.graph.find_user_by_employee_id(person.employee_id)
    except (GraphError, TokenError) as exc:
        _step_failed(session, deps, activation, person, starter, context, "find user", exc, retryable=True)
    if user is None:
        _step_failed(session, deps, activation, person, starter, context, "find user",
                     "no Entra account with this employeeId yet", retryable=True)
    person.entra_object_id = user.id
    person.upn = user.user_principal_name
    session.commit()
    return user.id


def _enable(session: Session, deps: Deps, person: Person, activation: Activation, user_id: str,
            starter: audit.Actor, context: audit.RequestContext) -> None:
    try:
        deps.graph.enable_user(user_id)
    except OnPremisesMastered as exc:
        _step_failed(session, deps, activation, person, starter, context, "enable account", exc, retryable=False,
                     reason="account is mastered in on-premises Active Directory: enable it there, or "
                            "exclude it from this tool")
    except (GraphError, TokenError) as exc:
        _step_failed(session, deps, activation, person, starter, context, "enable account", exc, retryable=True)
    now = deps.clock.now()
    activation_rows.write(session, activation, _MARK_ENABLED, {"now": now}, state=ActivationState.ENABLED,
                      enabled_at=now, failure_reason=None)
    session.execute(_PERSON_ENABLED, {"for_person": person.id})
    set_committed_value(person, "account_enabled", True)
    deps.audit(session, action="account.enabled", actor=starter, person=person, context=context)
    session.commit()


def _issue_pass(session: Session, deps: Deps, opened: OpenInvite, user_id: str, reads: tap_checks.PendingReads,
                starter: audit.Actor, context: audit.RequestContext) -> IssuedPass:
    policy = deps.settings.policy
    activation, person = opened.activation, opened.person
    replacing = activation.completed_at is not None  # the starter lost their pass (lost_tap.py)
    try:  # issue 16: scope, lifetime, no other methods, no admin role (activation/tap_checks.py)
        refused = reads.verdict(policy)
    except (GraphError, TokenError) as exc:
        _step_failed(session, deps, activation, person, starter, context, "check before the pass", exc, retryable=True)
    if refused:
        _step_failed(session, deps, activation, person, starter, context, "check before the pass", refused,
                     retryable=False, reason=refused)
    try:
        if replacing and activation.tap_method_id:
            _remove_old_pass(deps, user_id, activation.tap_method_id)
        tap = deps.graph.create_tap(user_id, policy.tap_lifetime_minutes, policy.tap_usable_once)
    except (GraphError, TokenError) as exc:
        _step_failed(session, deps, activation, person, starter, context, "issue Temporary Access Pass", exc,
                     retryable=True)
    now = deps.clock.now()
    start = tap.start_at or now
    pass_expires = start + timedelta(minutes=tap.lifetime_minutes or policy.tap_lifetime_minutes)
    # The lease ends with the step that completes the activation (step_lease_until back to None).
    activation_rows.write(session, activation, _MARK_COMPLETED, {"now": now, "method_id": tap.id,
                                                              "pass_expires": pass_expires},
                      state=ActivationState.COMPLETED, completed_at=now, tap_method_id=tap.id,
                      tap_expires_at=pass_expires, failure_reason=None, resume_until=None, step_lease_until=None)
    session.execute(_INVITE_USED, {"for_invite": opened.invite.id, "now": now})
    set_committed_value(opened.invite, "used_at", now)
    deps.audit(session, action="tap.reissued" if replacing else "tap.issued", actor=starter, person=person,
               context=context, details={"lifetime_minutes": tap.lifetime_minutes, "usable_once": tap.is_usable_once,
                                         "expires_at": activation.tap_expires_at.isoformat(),
                                         "replaced_previous": replacing})
    if not replacing:
        deps.audit(session, action="activation.completed", actor=starter, person=person, context=context)
    # In the same transaction, so they exist if and only if the activation completed (the lease makes
    # this transaction run once): the manager's queued email, which carries their "this wasn't me" link
    # (one email, not two), and the starter's notice row (with the manager's when no email is queued),
    # emailed once it commits.
    tell_manager = policy.manager_notification and person.manager_employee_id is not None
    if tell_manager:
        submit(session, deps, "mail.manager_notice", {"person_id": person.id, "new_pass": replacing,
                                                      "wasnt_me": True})
    pending_notices = notices.prepare_after_activation(session, deps, person, manager_too=not tell_manager)
    session.commit()
    notices.send_notices(session, deps, person, notices.ACTIVATED, pending_notices)
    return IssuedPass(
        user_principal_name=person.upn or "",
        lifetime_minutes=tap.lifetime_minutes or policy.tap_lifetime_minutes,
        usable_once=bool(tap.is_usable_once),
        expires_at=activation.tap_expires_at,
        tap=tap.value or "",
    )


def _remove_old_pass(deps: Deps, user_id: str, method_id: str) -> None:
    """One TAP per user: delete the lost one first (already gone is fine)."""
    with contextlib.suppress(NotFound):
        deps.graph.delete_tap(user_id, method_id)


def _step_failed(session: Session, deps: Deps, activation: Activation, person: Person, starter: audit.Actor,
                 context: audit.RequestContext, step: str, cause: object, *, retryable: bool,
                 reason: str | None = None) -> NoReturn:
    """Record why, for the desk; keep the last good state (or `failed` when retrying cannot help); raise."""
    detail = reason or (f"{type(cause).__name__}: {cause}" if isinstance(cause, Exception) else str(cause))
    logger.warning("activation %s for %s: %s failed (%s)", activation.id, person.employee_id, step,
                   type(cause).__name__ if isinstance(cause, Exception) else "not found")
    activation.failure_reason = f"{step}: {detail}"[:2000]
    if not retryable:
        activation.state = ActivationState.FAILED
    deps.audit(session, action="account.step_failed", actor=starter, person=person, outcome="failure",
               reason=activation.failure_reason, context=context, details={"step": step, "retryable": retryable})
    session.commit()
    raise AccountStepFailed(step, retryable)
