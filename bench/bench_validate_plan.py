"""Benchmark: validate and plan a 100,000-row HR CSV on one core, streaming.

Generates a deterministic synthetic extract (realistic values, managers, about 1% bad rows) in a
temporary directory, then runs read + validate + plan in a fresh subprocess pinned to one CPU and
reports wall time, rows/s and peak RSS (ru_maxrss). Two scenarios:

- first import: nobody is known yet, every valid active row is a joiner;
- re-run: the same file against what the first run stored, so (almost) everything is unchanged.

Reproduce: .venv/bin/python bench/bench_validate_plan.py --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from markdown_sections import write_section

ROOT = Path(__file__).resolve().parents[1]
MARK_START = "<!-- bench:validate_plan -->"
MARK_END = "<!-- /bench:validate_plan -->"
TODAY = date(2026, 1, 5)
UPN_DOMAIN = "contoso.example"
TARGETS = "target (issue 15, the first import): < 2 s and < 150 MB peak RSS"

GIVEN = ["Alex", "Maria", "José", "Chen", "Fatima", "Liam", "Olivia", "Noah", "Amélie", "Søren", "Priya",
         "Yuki", "Lukas", "Zoë", "Mateo", "Aisha", "Ivan", "Sofia", "Omar", "Emma", "Björn", "Anaïs"]
FAMILY = ["Smith", "García", "Müller", "Nguyen", "O'Brien", "Kowalski", "Rossi", "Dubois", "Johansson",
          "Patel", "Tanaka", "van der Berg", "Hernández", "Schmidt", "Novak", "Costa", "Kim", "Ødegaard"]
DEPARTMENTS = ["Engineering", "Sales, EMEA", "Finance", "Marketing", "Operations", "HR", "Legal", "Support"]
TITLES = ["Engineer", "Senior Engineer", "Account Executive", "Analyst", "Manager", "Designer", "Consultant"]
PLACES = [("GB", "Europe/London", "en-GB"), ("DE", "Europe/Berlin", "de-DE"), ("FR", "Europe/Paris", "fr-FR"),
          ("ES", "Europe/Madrid", "es-ES"), ("US", "America/New_York", "en-US"), ("JP", "Asia/Tokyo", "ja-JP"),
          ("IN", "Asia/Kolkata", "en-IN"), ("BR", "America/Sao_Paulo", "pt-BR")]
HEADER = ["employee_id", "first_name", "last_name", "preferred_name", "personal_email", "mobile_phone",
          "manager_id", "start_date", "end_date", "department", "job_title", "company", "country",
          "usage_location", "preferred_language", "time_zone", "worker_type", "status"]


def generate(path: Path, rows: int, seed: int = 20260105) -> int:
    """Write the synthetic extract; return how many rows were deliberately broken."""
    rng = random.Random(seed)
    bad = 0
    managers = max(rows // 100, 1)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            country, zone, language = rng.choice(PLACES)
            start = TODAY + timedelta(days=rng.randint(-1800, 90))
            terminated = rng.random() < 0.05
            end = (start + timedelta(days=rng.randint(30, 900))).isoformat() if terminated else ""
            manager = "" if n <= 10 else f"E{rng.randint(1, min(n - 1, managers)):06d}"
            local = re.sub(r"[^a-z]", "", f"{given}{family}".lower().encode("ascii", "ignore").decode())
            row = [
                f"E{n:06d}", given, family, rng.choice(["", "", "", given[:3]]),
                f"{local}.{n}@{rng.choice(['example.com', 'mail.example.org', 'example.net'])}",
                f"+44 7700 {rng.randint(100000, 999999)}", manager, start.isoformat(), end,
                rng.choice(DEPARTMENTS), rng.choice(TITLES), "Contoso Ltd", country, country, language, zone,
                rng.choice(["Employee", "Employee", "Employee", "Contractor"]),
                "terminated" if terminated and rng.random() < 0.5 else "active",
            ]
            if rng.random() < 0.01:
                bad += 1
                _break(row, rng)
            writer.writerow(row)
    return bad


def _break(row: list[str], rng: random.Random) -> None:
    fault = rng.randrange(6)
    if fault == 0:
        row[7] = "2026-02-30"
    elif fault == 1:
        row[12] = "XX"
    elif fault == 2:
        row[1] = ""
    elif fault == 3:
        row[4] = "not-an-email"
    elif fault == 4:
        row[2] = row[2] + "\r\nBcc: x@evil.example"
    else:
        row[15] = "Mars/Olympus"


def measure(csv_path: Path, scenario: str) -> dict[str, float | int | str]:
    """Run one scenario in a fresh interpreter pinned to one CPU; return its measurements."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(csv_path), "--scenario", scenario],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(csv_path: Path, scenario: str) -> None:
    import resource
    import time

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path.insert(0, str(ROOT))
    from activation.provisioning.mapping import load_mapping
    from activation.provisioning.planner import KnownPerson, plan
    from activation.provisioning.readers import read_rows
    from activation.provisioning.records import canonical_fields
    from activation.provisioning.validation import validate

    mapping = load_mapping()
    known: dict[str, KnownPerson] = {}
    if scenario == "re-run":
        # What the first run would have stored (built outside the timed part).
        first = validate(read_rows(csv_path, mapping), mapping=mapping, known_people=None, today=TODAY)
        first_plan = plan(first.records, {}, today=TODAY, upn_domain=UPN_DOMAIN, mapping=mapping)
        for change in first_plan.joiners:
            record = change.record
            known[record.employee_id] = KnownPerson(
                record.employee_id, change.payload_hash, False, record.hr_status, canonical_fields(record), True
            )
        del first, first_plan
    started = time.perf_counter()
    result = validate(read_rows(csv_path, mapping), mapping=mapping, known_people=known, today=TODAY)
    planned = plan(result.records, known, today=TODAY, upn_domain=UPN_DOMAIN, mapping=mapping)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "rows": result.rows_read,
        "seconds": round(elapsed, 3),
        "rows_per_s": int(result.rows_read / elapsed),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rejected_rows": len(result.rejected_rows),
        "to_upload": planned.upload_count,
        "unchanged": len(planned.unchanged),
    }))


