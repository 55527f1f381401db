"""CPU per starter step, one request at a time, in lockstep with a baseline: a quiet companion to bench_burst.py.

The burst measures the portal as deployed (gunicorn, eight clients, two saturated cores), and single
runs of the same code there differ by up to a fifth. To tell whether a change to a hot path saves a
tenth of a millisecond, this serves the same stack (PostgreSQL, Redis, the emulator over TLS, a real
SMTP sink; bench/burst_stack.py) to the portal built in a child process, drives starters through the
journey with Flask's test client, one request at a time, and reads two clocks around every request:
the serving thread's own CPU clock (time.thread_time: no other process, client or thread is in the
figure), and the process's CPU less the harness's own threads (the SMTP sink and whatever the stack
started before the portal), so that work the request hands to helper threads counts too. A third
clock is PostgreSQL's: the CPU of the bench database's backends, from /proc/<pid>/schedstat (in
nanoseconds), around the same request.

With `--baseline REV`, a second child serves that revision (git archive) on a stack of its own, and the
two take turns, one starter each (ABBA): this machine is a VM whose speed drifts by a tenth over
minutes, and a drift then falls on both sides alike. Sequential rounds of the same code differed by up
to 19% on one step; in lockstep, see docs/benchmarks.md for the calibration.
What it leaves out: gunicorn and contention between requests; the burst has those.

    make bench-steps                               # this checkout
    make bench-steps ARGS="--baseline 75cd6e2"     # also that revision, in lockstep
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("invite page", "request code", "code page", "submit code", "result page")
REFUSALS = ("wrong code", "locked activation", "lost-link request")
PROCESS = "process: "  # the key prefix of the process-CPU samples
POSTGRES = "postgres: "  # and of the PostgreSQL backends' CPU
WRONG_PER_STARTER = 4  # below a code's 5 tries and the lockout, so each one is a counted wrong code


class Portal:
    """The portal app of this process, spoken to as nginx would (https, the client's address, our Origin)."""

    def __init__(self, env: dict[str, str]) -> None:
        # The stack's threads (the SMTP sink's loop and the like) exist before the portal: theirs is the
        # harness's CPU, left out of the process figure. Threads the portal starts later count.
        self.harness_threads = [t for t in threading.enumerate() if t is not threading.current_thread()]
        os.environ.update(env)
        from portal import create_app

        self.app = create_app()
        self.public_url = env["ACTIVATION_PUBLIC_URL"]
        self.headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7", "Origin": self.public_url}
        self.samples: dict[str, list[float]] = {}
        self.backends: list[int] = []  # the bench database's PostgreSQL backends (refreshed per starter)

    def _harness_cpu(self) -> float:
        total = 0.0
        for thread in self.harness_threads:
            if thread.ident is not None and thread.is_alive():
                with contextlib.suppress(OSError):  # the thread ended meanwhile
                    total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        return total

    def _postgres_cpu(self) -> float:
        total = 0
        for pid in self.backends:
            with contextlib.suppress(OSError, ValueError):  # a backend that ended
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        return total / 1e9

    def send(self, client, step: str | None, method: str, path: str, **data: str):  # type: ignore[no-untyped-def]
        postgres_started = self._postgres_cpu()
        started, process_started = time.thread_time(), time.process_time() - self._harness_cpu()
        response = client.open(path, method=method, base_url=self.public_url, headers=self.headers,
                               data=data or None)
        if step is not None:
            thread_ms = 1000 * (time.thread_time() - started)
            process_ms = 1000 * (time.process_time() - self._harness_cpu() - process_started)
            self.samples.setdefault(step, []).append(thread_ms)
            self.samples.setdefault(PROCESS + step, []).append(process_ms)
            self.samples.setdefault(POSTGRES + step, []).append(1000 * (self._postgres_cpu() - postgres_started))
        return response


def csrf(response) -> str:  # type: ignore[no-untyped-def]
    from tests.portal_support import csrf_token

    return csrf_token(response.get_data(as_text=True))


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


def wrong_codes(portal: Portal, mailbox, path: str, email: str) -> None:  # type: ignore[no-untyped-def]
    from bench_burst import wrong

    client, token, code = with_live_code(portal, mailbox, path, email)
    for _ in range(WRONG_PER_STARTER):
        answer = portal.send(client, "wrong code", "POST", f"{path}/code", csrf_token=token, code=wrong(code, 1))
        assert answer.status_code == 303, f"wrong code {answer.status_code}"


def locked_code(portal: Portal, stack, path: str, email: str, employee_id: str) -> None:  # type: ignore[no-untyped-def]
    """A starter with a live code whose activation the desk's rules have locked; the right code is refused."""
    from sqlalchemy import select, update

    from activation.models import Activation, ActivationState, Person

    client, token, code = with_live_code(portal, stack.mailbox, path, email)
    with stack.runtime.session_factory() as session:
        person_id = select(Person.id).where(Person.employee_id == employee_id).scalar_subquery()
        session.execute(update(Activation).where(Activation.person_id == person_id)
                        .values(state=ActivationState.LOCKED, lock_reason="too many wrong codes"))
        session.commit()
    answer = portal.send(client, "locked activation", "POST", f"{path}/code", csrf_token=token, code=code)
    assert answer.status_code == 403, f"locked activation {answer.status_code}"


def lost_link_request(portal: Portal, number: int) -> None:
    """An address nobody has: the page answers at once and queues the lookup (the job consumer, another
    process, does that part; it is not in these figures)."""
    client = portal.app.test_client()
    page = portal.send(client, None, "GET", "/")
    answer = portal.send(client, "lost-link request", "POST", "/lost-link", csrf_token=csrf(page),
                         email=f"nobody{number}@personal.example")
    assert answer.status_code == 200, f"lost-link request {answer.status_code}"


def serve(starters: int) -> None:
    """One side: its own stack and portal; then, for each line on stdin, one starter's journey, wrong
    codes and locked refusal, answered with that starter's samples as one JSON line on stdout."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_burst import seed_starters
    from burst_stack import start

    answer = sys.stdout
    sys.stdout = sys.stderr  # the stack's and the portal's chatter stays off the answer channel
    with ExitStack() as exits, tempfile.TemporaryDirectory(prefix="bench-steps-") as directory:
        stack = start(Path(directory), exits, postgres_url=os.environ["ACTIVATION_TEST_POSTGRES_URL"],
                      gunicorn_env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "1"})
        portal = Portal(stack.env)
        for path, email in seed_starters(stack, 10, "WARM"):
            journey(portal, stack.mailbox, path, email)
        people = zip(seed_starters(stack, starters, "J"), seed_starters(stack, starters, "W"),
                     seed_starters(stack, starters, "L"), strict=True)
        answer.write("ready\n")
        answer.flush()
        for number, ((path, email), wrong_one, locked_one) in enumerate(people):
            if not sys.stdin.readline():
                break
            portal.samples = {}
            portal.backends = stack.postgres_backend_pids()  # the pool's connections, as they are now
            journey(portal, stack.mailbox, path, email)
            wrong_codes(portal, stack.mailbox, *wrong_one)
            locked_code(portal, stack, *locked_one, f"L{number:05d}")  # seed_starters' employee ids
            lost_link_request(portal, number)
            answer.write(json.dumps(portal.samples) + "\n")
            answer.flush()


def low_quantile(values: list[float]) -> float:
    """The 20th percentile: on a shared machine, a busy neighbour or a descheduled thread only ever adds
    time to a request, so a low quantile follows the code more closely than the median does."""
    return statistics.quantiles(values, n=5)[0] if len(values) >= 5 else min(values)


def summary(samples: dict[str, list[float]], prefix: str = "", statistic=None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The steps' figures of one clock: the thread's (no prefix), the process's (PROCESS) or PostgreSQL's."""
    pick = statistic or low_quantile
    figures = {name: pick(samples[prefix + name]) for name in (*STEPS, *REFUSALS) if samples.get(prefix + name)}
    figures["whole activation (sum of the steps)"] = sum(figures[name] for name in STEPS)
    return figures


def table(title: str, figures: dict[str, dict[str, float]]) -> None:
    names = list(figures)
    print(f"\n{title}")
    print("| step | " + " | ".join(names) + (" | change |" if len(names) == 2 else " |"))
    print("|---|" + "---:|" * (len(names) + (1 if len(names) == 2 else 0)))
    for step in figures[names[-1]]:
        cells = [f"{figures[name].get(step, float('nan')):.2f}" for name in names]
        if len(names) == 2:
            before, after = figures[names[0]][step], figures[names[1]][step]
            cells.append(f"{100 * (after - before) / before:+.1f}%")
        print(f"| {step} | " + " | ".join(cells) + " |")


class Side:
    """A child process serving one tree; `turn()` runs one starter there and adds their samples to `samples`."""

    def __init__(self, name: str, code_root: Path, starters: int, log: Path) -> None:
        self.name, self.log = name, log
        self._sink = log.open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, str(code_root / "bench" / "bench_steps.py"), "--serve", "--starters", str(starters)],
            cwd=code_root, env={**os.environ, "PYTHONPATH": str(code_root)}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._sink, text=True)
        self.samples: dict[str, list[float]] = {}

    def _line(self) -> str:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise SystemExit(f"{self.name} stopped:\n{self.log.read_text(encoding='utf-8', errors='replace')[-4000:]}")
        return line

    def wait_ready(self) -> None:
        assert self._line().strip() == "ready"

    def turn(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("next\n")
        self.process.stdin.flush()
        for step, values in json.loads(self._line()).items():
            self.samples.setdefault(step, []).extend(values)

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=120)
        self._sink.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starters", type=int, default=200, help="starters per side (default 200)")
    parser.add_argument("--baseline", metavar="GIT_REV", help="also measure this revision (git archive), in lockstep")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("ACTIVATION_TEST_POSTGRES_URL"):
        print("set ACTIVATION_TEST_POSTGRES_URL (a server where the bench may create a database)", file=sys.stderr)
        return 2
    if args.serve:
        serve(args.starters)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-steps-") as directory:
        root = Path(directory)
        trees = {"this checkout": ROOT}
        if args.baseline:
            tree = root / "baseline"
            tree.mkdir()
            archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, capture_output=True,  # noqa: S607
                                     check=True)
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)  # noqa: S607
            (tree / "bench" / "bench_steps.py").write_bytes((ROOT / "bench" / "bench_steps.py").read_bytes())
            trees = {args.baseline: tree, "this checkout": ROOT}
        sides = [Side(name, tree, args.starters, root / f"side-{number}.log")
                 for number, (name, tree) in enumerate(trees.items())]
        try:
            for each in sides:
                each.wait_ready()
            print(f"both sides ready; {args.starters} starters each, in turns", flush=True)
            for number in range(args.starters):
                for each in (sides if number % 2 == 0 else sides[::-1]):
                    each.turn()
        finally:
            for each in sides:
                each.stop()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    about = f"20th percentile, {args.starters} starters per side (ms); Python {sys.version.split()[0]}, " \
            f"{os.cpu_count()} cores, {when}"
    table(f"Thread CPU per request, {about}", {each.name: summary(each.samples) for each in sides})
    table("Process CPU per request (the serving thread and the helper threads it starts; the SMTP sink left out)",
          {each.name: summary(each.samples, PROCESS) for each in sides})
    table("PostgreSQL CPU per request (the bench database's backends; the mean, as a request's share is small)",
          {each.name: summary(each.samples, POSTGRES, statistic=statistics.fmean) for each in sides})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
