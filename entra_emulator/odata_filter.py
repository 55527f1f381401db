"""The small slice of OData ``$filter`` the emulator understands: ``field eq 'value'`` joined by ``and``."""

from __future__ import annotations

import re

_CLAUSE = re.compile(r"^\s*([A-Za-z][\w/]*)\s+eq\s+(?:'((?:[^']|'')*)'|(true|false|null|-?\d+))\s*$", re.I)
_AND = re.compile(r"\s+and\s+", re.I)


class FilterError(ValueError):
    pass


def parse(text: str) -> list[tuple[str, object]]:
    """``[(field, value), ...]``; string values unescaped (``''`` -> ``'``)."""
    if not text or not text.strip():
        return []
    clauses = []
    for part in _split_and(text):
        match = _CLAUSE.match(part)
        if not match:
            raise FilterError(f"Invalid filter clause: '{part.strip()}'")
        field, quoted, literal = match.groups()
        if quoted is not None:
            value: object = quoted.replace("''", "'")
        else:
            value = {"true": True, "false": False, "null": None}.get(literal.lower(), literal)
            if isinstance(value, str):
                value = int(value)
        clauses.append((field, value))
    return clauses


def _split_and(text: str) -> list[str]:
    """Split on `` and `` outside quoted strings."""
    parts, buf, in_quote, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            in_quote = not in_quote
            buf.append(ch)
            i += 1
            continue
        if not in_quote:
            match = _AND.match(text, i)
            if match:
                parts.append("".join(buf))
                buf = []
                i = match.end()
                continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts
