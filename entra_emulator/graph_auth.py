"""Bearer-token check shared by every Graph blueprint."""

from __future__ import annotations

from flask import g, request

from .context import ctx
from .graph_errors import graph_error
from .permissions import accepted_permissions
from .tokens import TokenInvalid, verify_access_token


def require_graph_token():
    """``before_request`` hook: 401 with the Graph envelope unless a valid emulator token is sent."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'}
    if scheme.lower() != "bearer" or not raw.strip():
        return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
    try:
        g.token_claims = verify_access_token(ctx(), raw.strip())
    except TokenInvalid as exc:
        return graph_error(401, "InvalidAuthenticationToken", str(exc), challenge)
    version_path = "/" + request.path.strip("/").split("/", 1)[-1]
    accepted = accepted_permissions(request.method, version_path, request.get_json(silent=True))
    granted = set(g.token_claims.get("roles") or [])
    if accepted is not None and not granted & accepted:
        return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    return None


def odata_base() -> str:
    """``{base}/v1.0`` or ``{base}/beta``, whichever this request used."""
    version = request.path.strip("/").split("/")[0]
    return f"{ctx().base_url}/{version}"
