"""OpenID Connect sign-in for staff through one long-lived MSAL application (auth code flow + PKCE).

MSAL builds the authorization request (state, nonce, PKCE) and checks state and nonce on the way back;
we check the rest of the ID token that matters to us (issuer, tenant, audience, expiry) and take the
identity from `oid`. Nothing here knows about Flask; the portal hands in the callback's query values.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from activation.audit import Actor
from activation.config import MicrosoftSettings
from activation.errors import ActivationError

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

    def complete(self, flow: dict[str, Any], response: Mapping[str, str]) -> dict[str, Any]:
        """Redeem the code; return the ID token claims, or raise SignInFailed."""


class MsalSignIn:
    """Staff sign-in through ONE ConfidentialClientApplication, built on first use."""

    def __init__(self, app_factory: Any, authority: str) -> None:
        self._app_factory = app_factory
        self._authority = authority.rstrip("/")
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

    def complete(self, flow: dict[str, Any], response: Mapping[str, str]) -> dict[str, Any]:
        app = self.msal_app
        try:
            result = app.acquire_token_by_auth_code_flow(flow, dict(response))
        except ValueError:
            raise SignInFailed("state_mismatch") from None  # MSAL's message holds the state values
        except RuntimeError:
            raise SignInFailed("nonce_mismatch") from None
        except requests.RequestException as exc:
            raise SignInFailed(f"provider_unreachable:{type(exc).__name__}") from None
        if not isinstance(result, Mapping) or "id_token_claims" not in result:
            error = str((result or {}).get("error") or "no_id_token")[:64]
            raise SignInFailed(f"provider_error:{error}")
        claims = dict(result["id_token_claims"])
        self._forget_tokens(app, str(claims.get("oid") or ""))
        return claims

    @staticmethod
    def _forget_tokens(app: Any, oid: str) -> None:
        """We only need the ID token's claims: drop the user's tokens from the shared in-memory cache."""
        for account in app.get_accounts():
            if account.get("local_account_id") == oid:
                app.remove_account(account)


def build_sign_in(microsoft: MicrosoftSettings) -> MsalSignIn:
    """The real provider, with the same credential, authority and CA trust as the Graph client."""
    from activation.graph.factory import load_certificate_credential
    from activation.graph.http_session import build_http_session
    from activation.graph.tokens import MsalTokenProvider

    if not microsoft.tenant_id or not microsoft.client_id:
        from activation.errors import ConfigurationError

        raise ConfigurationError("Staff sign-in needs ACTIVATION_TENANT_ID and ACTIVATION_CLIENT_ID.")

    def build_app() -> Any:
        certificate = (load_certificate_credential(microsoft.certificate_path, microsoft.certificate_thumbprint or None)
                       if microsoft.certificate_path else None)
        provider = MsalTokenProvider(
            client_id=microsoft.client_id, authority=microsoft.authority, scope=microsoft.graph_scope,
            http_session=build_http_session(microsoft.ca_bundle or None),
            client_secret=None if certificate else (microsoft.client_secret or None), certificate=certificate,
        )
        return provider.msal_app

    return MsalSignIn(build_app, microsoft.authority)


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
    if any(ch in candidate for ch in "\\\r\n\t") or not candidate.isprintable():
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return default
    return candidate
