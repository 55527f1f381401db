"""Personal email checks: syntax, lookalike characters and mixed scripts, and normalisation.

Kept deliberately simple: the local part must be ASCII; a domain label may be non-ASCII only when it
is written in one script (letters and digits only, no compatibility forms such as full-width letters).
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

MAX_EMAIL = 254
MAX_LOCAL = 64
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ASCII_EMAIL = re.compile(rf"({_LOCAL})@((?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}}))")
_LOCAL_ONLY = re.compile(_LOCAL)
_ASCII_LABEL = re.compile(_LABEL)


class EmailCheck(NamedTuple):
    normalised: str  # "" when rejected
    problem: str | None  # actionable reason when rejected
    note: str | None = None  # accepted, but worth a warning


def check_email(value: str) -> EmailCheck:
    """Validate and normalise (trimmed, domain lower-cased, local part kept as written)."""
    value = value.strip()
    if len(value) > MAX_EMAIL:
        return EmailCheck("", f"is longer than {MAX_EMAIL} characters; use a shorter address")
    if value.isascii():
        match = _ASCII_EMAIL.fullmatch(value)
        if match is None:
            return EmailCheck("", "is not a valid email address (name@example.com); correct it")
        local, domain = match.group(1), match.group(2)
        if len(local) > MAX_LOCAL:
            return EmailCheck("", f"has a part before @ longer than {MAX_LOCAL} characters; correct it")
        return EmailCheck(f"{local}@{domain.lower()}", None)
    return _check_international(value)


def _check_international(value: str) -> EmailCheck:
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return EmailCheck("", "is not a valid email address (name@example.com); correct it")
    if not local.isascii():
        return EmailCheck(
            "",
            "has non-ASCII characters before @ (possible lookalike letters); use the plain ASCII address",
        )
    if len(local) > MAX_LOCAL or _LOCAL_ONLY.fullmatch(local) is None:
        return EmailCheck("", "is not a valid email address (name@example.com); correct it")
    labels = domain.lower().split(".")
    if len(labels) < 2:
        return EmailCheck("", "has no top-level domain after @; correct it")
    for label in labels:
        if label.isascii():
            if _ASCII_LABEL.fullmatch(label) is None:
                return EmailCheck("", "is not a valid email address (name@example.com); correct it")
            continue
        problem = _label_problem(label)
        if problem is not None:
            return EmailCheck("", problem)
    return EmailCheck(
        f"{local}@{'.'.join(labels)}",
        None,
        "uses an internationalised domain; check with the person that it is right",
    )


def _label_problem(label: str) -> str | None:
    if len(label) > 63 or label.startswith("-") or label.endswith("-"):
        return "has an invalid domain label; correct the address"
    scripts: set[str] = set()
    for ch in label:
        if ch == "-" or ch.isdigit() and ch.isascii():
            continue
        if unicodedata.normalize("NFKC", ch) != ch:
            return (
                f"uses the compatibility character U+{ord(ch):04X} (a lookalike); "
                "retype the domain with ordinary letters"
            )
        if not unicodedata.category(ch).startswith("L"):
            return f"has the character U+{ord(ch):04X} in its domain; only letters, digits and - are allowed"
        scripts.add(unicodedata.name(ch, "UNKNOWN").split(" ")[0])
    if len(scripts) > 1:
        return (
            f"mixes scripts ({' and '.join(sorted(scripts))}) in one domain label, a lookalike risk; "
            "use the genuine address"
        )
    return None
