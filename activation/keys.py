"""Per-purpose keys derived from the one secret key, so a leak of one use does not unlock another."""

from __future__ import annotations

import hashlib
import hmac


def derive_key(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), f"day-one-activation:{purpose}".encode(), hashlib.sha256).digest()


def keyed_hash(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 over the parts, unambiguously joined; hex digest."""
    message = "\x1f".join(parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same_hash(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())
