"""Staff sign-in and sign-out as services: a pre-login session holds the flow, sign-in replaces it.

The auth code flow (state, nonce, PKCE verifier) lives only in a short server-side "pending" session
named by the cookie, never in a readable cookie. Completing sign-in deletes that record and creates a
new session under a new id (no session fixation). Every outcome is audited by `oid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from activation import audit
from activation.deps import Deps
from activation.keys import derive_key, keyed_hash
from activation.models import ActorType
from activation.staff.auth import SignInFailed, SignInProvider, StaffMember, member_from_claims, safe_next_path
from activation.staff.callback import parse_callback, safe_text
from activation.staff.sessions import PENDING_LIFETIME, StaffSessions

PENDING, SIGNED_IN = "pending", "staff"
CALLBACK_PATH = "/staff/auth/callback"
SIGNED_OUT_PATH = "/staff/signed-out"


@dataclass(frozen=True)
class SignInStarted:
    session_id: str
    authorize_url: str


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    member: StaffMember
    next_path: str


@dataclass(frozen=True)
class SignedOut:
    logout_url: str


def redirect_uri(deps: Deps) -> str:
    return deps.settings.portal.public_url.rstrip("/") + CALLBACK_PATH


def start_sign_in(sessions: StaffSessions, provider: SignInProvider, deps: Deps,
                  next_path: str | None) -> SignInStarted:
    """Begin the auth code flow in a new pending session (its own cookie). A live staff session is left
    alone: a cross-site GET to the sign-in page must not sign anyone out (only POST sign-out does)."""
    flow = provider.begin(redirect_uri(deps))
    session_id = sessions.create({"kind": PENDING, "flow": flow, "next": safe_next_path(next_path)},
                                 lifetime=PENDING_LIFETIME)
    return SignInStarted(session_id, str(flow["auth_uri"]))


def complete_sign_in(session: Session, sessions: StaffSessions, provider: SignInProvider, deps: Deps,
                     pending_id: str | None, values: Mapping[str, str],
                     context: audit.RequestContext = audit.NO_REQUEST, current_id: str | None = None) -> SignedIn:
    """Redeem the callback, check the claims, and start a fresh session. Commits the audit event.

    `values` is the callback's raw query: it is parsed and bounded here (activation.staff.callback), so
    nothing unchecked reaches MSAL or the audit trail. Only success replaces the session under
    `current_id`; a failed or forged callback leaves a live staff session alone.
    """
    response = parse_callback(values)
    record = sessions.load(pending_id)
    sessions.end(pending_id)  # single use, whatever happens next
    try:
        if record is None or record.data.get("kind") != PENDING or not isinstance(record.data.get("flow"), dict):
            raise SignInFailed("no_pending_sign_in")
        claims = provider.complete(record.data["flow"], response)
        member = member_from_claims(claims, deps.settings.microsoft, deps.clock.now())
    except SignInFailed as failed:
        actor = audit.Actor.staff(failed.oid) if failed.oid else audit.Actor(ActorType.STAFF, None)
        details = {"aadsts": response.provider_code} if response.provider_code else None
        deps.audit(session, action="staff.signed_in", actor=actor, outcome="failure",
                   reason=safe_text(failed.reason, 96), context=context, details=details)
        session.commit()
        raise
    sessions.end(current_id)  # a new identity replaces whatever session the browser had
    session_id = sessions.create({"kind": SIGNED_IN, "member": member.to_data()})
    deps.audit(session, action="staff.signed_in", actor=member.actor, context=context,
               details={"roles": sorted(member.roles)})
    session.commit()
    return SignedIn(session_id, member, safe_next_path(str(record.data.get("next") or "")))


def csrf_value(secret_key: str, session_id: str) -> str:
    """The raw CSRF value of a staff session, derived from its id (which only that browser holds).

    Staff forms carry flask-wtf's token over this value, so a token (and cookie) taken from any other
    session, the attacker's own included, does not fit a victim's staff session.
    """
    return keyed_hash(derive_key(secret_key, "staff-csrf"), session_id)[:40]


def current_member(sessions: StaffSessions, session_id: str | None) -> StaffMember | None:
    """The signed-in staff member for this cookie, or None (no session, pending, or timed out)."""
    record = sessions.load(session_id)
    if record is None or record.data.get("kind") != SIGNED_IN:
        return None
    return StaffMember.from_data(record.data["member"])


def sign_out(session: Session, sessions: StaffSessions, deps: Deps, session_id: str | None,
             context: audit.RequestContext = audit.NO_REQUEST) -> SignedOut:
    """End the server-side session now, then send the browser to Entra's logout."""
    member = current_member(sessions, session_id)
    sessions.end(session_id)
    if member is not None:
        deps.audit(session, action="staff.signed_out", actor=member.actor, context=context)
        session.commit()
    public = deps.settings.portal.public_url.rstrip("/")
    query = urlencode({"post_logout_redirect_uri": public + SIGNED_OUT_PATH})
    return SignedOut(f"{deps.settings.microsoft.authority}/oauth2/v2.0/logout?{query}")
