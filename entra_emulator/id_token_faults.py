"""Forged and broken ID tokens on demand, so a client's ID token checks can be tested from outside.

`POST /_emulator/id-token-faults {"kind": "..."}` makes the next authorization-code redemption return an
ID token broken in that one way. `POST /_emulator/signing-keys/rotate` starts signing ID tokens with a
new key published next to the old one in the JWKS, as Entra does when it rolls its keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KINDS = (
    "alg_none", "foreign_key", "hs256_with_public_key", "nbf_future", "expired", "audiences_without_azp",
    "wrong_azp", "wrong_nonce", "wrong_tenant", "wrong_issuer", "wrong_audience", "unknown_kid", "no_nonce",
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, _b64url(hashlib.sha256(der).digest()[:15])


def forge(kind: str, claims: dict, key: rsa.RSAPrivateKey, kid: str) -> str:
    """An ID token with `claims`, broken as `kind` says (everything else as the real one)."""
    claims = dict(claims)
    now = int(time.time())
    headers = {"kid": kid, "typ": "JWT"}
    if kind == "alg_none":
        header = _b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{_b64url(json.dumps(claims).encode())}."
    if kind == "hs256_with_public_key":
        public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        body = _b64url(json.dumps(claims).encode())
        signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64url(signature)}"
    if kind == "foreign_key":
        key, _ = new_signing_key()  # same kid, someone else's key
    elif kind == "unknown_kid":
        key, kid = new_signing_key()
        headers["kid"] = kid
    elif kind == "nbf_future":
        claims["nbf"] = now + 3600
    elif kind == "expired":
        claims["exp"] = now - 200
    elif kind == "audiences_without_azp":
        claims["aud"] = [claims["aud"], "00000000-0000-0000-0000-00000000beef"]
        claims.pop("azp", None)
    elif kind == "wrong_azp":
        claims["azp"] = "00000000-0000-0000-0000-00000000beef"
    elif kind == "wrong_nonce":
        claims["nonce"] = hashlib.sha256(b"someone else's nonce").hexdigest()
    elif kind == "no_nonce":
        claims.pop("nonce", None)
    elif kind == "wrong_tenant":
        claims["tid"] = "00000000-0000-0000-0000-00000000beef"
    elif kind == "wrong_issuer":
        claims["iss"] = "https://login.evil.example/" + str(claims.get("tid")) + "/v2.0"
    elif kind == "wrong_audience":
        claims["aud"] = "00000000-0000-0000-0000-00000000beef"
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)
