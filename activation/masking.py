"""Show enough of a personal value to recognise it, never the whole value."""

from __future__ import annotations


def printable(value: str) -> str:
    """Escape control and format characters so a line can never be split or spoofed."""
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in value)


def mask_email(value: str) -> str:
    """`jane.doe@example.com` -> `j***@e***.com`."""
    local, at, domain = value.rpartition("@")
    if not at:
        return mask_name(value)
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_domain = f"{host[:1]}***" + (f".{printable(tld)[:8]}" if tld else "")
    return f"{printable(local[:1])}***@{printable(masked_domain)}"


def mask_phone(value: str) -> str:
    """Keep only the last two digits: `+44 7700 900123` -> `***23`."""
    digits = [ch for ch in value if ch.isdigit()]
    return "***" + "".join(digits[-2:]) if len(digits) > 4 else "***"


def mask_name(value: str) -> str:
    """`Jane` -> `J***`."""
    return f"{printable(value[:1])}***" if value else ""
