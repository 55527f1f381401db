"""Entra ID's default password complexity rule, so callers can check before calling Graph."""

from __future__ import annotations

MIN_LENGTH = 8
MAX_LENGTH = 256


def meets_complexity(password: str) -> bool:
    """8-256 characters and at least 3 of: lowercase, uppercase, digit, symbol."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return False
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(classes) >= 3
