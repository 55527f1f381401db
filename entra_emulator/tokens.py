"""Issuing and checking JWTs: access tokens, ID tokens, client assertions."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives import hashes, serialization

from . import id_token_faults
from .context import EmulatorContext

TOKEN_LIFETIME = 3599


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(context: EmulatorContext, claims: dict) -> str:
    return jwt.encode(
        claims,
        context.keys.signing_key,
        algorithm="RS256",
        headers={"kid": context.keys.signing_kid, "typ": "JWT"},
    )


def _jwk(context: EmulatorContext, public_key, kid: str) -> dict:
    numbers = public_key.public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "use": "sig", "kid": kid, "n": _b64url(n), "e": _b64url(e), "issuer": context.issuer()}


def jwks(context: EmulatorContext) -> dict:
    """Like Entra's: RSA signing keys by `kid` (no `alg`: clients must not take it from the key set)."""
    keys = [_jwk(context, context.keys.signing_key.public_key(), context.keys.signing_kid)]
    with context.store.lock:
        rotated = context.store.rotated_signing_key
    if rotated is not None:
        keys.append(_jwk(context, rotated[0].public_key(), rotated[1]))
    return {"keys": keys}


def _base_claims(context: EmulatorContext, audience: str) -> dict:
    now = int(time.time())
    return {
        "aud": audience,
        "iss": context.issuer(),
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "tid": context.identities.tenant_id,
        "ver": "2.0",
        "uti": uuid.uuid4().hex[:22],
        "jti": str(uuid.uuid4()),
    }


def app_access_token(context: EmulatorContext, audience: str, client_auth: str) -> str:
    claims = _base_claims(context, audience)
    claims.update(
        {
            "appid": context.identities.client_id,
            "azp": context.identities.client_id,
            "appidacr": "2" if client_auth == "certificate" else "1",
            "idtyp": "app",
            "oid": context.identities.app_object_id,
            "sub": context.identities.app_object_id,
            "roles": list(context.store.app_permissions),
        }
    )
    return _sign(context, claims)


def user_access_token(context: EmulatorContext, audience: str, user: dict, scope: str) -> str:
    claims = _base_claims(context, audience)
    claims.update(
        {
            "appid": context.identities.client_id,
            "azp": context.identities.client_id,
            "idtyp": "user",
            "oid": user["id"],
            "sub": user["id"],
            "name": user.get("displayName"),
            "preferred_username": user.get("userPrincipalName"),
            "scp": scope,
        }
    )
    return _sign(context, claims)


def id_token(context: EmulatorContext, user: dict, nonce: str | None) -> str:
    claims = _base_claims(context, context.identities.client_id)
    claims.update(
        {
            "oid": user["id"],
            "sub": user["id"],
            "name": user.get("displayName"),
            "preferred_username": user.get("userPrincipalName"),
        }
    )
    if nonce is not None:
        claims["nonce"] = nonce
    if user.get("roles"):
        claims["roles"] = list(user["roles"])
    claims.pop("jti", None)
    with context.store.lock:
        fault = context.store.id_token_faults.pop(0) if context.store.id_token_faults else None
        rotated = context.store.rotated_signing_key
    key, kid = rotated if rotated is not None else (context.keys.signing_key, context.keys.signing_kid)
    if fault is not None:
        return id_token_faults.forge(fault, claims, key, kid)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})


def client_info(context: EmulatorContext, user: dict) -> str:
    payload = {"uid": user["id"], "utid": context.identities.tenant_id}
    return _b64url(json.dumps(payload, separators=(",", ":")).encode())


def pkce_matches(verifier: str, challenge: str) -> bool:
    computed = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    return bool(verifier) and computed == challenge


class TokenInvalid(Exception):
    pass


def verify_access_token(context: EmulatorContext, raw: str) -> dict:
    """Claims of a token this emulator issued for Graph, else ``TokenInvalid`` with the reason."""
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError as exc:
        raise TokenInvalid("IDX14100: JWT is not well formed.") from exc
    if header.get("kid") != context.keys.signing_kid:
        raise TokenInvalid("Access token validation failure. Invalid signing key.")
    try:
        claims = jwt.decode(
            raw,
            context.keys.signing_key.public_key(),
            algorithms=["RS256"],
            options={"require": ["exp", "aud", "iss", "tid"], "verify_aud": False},
            issuer=context.issuer(),
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenInvalid("Lifetime validation failed, the token is expired.") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"Access token validation failure. {exc}") from exc
    if claims.get("aud") not in context.graph_audiences():
        raise TokenInvalid("Access token validation failure. Invalid audience.")
    if claims.get("tid") != context.identities.tenant_id:
        raise TokenInvalid("Access token validation failure. Invalid tenant.")
    return claims


def verify_client_assertion(context: EmulatorContext, assertion: str, tenant: str) -> str | None:
    """None when the assertion proves the registered certificate, else the reason it does not."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return "Client assertion is not a well-formed JWT."
    cert = context.keys.client_certificate
    if "x5t#S256" in header:
        expected = _b64url(cert.fingerprint(hashes.SHA256()))
        presented = header["x5t#S256"]
    elif "x5t" in header:
        expected = _b64url(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - x5t is SHA-1 by spec
        presented = header["x5t"]
    else:
        return "Client assertion contains no x5t or x5t#S256 header."
    if presented.rstrip("=") != expected:
        return (
            f"Client assertion contains an invalid signature. [Reason - The key was not found., "
            f"Thumbprint of key used by client: '{_b64url_decode(presented).hex().upper()}']"
        )
    if header.get("alg") not in ("RS256", "PS256"):
        return "Client assertion must be signed with RS256 or PS256."
    audiences = {context.token_endpoint(tenant), context.token_endpoint()}
    public_pem = cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        claims = jwt.decode(
            assertion,
            public_pem,
            algorithms=[header["alg"]],
            audience=list(audiences),
            options={"require": ["exp", "aud", "iss", "sub"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError:
        return "Client assertion is expired."
    except jwt.InvalidAudienceError:
        return "Client assertion audience claim does not match the token endpoint."
    except jwt.PyJWTError as exc:
        return f"Client assertion failed signature validation. {exc}"
    if claims["iss"] != context.identities.client_id or claims["sub"] != context.identities.client_id:
        return "Client assertion iss and sub must both be the client id."
    return None
