"""Summarise py-spy collapsed stacks (bench_burst.py --profile DIR): where the workers' samples go.

    .venv/bin/python bench/profile_summary.py DIR/burst.txt [--top 30] [--match sqlalchemy]

Prints the share of samples that include each function (inclusive) and that end in it (self).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LOCATION = re.compile(r" \((?:/.*?/)?((?:site-packages/)?[^()]*?)(?::\d+)?\)$")


def frames(stack: str) -> list[str]:
    """'process;func (path:line);...' -> ['func (short path)', ...] without line numbers."""
    names = []
    for frame in stack.split(";")[1:]:
        match = _LOCATION.search(frame)
        short = match.group(1).split("site-packages/")[-1] if match else ""
        names.append(f"{frame.split(' (')[0]} ({short})")
    return names


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only functions whose name or file contains this")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in args.path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        names = frames(stack)
        total += samples
        for name in set(names):
            inclusive[name] += samples
        if names:
            leaf[names[-1]] += samples
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", leaf)):
        print(f"\n{title}:")
        shown = [(n, c) for n, c in counter.most_common() if args.match in n][: args.top]
        for name, count in shown:
            print(f"{100 * count / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
