"""A starter who lost their link asks by personal email. The answer never reveals whether we know them."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activation import audit, invites, rate_limits
from activation.deps import Deps
from activation.jobs.submit import submit
from activation.keys import derive_key, keyed_hash
from activation.models import Activation, ActivationState, HrStatus, Person
from activation.provisioning.emails import check_email
from activation.window import window_state

logger = logging.getLogger(__name__)

PER_ADDRESS = rate_limits.Limit("lost-link-address", count=3, window_seconds=3600)
PER_CLIENT = rate_limits.Limit("lost-link-client", count=20, window_seconds=3600)


def request_new_link_later(session: Session, deps: Deps, email: str,
                           context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Queue the lookup and the email (a `mail.lost_link` job), so the answer comes back at once.

    Looking someone up, rate limiting and emailing take time only when we know the address; doing
    them in the job consumer keeps response timing from telling who is a new starter.
    """
    submit(session, deps, "mail.lost_link",
           {"email": email[:320], "client_ip": context.client_ip, "request_id": context.request_id})
    session.commit()


def request_new_link(session: Session, deps: Deps, email: str,
                     context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Send a fresh invite if, and only if, the address belongs to an eligible joiner.

    Returns nothing on purpose: the caller shows the same page whatever happened.
    """
    person = eligible_joiner(session, deps, email, context)
    if person is None:
        return
    try:
        send_new_link(session, deps, person, context)
    except invites.InviteNotSent as exc:
        logger.warning("lost-link invite for %s not sent: %s", person.employee_id, exc.reason)


def eligible_joiner(session: Session, deps: Deps, email: str,
                    context: audit.RequestContext = audit.NO_REQUEST) -> Person | None:
    """Rate-limit, then find the eligible joiner with this personal address; audited either way. Commits."""
    address = lookup_address(email)
    now = deps.clock.now()
    address_key = keyed_hash(derive_key(deps.settings.secret_key, "rate-limit"), address)
    within_client = rate_limits.hit(session, PER_CLIENT, context.client_ip or "unknown", now)
    within_address = rate_limits.hit(session, PER_ADDRESS, address_key, now)
    if not (within_client and within_address):
        deps.audit(session, action="lost_link.requested", actor=audit.Actor.starter(), outcome="refused",
                   reason="rate limited", context=context)
        session.commit()
        return None
    person = session.scalars(
        select(Person).join(Activation).where(func.lower(Person.personal_email) == address,
                                              Person.hr_status == HrStatus.ACTIVE)
    ).first()
    if person is None or not _eligible(person, deps):
        deps.audit(session, action="lost_link.requested", actor=audit.Actor.starter(), outcome="ignored",
                   reason="no eligible joiner for that address", context=context)
        session.commit()
        return None
    return person


def send_new_link(session: Session, deps: Deps, person: Person,
                  context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Issue and email a fresh invite (the older one is superseded once this one went). Raises InviteNotSent."""
    invite = invites.issue(session, deps, person, audit.Actor.starter(person.employee_id), context,
                           reason="starter asked for a new link")
    session.flush()
    invites.send(session, deps, invite, person, audit.Actor.starter(person.employee_id), context)


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
