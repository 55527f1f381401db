"""Bearer-token check shared by every Graph blueprint."""

from __future__ import annotations

from flask import g, request

from .context import ctx
from .graph_errors import graph_error
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
    return None


def odata_base() -> str:
    """``{base}/v1.0`` or ``{base}/beta``, whichever this request used."""
    version = request.path.strip("/").split("/")[0]
    return f"{ctx().base_url}/{version}"
