"""A starter who lost their link asks by personal email. The answer never reveals whether we know them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activation import audit, invites, rate_limits
from activation.deps import Deps
from activation.keys import derive_key, keyed_hash
from activation.models import Activation, ActivationState, HrStatus, Person
from activation.provisioning.emails import check_email
from activation.window import window_state

logger = logging.getLogger(__name__)

PER_ADDRESS = rate_limits.Limit("lost-link-address", count=3, window_seconds=3600)
PER_CLIENT = rate_limits.Limit("lost-link-client", count=20, window_seconds=3600)


def request_new_link_later(run_later: Callable[..., object], session_factory: Callable[[], Session], deps: Deps,
                           email: str, context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Queue the lookup and the email, so the answer comes back at once whatever the address.

    Looking someone up, rate limiting and emailing take time only when we know the address; doing
    them after the response keeps response timing from telling who is a new starter.
    """
    run_later(_in_own_session, session_factory, deps, email, context)


def _in_own_session(session_factory: Callable[[], Session], deps: Deps, email: str,
                    context: audit.RequestContext) -> None:
    with session_factory() as session:
        try:
            request_new_link(session, deps, email, context)
        except Exception:  # a background job has nobody to answer; log and keep the worker alive
            logger.exception("lost-link request failed")
            session.rollback()


def request_new_link(session: Session, deps: Deps, email: str,
                     context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Send a fresh invite if, and only if, the address belongs to an eligible joiner.

    Returns nothing on purpose: the caller shows the same page whatever happened.
    """
    address = lookup_address(email)
    now = deps.clock.now()
    address_key = keyed_hash(derive_key(deps.settings.secret_key, "rate-limit"), address)
    within_client = rate_limits.hit(session, PER_CLIENT, context.client_ip or "unknown", now)
    within_address = rate_limits.hit(session, PER_ADDRESS, address_key, now)
    if not (within_client and within_address):
        deps.audit(session, action="lost_link.requested", actor=audit.Actor.starter(), outcome="refused",
                   reason="rate limited", context=context)
        session.commit()
        return
    person = session.scalars(
        select(Person).join(Activation).where(func.lower(Person.personal_email) == address,
                                              Person.hr_status == HrStatus.ACTIVE)
    ).first()
    if person is None or not _eligible(person, deps):
        deps.audit(session, action="lost_link.requested", actor=audit.Actor.starter(), outcome="ignored",
                   reason="no eligible joiner for that address", context=context)
        session.commit()
        return
    invite = invites.issue(session, deps, person, audit.Actor.starter(person.employee_id), context,
                           reason="starter asked for a new link")
    session.flush()
    try:
        invites.send(session, deps, invite, person, audit.Actor.starter(person.employee_id), context)
    except invites.InviteNotSent as exc:
        logger.warning("lost-link invite for %s not sent: %s", person.employee_id, exc.reason)


def lookup_address(email: str) -> str:
    """The form of an address we compare: HR import's normalisation, then lower-cased.

    HR import keeps the local part as written; people type capitals freely. Both sides of the lookup
    are lower-cased (the column with SQL ``lower()``), so ``Zoe.Nguyen@Home.Example`` finds
    ``zoe.nguyen@home.example`` and the reverse.
    """
    return (check_email(email).normalised or email.strip()).lower()


def _eligible(person: Person, deps: Deps) -> bool:
    activation = person.activation
    if activation is None or activation.state not in (invites.INVITABLE_STATES - {ActivationState.PENDING}):
        return False
    if not person.entra_object_id or not person.personal_email:
        return False
    return window_state(person, activation, deps.settings.policy, deps.clock.now()) != "after"
