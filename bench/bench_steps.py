"""CPU per starter step, one request at a time, in one process: a quiet companion to bench_burst.py.

The burst measures the portal as deployed (gunicorn, eight clients, two saturated cores), and single
runs of the same code there differ by up to a fifth. To tell whether a change to a hot path saves a
tenth of a millisecond, this serves the same stack (PostgreSQL, Redis, the emulator over TLS, a real
SMTP sink; bench/burst_stack.py) to the portal built in this process, drives each starter through
the journey with Flask's test client, one request at a time, and reads the serving thread's own CPU
clock (time.thread_time) around every request: no other process, client or thread is in the figure.
What it leaves out: the Graph reads that run on helper threads during the result page, gunicorn, and
contention between requests; the burst has those.

    make bench-steps                               # this checkout
    make bench-steps ARGS="--baseline 75cd6e2"     # also that revision, alternating rounds in one run

The baseline is served from `git archive` of the revision in a child process with the same stack.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
STEPS = ("invite page", "request code", "code page", "submit code", "result page")
REFUSALS = ("wrong code", "locked activation")
WRONG_PER_STARTER = 4  # below a code's 5 tries and the lockout, so each one is a counted wrong code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


class Portal:
    """The portal app of this process, spoken to as nginx would (https, the client's address, our Origin)."""

    def __init__(self, env: dict[str, str]) -> None:
        os.environ.update(env)
        from portal import create_app

        self.app = create_app()
        self.public_url = env["ACTIVATION_PUBLIC_URL"]
        self.headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7", "Origin": self.public_url}
        self.samples: dict[str, list[float]] = {name: [] for name in (*STEPS, *REFUSALS)}

    def send(self, client, step: str | None, method: str, path: str, **data: str):  # type: ignore[no-untyped-def]
        started = time.thread_time()
        response = client.open(path, method=method, base_url=self.public_url, headers=self.headers,
                               data=data or None)
        if step is not None:
            self.samples[step].append(1000 * (time.thread_time() - started))
        return response


def csrf(response) -> str:  # type: ignore[no-untyped-def]
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on the page ({response.status_code})"
    return match.group(1)


def journey(portal: Portal, mailbox, path: str, email: str) -> None:  # type: ignore[no-untyped-def]
    client = portal.app.test_client()
    page = portal.send(client, "invite page", "GET", path)
    sent = portal.send(client, "request code", "POST", f"{path}/send-code", csrf_token=csrf(page))
    assert sent.status_code == 302, f"request code {sent.status_code}"
    page = portal.send(client, "code page", "GET", f"{path}/code")
    code = mailbox.latest_code(email)
    submitted = portal.send(client, "submit code", "POST", f"{path}/code", csrf_token=csrf(page), code=code)
    assert submitted.status_code == 303, f"submit code {submitted.status_code}"
    result = portal.send(client, "result page", "GET", f"{path}/pass")
    assert result.status_code == 200 and 'id="tap"' in result.get_data(as_text=True), f"result {result.status_code}"


def with_live_code(portal: Portal, mailbox, path: str, email: str):  # type: ignore[no-untyped-def]
    client = portal.app.test_client()
    page = portal.send(client, None, "GET", path)
    portal.send(client, None, "POST", f"{path}/send-code", csrf_token=csrf(page))
    page = portal.send(client, None, "GET", f"{path}/code")
    return client, csrf(page), mailbox.latest_code(email)


def refusals(portal: Portal, stack, mailbox, wrong_people, locked_people, tag: str) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select, update

    from activation.models import Activation, ActivationState, Person

    for path, email in wrong_people:
        client, token, code = with_live_code(portal, mailbox, path, email)
        for _ in range(WRONG_PER_STARTER):
            answer = portal.send(client, "wrong code", "POST", f"{path}/code", csrf_token=token, code=wrong(code))
            assert answer.status_code == 303, f"wrong code {answer.status_code}"
    holders = [(path, *with_live_code(portal, mailbox, path, email)) for path, email in locked_people]
    with stack.runtime.session_factory() as session:
        ids = select(Person.id).where(Person.employee_id.like(f"{tag}L%")).scalar_subquery()
        session.execute(update(Activation).where(Activation.person_id.in_(ids))
                        .values(state=ActivationState.LOCKED, lock_reason="too many wrong codes"))
        session.commit()
    for path, client, token, code in holders:
        answer = portal.send(client, "locked activation", "POST", f"{path}/code", csrf_token=token, code=code)
        assert answer.status_code == 403, f"locked activation {answer.status_code}"


def serve(starters: int, rounds: int, out: Path) -> None:
    """This checkout's side: its own stack, then `rounds` rounds of journeys and refusals; samples to `out`."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_burst import seed_starters
    from burst_stack import start

    with ExitStack() as exits, tempfile.TemporaryDirectory(prefix="bench-steps-") as directory:
        stack = start(Path(directory), exits, postgres_url=os.environ["ACTIVATION_TEST_POSTGRES_URL"],
                      gunicorn_env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "1"})
        portal = Portal(stack.env)
        for path, email in seed_starters(stack, 10, "WARM"):
            journey(portal, stack.mailbox, path, email)
        portal.samples = {name: [] for name in portal.samples}
        for number in range(rounds):
            tag = f"R{number}"
            for path, email in seed_starters(stack, starters, f"{tag}J"):
                journey(portal, stack.mailbox, path, email)
            refusals(portal, stack, stack.mailbox, seed_starters(stack, max(1, starters // WRONG_PER_STARTER),
                                                                 f"{tag}W"),
                     seed_starters(stack, starters, f"{tag}L"), tag)
        out.write_text(json.dumps(portal.samples), encoding="utf-8")


def summary(samples: dict[str, list[float]]) -> dict[str, float]:
    figures = {name: statistics.median(values) for name, values in samples.items() if values}
    figures["whole activation (sum of medians)"] = sum(figures[name] for name in STEPS)
    return figures


def side(code_root: Path, starters: int, rounds: int, out: Path) -> None:
    """One side in a child process (its own imports of `code_root`); its log lines go to a file beside `out`."""
    log = out.with_suffix(".log")
    with log.open("wb") as sink:
        done = subprocess.run([sys.executable, str(code_root / "bench" / "bench_steps.py"),  # noqa: S603
                               "--serve", str(out), "--starters", str(starters), "--rounds", str(rounds)],
                              cwd=code_root, env={**os.environ, "PYTHONPATH": str(code_root)},
                              stdout=sink, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"{code_root} failed:\n{log.read_text(encoding='utf-8', errors='replace')[-4000:]}")
    print(f"measured {code_root}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starters", type=int, default=100, help="journeys per round (default 100)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per side; with --baseline they alternate")
    parser.add_argument("--baseline", metavar="GIT_REV", help="also measure this revision (git archive)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("ACTIVATION_TEST_POSTGRES_URL"):
        print("set ACTIVATION_TEST_POSTGRES_URL (a server where the bench may create a database)", file=sys.stderr)
        return 2
    if args.serve:
        serve(args.starters, args.rounds, args.serve)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-steps-") as directory:
        root = Path(directory)
        sides = {"this checkout": ROOT}
        if args.baseline:
            tree = root / "baseline"
            tree.mkdir()
            archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, capture_output=True,  # noqa: S607
                                     check=True)
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)  # noqa: S607
            (tree / "bench" / "bench_steps.py").write_bytes((ROOT / "bench" / "bench_steps.py").read_bytes())
            sides = {args.baseline: tree, "this checkout": ROOT}
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in sides}
        for number in range(args.rounds):  # alternate: a drift of the machine falls on both sides
            for name, tree in sides.items():
                out = root / f"{number}-{name.replace(' ', '-')}.json"
                side(tree, args.starters, 1, out)
                for step, values in json.loads(out.read_text(encoding="utf-8")).items():
                    samples[name].setdefault(step, []).extend(values)
    figures = {name: summary(values) for name, values in samples.items()}
    names = list(sides)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\nThread CPU per request, median of {args.rounds} x {args.starters} journeys (ms); "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {when}")
    print("| step | " + " | ".join(names) + (" | change |" if len(names) == 2 else " |"))
    print("|---|" + "---:|" * (len(names) + (1 if len(names) == 2 else 0)))
    for step in figures[names[-1]]:
        cells = [f"{figures[name].get(step, float('nan')):.2f}" for name in names]
        if len(names) == 2:
            before, after = figures[names[0]][step], figures[names[1]][step]
            cells.append(f"{100 * (after - before) / before:+.0f}%")
        print(f"| {step} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
