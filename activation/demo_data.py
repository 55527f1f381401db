"""The demo's HR file, with its dates moved so that the joiners start around today."""

from __future__ import annotations

import contextlib
import csv
from datetime import date, timedelta
from pathlib import Path

ANCHOR = date(2026, 1, 5)  # the "today" the demo file was written for
DATE_COLUMNS = ("start_date", "end_date")


def shifted_copy(source: Path, target: Path, today: date) -> Path:
    """Copy `source` to `target`, moving every valid ISO date by (today - ANCHOR) days.

    Invalid dates (the demo's deliberately bad row) are left as they are, so the import still
    rejects and reports them.
    """
    offset = timedelta(days=(today - ANCHOR).days)
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(newline="", encoding="utf-8") as incoming, target.open("w", newline="", encoding="utf-8") as out:
        reader = csv.DictReader(incoming)
        writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        for row in reader:
            for column in DATE_COLUMNS:
                value = row.get(column) or ""
                with contextlib.suppress(ValueError):  # the bad row keeps its bad date
                    row[column] = (date.fromisoformat(value) + offset).isoformat()
            writer.writerow(row)
    return target


DEMO_LOCK = ".demo.pid"  # in instance/demo/: the running demo's process id


def template_note(path: Path, config_dir: Path, instance_dir: Path) -> str | None:
    """A warning when `path` is the demo's unshifted template rather than the copy the demo provisioned."""
    template = (config_dir / "demo" / "hr.csv").resolve()
    if path.resolve() != template:
        return None
    shifted = instance_dir / "demo" / "hr.csv"
    return (f"{path} is the demo's template, written for {ANCHOR.isoformat()}; the demo provisions a copy with "
            f"its dates moved to today ({shifted}). Use that copy, or every date difference shows up as a mover.")


def running_demo_pid(instance_dir: Path) -> int | None:
    """The process id of a demo running from this instance folder, if one is alive."""
    import os

    lock = instance_dir / "demo" / DEMO_LOCK
    try:
        pid = int(lock.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid
