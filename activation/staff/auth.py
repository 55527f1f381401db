"""OpenID Connect sign-in for staff through one long-lived MSAL application (auth code flow + PKCE).

MSAL builds the authorization request (state, nonce, PKCE) and redeems the code. The callback's values
are checked by us first (activation.staff.callback): MSAL never sees a provider error or an unchecked
value. The ID token is verified by us (activation.staff.id_token: signature against the tenant's JWKS,
claims) and the identity is its `oid`. Nothing here knows about Flask; the portal hands in the
callback's query values.
"""

from __future__ import annotations

import hmac
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import requests

from activation.audit import Actor
from activation.clock import Clock, SystemClock
from activation.config import MicrosoftSettings
from activation.errors import ActivationError
from activation.staff.callback import CallbackResponse, error_code
from activation.staff.id_token import Expected, IdTokenInvalid, JwksSigningKeys, SigningKeys, verify_id_token

DESK_ROLE = "ServiceDesk"
CLOCK_SKEW = timedelta(minutes=5)
MAX_NEXT_PATH = 512


class SignInFailed(ActivationError):
    """Sign-in did not complete. `reason` is a short code safe to log and audit (never a token or state)."""

    def __init__(self, reason: str, oid: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.oid = oid


@dataclass(frozen=True)
class StaffMember:
    """Who is signed in, as stored in the server-side session. Manager rights are NOT here (HR data)."""

    oid: str
    name: str
    username: str
    roles: frozenset[str]

    @property
    def is_desk(self) -> bool:
        return DESK_ROLE in self.roles

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.oid)

    def to_data(self) -> dict[str, Any]:
        return {"oid": self.oid, "name": self.name, "username": self.username, "roles": sorted(self.roles)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StaffMember:
        return cls(oid=str(data["oid"]), name=str(data.get("name") or ""), username=str(data.get("username") or ""),
                   roles=frozenset(str(r) for r in data.get("roles") or ()))


class SignInProvider(Protocol):
    """The identity provider port: the real one is MSAL against Entra ID (or the emulator)."""

    def begin(self, redirect_uri: str) -> dict[str, Any]:
        """A new auth code flow (state, nonce, code_verifier, auth_uri...) to keep server-side."""

    def complete(self, flow: dict[str, Any], response: CallbackResponse) -> dict[str, Any]:
        """Redeem the code; return the verified ID token claims, or raise SignInFailed."""


def check_callback(flow: Mapping[str, Any], response: CallbackResponse) -> None:
    """What we decide before MSAL sees anything: our state, then the provider's error, then a code."""
    expected = flow.get("state")
    if not isinstance(expected, str) or not expected:
        raise SignInFailed("no_pending_sign_in")
    if response.state is None or not hmac.compare_digest(response.state.encode(), expected.encode()):
        raise SignInFailed("state_mismatch")
    if response.error is not None:
        raise SignInFailed(f"provider_error:{response.error}")
    if response.code is None:
        raise SignInFailed("code_missing")


class MsalSignIn:
    """Staff sign-in through ONE ConfidentialClientApplication, built on first use.

    MSAL remembers the last failure of each call (its `x-client-last-telemetry` header), so after any
    failed redemption the application is dropped and the next sign-in builds a clean one: nothing a
    single callback does can break sign-in for the rest of the process.
    """

    def __init__(self, app_factory: Any, authority: str, keys: SigningKeys, expected: Expected,
                 clock: Clock | None = None) -> None:
        self._app_factory = app_factory
        self._authority = authority.rstrip("/")
        self._keys = keys
        self._expected = expected
        self._clock = clock or SystemClock()
        self._app: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MsalSignIn(authority={self._authority!r})"

    @property
    def msal_app(self) -> Any:
        with self._lock:
            if self._app is None:
                self._app = self._app_factory()
            return self._app

    def _discard(self, app: Any) -> None:
        with self._lock:
            if self._app is app:
                self._app = None

    def begin(self, redirect_uri: str) -> dict[str, Any]:
        # response_mode=query on purpose: a cross-site form_post would arrive without our SameSite=Lax
        # cookie, and so without the pending session. The code is single use and PKCE-bound, and pages
        # send `Referrer-Policy: no-referrer`, which is what RFC 9700 section 4.3.1 is worried about.
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
                flow = self.msal_app.initiate_auth_code_flow(scopes=[], redirect_uri=redirect_uri,
                                                             response_mode="query")
            return dict(flow)
        except (requests.RequestException, ActivationError) as exc:
            raise SignInFailed(f"provider_unreachable:{type(exc).__name__}") from None

    def complete(self, flow: dict[str, Any], response: CallbackResponse) -> dict[str, Any]:
        check_callback(flow, response)
        app = self.msal_app
        try:
            result = app.acquire_token_by_auth_code_flow(flow, response.for_msal())
        except requests.RequestException as exc:
            self._discard(app)
            raise SignInFailed(f"provider_unreachable:{type(exc).__name__}") from None
        except RuntimeError:  # MSAL's own nonce comparison
            self._discard(app)
            raise SignInFailed("id_token_invalid:nonce") from None
        except ValueError:  # MSAL refusing its input after our checks passed; its message holds the state
            self._discard(app)
            raise SignInFailed("token_request_refused") from None
        if not isinstance(result, Mapping) or "id_token" not in result:
            self._discard(app)
            error = result.get("error") if isinstance(result, Mapping) else None
            raise SignInFailed(f"token_error:{error_code(error)}" if error else "token_error:no_id_token")
        self._forget_tokens(app, str((result.get("id_token_claims") or {}).get("oid") or ""))
        try:
            return verify_id_token(result["id_token"], self._keys, self._expected, str(flow.get("nonce") or ""),
                                   self._clock.now())
        except IdTokenInvalid as invalid:
            raise SignInFailed(f"id_token_invalid:{invalid.reason}") from None

    @staticmethod
    def _forget_tokens(app: Any, oid: str) -> None:
        """We only need the ID token's claims: drop the user's tokens from the shared in-memory cache."""
        for account in app.get_accounts():
            if account.get("local_account_id") == oid:
                app.remove_account(account)


def build_sign_in(microsoft: MicrosoftSettings, clock: Clock | None = None) -> MsalSignIn:
    """The real provider, with the same credential, authority and CA trust as the Graph client."""
    from activation.graph.factory import load_certificate_credential
    from activation.graph.http_session import build_http_session
    from activation.graph.tokens import MsalTokenProvider

    if not microsoft.tenant_id or not microsoft.client_id:
        from activation.errors import ConfigurationError

        raise ConfigurationError("Staff sign-in needs ACTIVATION_TENANT_ID and ACTIVATION_CLIENT_ID.")
    clock = clock or SystemClock()
    http = build_http_session(microsoft.ca_bundle or None)

    def build_app() -> Any:
        certificate = (load_certificate_credential(microsoft.certificate_path, microsoft.certificate_thumbprint or None)
                       if microsoft.certificate_path else None)
        provider = MsalTokenProvider(
            client_id=microsoft.client_id, authority=microsoft.authority, scope=microsoft.graph_scope,
            http_session=http, client_secret=None if certificate else (microsoft.client_secret or None),
            certificate=certificate,
        )
        return provider.msal_app

    keys = JwksSigningKeys(http, f"{microsoft.authority}/v2.0/.well-known/openid-configuration", clock)
    expected = Expected(issuer=f"{microsoft.authority}/v2.0", tenant_id=microsoft.tenant_id,
                        client_id=microsoft.client_id)
    return MsalSignIn(build_app, microsoft.authority, keys, expected, clock)


def member_from_claims(claims: Mapping[str, Any], microsoft: MicrosoftSettings, now: datetime) -> StaffMember:
    """Check the ID token claims that MSAL leaves to us; identity is `oid`, roles from `roles`."""
    oid = str(claims.get("oid") or "")
    tenant = str(claims.get("tid") or "")
    if not oid:
        raise SignInFailed("claims_invalid:oid")
    if tenant != microsoft.tenant_id:
        raise SignInFailed("claims_invalid:tid", oid)
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if microsoft.client_id not in audiences:
        raise SignInFailed("claims_invalid:aud", oid)
    if claims.get("iss") != f"{microsoft.authority_host.rstrip('/')}/{tenant}/v2.0":
        raise SignInFailed("claims_invalid:iss", oid)
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or datetime.fromtimestamp(expires, UTC) + CLOCK_SKEW < now:
        raise SignInFailed("claims_invalid:exp", oid)
    roles = claims.get("roles") or []
    return StaffMember(
        oid=oid,
        name=str(claims.get("name") or claims.get("preferred_username") or "")[:256],
        username=str(claims.get("preferred_username") or "")[:256],
        roles=frozenset(str(r) for r in roles if isinstance(r, str)),
    )


def safe_next_path(candidate: str | None, default: str = "/staff/") -> str:
    """Only a same-site relative path is accepted after sign-in: no scheme, no host, no `//` or `/\\`."""
    if not candidate or len(candidate) > MAX_NEXT_PATH:
        return default
    if not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return default
    if unquote(candidate).startswith(("//", "/\\")) or "%5c" in candidate.lower():  # encoded slashes too
        return default
    if any(ch in candidate for ch in "\\\r\n\t") or not candidate.isprintable():
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return default
    return candidate
