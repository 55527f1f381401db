"""The optional password (behind `policy.password_path`): right after the result page, same browser.

Entra's complexity rule is checked before calling Graph; Graph's own refusal is mapped to advice.
The password is passed to Graph and forgotten: never logged, audited or stored.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from activation import audit
from activation.codes import verified_in_this_browser
from activation.deps import Deps
from activation.errors import ActivationError
from activation.graph.errors import GraphError, PasswordComplexity, TokenError
from activation.graph.password_policy import MAX_LENGTH, MIN_LENGTH, meets_complexity
from activation.invites import OpenInvite
from activation.models import ActivationState

COMPLEXITY_ADVICE = (f"Use {MIN_LENGTH} to {MAX_LENGTH} characters with at least three of: lower-case letters, "
                     "capital letters, numbers and symbols.")


class PasswordNotAllowed(ActivationError):
    """Switched off, not activated in this browser, or too long after activation."""


class PasswordRejected(ActivationError):
    def __init__(self, advice: str) -> None:
        super().__init__(advice)
        self.advice = advice


class PasswordNotSet(ActivationError):
    """Graph did not answer; the starter can use the TAP and set a password later at My Security Info."""


def may_set_password(session: Session, deps: Deps, opened: OpenInvite, browser_id: str) -> bool:
    activation = opened.activation
    if not deps.settings.policy.password_path or activation.state is not ActivationState.COMPLETED:
        return False
    window = timedelta(minutes=deps.settings.policy.retry_window_minutes)
    if activation.completed_at is None or activation.completed_at + window <= deps.clock.now():
        return False
    return verified_in_this_browser(session, deps, activation.id, browser_id)


def set_password(session: Session, deps: Deps, opened: OpenInvite, browser_id: str, password: str,
                 confirmation: str, context: audit.RequestContext = audit.NO_REQUEST) -> None:
    """Set the starter's password through Graph. Commits an audit event (never the password)."""
    if not may_set_password(session, deps, opened, browser_id):
        raise PasswordNotAllowed()
    if password != confirmation:
        raise PasswordRejected("The two passwords are not the same. Type the same password twice.")
    if not meets_complexity(password):
        raise PasswordRejected(COMPLEXITY_ADVICE)
    person = opened.person
    starter = audit.Actor.starter(person.employee_id)
    try:
        deps.graph.set_password(person.entra_object_id or "", password)
    except PasswordComplexity:
        deps.audit(session, action="password.set", actor=starter, person=person, outcome="refused",
                   reason="Entra refused the password (complexity or banned-password list)", context=context)
        session.commit()
        raise PasswordRejected(
            f"Microsoft did not accept that password; it may be too common. {COMPLEXITY_ADVICE}") from None
    except (GraphError, TokenError) as exc:
        deps.audit(session, action="password.set", actor=starter, person=person, outcome="failure",
                   reason=type(exc).__name__, context=context)
        session.commit()
        raise PasswordNotSet() from None
    deps.audit(session, action="password.set", actor=starter, person=person, context=context)
    session.commit()
