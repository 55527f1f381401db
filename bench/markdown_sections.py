"""Replace one marked section of docs/benchmarks.md, keeping the others."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(path: Path, text: str, start: str, end: str) -> None:
    """`text` includes its own start and end markers; a missing section is appended."""
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(existing):
        updated = pattern.sub(lambda _match: text, existing)
    else:
        updated = existing.rstrip("\n") + "\n\n" + text + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")
