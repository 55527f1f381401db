"""Limits checked on untrusted JSON *before* it is parsed: Python's json module recurses once per level,
so a body like `[[[[...]]]]` a few thousand deep ends in RecursionError (a 500 and tracebacks)."""

from __future__ import annotations

MAX_JSON_DEPTH = 8  # the HR push API needs 3: an array of worker objects, a field that is an object


class JsonTooDeep(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the JSON is nested more than {limit} levels deep")
        self.limit = limit


def check_depth(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise JsonTooDeep when arrays/objects nest deeper than `limit`; one linear pass, strings skipped."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                raise JsonTooDeep(limit)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
