"""App-only tokens through one long-lived MSAL ConfidentialClientApplication."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from activation.graph.error_mapping import scrub
from activation.graph.errors import TokenError

MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.microsoftonline.de",
    }
)

AADSTS_HINTS: dict[int, str] = {
    7000215: "Check ACTIVATION_CLIENT_SECRET (use the secret's value, not its id).",
    7000222: "The client secret has expired; create a new one and update ACTIVATION_CLIENT_SECRET.",
    700016: "Check ACTIVATION_CLIENT_ID: no such application in this tenant.",
    90002: "Check ACTIVATION_TENANT_ID: the tenant was not found.",
    700027: (
        "Check ACTIVATION_CLIENT_CERTIFICATE and ACTIVATION_CLIENT_CERTIFICATE_THUMBPRINT: "
        "the certificate is not registered on the app, has expired, or the key does not match."
    ),
}
TLS_HINT = "TLS certificate not trusted; set ACTIVATION_CA_BUNDLE to the CA file that signed it."
_AADSTS = re.compile(r"AADSTS(\d+)")


def token_error_from_result(result: Mapping[str, Any], secrets: tuple[str, ...] = ()) -> TokenError:
    """Build a specific TokenError from MSAL's error dict."""
    error = str(result.get("error") or "unknown_error")
    description = scrub(str(result.get("error_description") or ""), secrets)
    codes = [int(c) for c in result.get("error_codes") or [] if isinstance(c, int | str) and str(c).isdigit()]
    if not codes:
        codes = [int(c) for c in _AADSTS.findall(description)]
    summary = description.splitlines()[0][:200] if description else ""
    message = f"Token request failed: {error}" + (f" ({summary})" if summary else "") + "."
    hints = [AADSTS_HINTS[c] for c in codes if c in AADSTS_HINTS]
    if hints:
        message += " " + hints[0]
    return TokenError(
        message,
        error=error,
        error_description=description,
        error_codes=codes,
        correlation_id=result.get("correlation_id"),
    )


def _is_tls_failure(exc: BaseException) -> bool:
    return isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc)


class MsalTokenProvider:
    """Holds ONE ConfidentialClientApplication, created on first use, so its token cache is reused."""

    def __init__(
        self,
        client_id: str,
        authority: str,
        scope: str,
        http_session: requests.Session,
        client_secret: str | None = None,
        certificate: dict[str, str] | None = None,
        instance_discovery: bool | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not client_secret and not certificate:
            raise TokenError("Token request impossible: no client secret or certificate configured.")
        self._client_id = client_id
        self._authority = authority.rstrip("/")
        self._scopes = [scope]
        self._session = http_session
        self._credential: str | dict[str, str] = certificate or client_secret or ""
        self._secrets = tuple(s for s in (client_secret, (certificate or {}).get("private_key")) if s)
        self._timeout = timeout
        if instance_discovery is None and urlsplit(self._authority).hostname not in MICROSOFT_AUTHORITY_HOSTS:
            instance_discovery = False
        self._instance_discovery = instance_discovery
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MsalTokenProvider(client_id={self._client_id!r}, authority={self._authority!r})"

    @property
    def msal_app(self) -> msal.ConfidentialClientApplication:
        """The shared MSAL application (also meant for staff sign-in), built on first use."""
        with self._lock:
            if self._app is None:
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._client_id,
                        client_credential=self._credential,
                        authority=self._authority,
                        http_client=self._session,
                        instance_discovery=self._instance_discovery,
                        timeout=self._timeout,
                    )
                except Exception as exc:  # MSAL raises ValueError or requests errors during discovery
                    raise self._setup_error(exc) from None
            return self._app

    def access_token(self) -> str:
        app = self.msal_app
        try:
            result = app.acquire_token_for_client(scopes=self._scopes)
        except requests.RequestException as exc:
            raise self._network_error(exc) from None
        except msal.exceptions.MsalServiceError as exc:  # e.g. the token endpoint answered 5xx
            raise TokenError(
                f"Token request to {self._host()} failed: the identity service answered an error "
                f"({scrub(str(getattr(exc, 'error', '') or type(exc).__name__), self._secrets)[:80]}); "
                "try again shortly.",
                error="service_error",
            ) from None
        if not isinstance(result, Mapping) or "access_token" not in result:
            raise token_error_from_result(result or {}, self._secrets)
        return str(result["access_token"])

    def _host(self) -> str:
        return urlsplit(self._authority).netloc

    def _network_error(self, exc: BaseException) -> TokenError:
        if _is_tls_failure(exc):
            return TokenError(f"Token request to {self._host()} failed: {TLS_HINT}", error="tls_untrusted")
        return TokenError(
            f"Token request failed: cannot reach {self._host()} ({type(exc).__name__}). "
            "Check ACTIVATION_AUTHORITY_HOST and the network.",
            error="network_error",
        )

    def _setup_error(self, exc: BaseException) -> TokenError:
        if isinstance(exc, requests.RequestException) or _is_tls_failure(exc):
            return self._network_error(exc)
        detail = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, self._secrets)[:200]
        if "private key" in detail.lower() or "pem" in detail.lower():
            hint = "Check ACTIVATION_CLIENT_CERTIFICATE (PEM private key and certificate)."
        else:
            hint = "Check ACTIVATION_AUTHORITY_HOST and ACTIVATION_TENANT_ID."
        return TokenError(
            f"Token client setup failed for {self._authority}: {detail}. {hint}", error="setup_error"
        )
