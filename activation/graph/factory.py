"""Composition of the real Graph adapter from plain settings values."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from activation.clock import Clock, SystemClock
from activation.errors import ConfigurationError
from activation.graph.http_client import HttpGraphClient
from activation.graph.http_session import build_graph_pool, build_http_session
from activation.graph.retry import RetryPolicy
from activation.graph.tokens import MsalTokenProvider

DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

_PEM_KEY = re.compile(
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.+?-----END (?:[A-Z]+ )?PRIVATE KEY-----", re.DOTALL
)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def load_certificate_credential(path: str, thumbprint: str | None) -> dict[str, str]:
    """Read a PEM file holding the private key and the certificate into MSAL's credential dict."""
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"ACTIVATION_CLIENT_CERTIFICATE: cannot read {path} ({type(exc).__name__})."
        ) from None
    key = _PEM_KEY.search(text)
    cert = _PEM_CERT.search(text)
    if not key or not cert:
        raise ConfigurationError(
            f"ACTIVATION_CLIENT_CERTIFICATE: {path} must hold a PEM private key and a PEM certificate."
        )
    if not thumbprint:
        parsed = x509.load_pem_x509_certificate(cert.group(0).encode("ascii"))
        thumbprint = parsed.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Entra's x5t thumbprint is SHA-1
    return {
        "private_key": key.group(0),
        "thumbprint": thumbprint.replace(":", "").strip(),
        "public_certificate": cert.group(0),
    }


def build_graph_client(
    *,
    graph_url: str = DEFAULT_GRAPH_URL,
    authority_host: str = DEFAULT_AUTHORITY_HOST,
    tenant_id: str,
    client_id: str,
    client_secret: str | None = None,
    certificate_path: str | None = None,
    certificate_thumbprint: str | None = None,
    ca_bundle: str | None = None,
    clock: Clock | None = None,
    provisioning_sp_id: str | None = None,
    provisioning_job_id: str | None = None,
    timeout: float = 10.0,
    retry: RetryPolicy | None = None,
    response_hooks: Sequence[Callable[..., Any]] = (),
) -> HttpGraphClient:
    """MSAL on a requests session, Graph calls on a urllib3 pool, both with the same trust; a certificate
    wins over a secret when both are set."""
    if not tenant_id or not client_id:
        raise ConfigurationError("Graph needs ACTIVATION_TENANT_ID and ACTIVATION_CLIENT_ID.")
    certificate = (
        load_certificate_credential(certificate_path, certificate_thumbprint) if certificate_path else None
    )
    if certificate is None and not client_secret:
        raise ConfigurationError(
            "Graph needs ACTIVATION_CLIENT_CERTIFICATE (preferred) or ACTIVATION_CLIENT_SECRET."
        )
    session = build_http_session(ca_bundle)  # MSAL's, for the token endpoint
    session.hooks["response"].extend(response_hooks)  # e.g. metrics counting throttles and retries
    graph_root = graph_url.rstrip("/")
    tokens = MsalTokenProvider(
        client_id=client_id,
        authority=f"{authority_host.rstrip('/')}/{tenant_id}",
        scope=f"{graph_root}/.default",
        http_session=session,
        client_secret=None if certificate else client_secret,
        certificate=certificate,
        timeout=timeout,
    )
    return HttpGraphClient(
        graph_root,
        tokens,
        build_graph_pool(ca_bundle),
        clock or SystemClock(),
        timeout=timeout,
        retry=retry,
        provisioning_sp_id=provisioning_sp_id,
        provisioning_job_id=provisioning_job_id,
        response_hooks=tuple(response_hooks),
    )