def table(results: list[tuple[str, dict]]) -> str:
    head = ("| scenario | rows | validate + plan (s) | rows/s | peak RSS (MB) | rejected rows | to upload "
            "| unchanged |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for scenario, m in results:
        lines.append(f"| {scenario} | {m['rows']:,} | {m['seconds']:.2f} | {m['rows_per_s']:,} | "
                     f"{m['peak_rss_mb']:.0f} | {m['rejected_rows']:,} | {m['to_upload']:,} | {m['unchanged']:,} |")
    return "\n".join(lines)


def section(results: list[tuple[str, dict]]) -> str:
    machine = f"{platform.machine()}, Python {platform.python_version()}, one core (sched_setaffinity)"
    return "\n".join([
        MARK_START,
        "## HR provisioning: validate + plan",
        "",
        f"Synthetic 100,000-row CSV (seeded, ~1% bad rows, manager chains), read + validate + plan in a fresh "
        f"process; {TARGETS}. Measured {date.today().isoformat()} on {machine}. The re-run's peak RSS",
        "includes the stored state (100,000 known people with their fields) built in the same process.",
        "",
        table(results),
        "",
        "Reproduce: `.venv/bin/python bench/bench_validate_plan.py --write docs/benchmarks.md`",
        MARK_END,
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--write", type=Path, help="markdown file whose validate_plan section is replaced")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scenario", default="first import", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.scenario)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-hr-") as tmp:
        csv_path = Path(tmp) / "hr.csv"
        broken = generate(csv_path, args.rows)
        print(f"generated {args.rows:,} rows ({broken:,} deliberately bad) in {csv_path}", file=sys.stderr)
        results = [(scenario, measure(csv_path, scenario)) for scenario in ("first import", "re-run")]
    print(table(results))
    failed = [s for s, m in results if s == "first import" and (m["seconds"] >= 2 or m["peak_rss_mb"] >= 150)]
    if args.write is not None:
        write_section(args.write, section(results), MARK_START, MARK_END)
        print(f"wrote {args.write}", file=sys.stderr)
    if failed:
        print(f"over budget ({TARGETS}): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
