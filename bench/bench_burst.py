"""Benchmark: day one at scale, the portal beside its floor in one run (issue 15).

Starts the deployed shape (bench/burst_stack.py: gunicorn with config/gunicorn.conf.py, PostgreSQL,
Redis, staging against the HTTPS emulator with 50 ms added to every Graph call, real SMTP), then:

1. burst: N starters at concurrency C through invite page, request code, code page, read the mail,
   submit (the result page shows the TAP), in two halves of N/2 (with --baseline the halves run
   ABBA, like every other phase);
2. floor: a bare Flask POST served by the same gunicorn settings, same client, same concurrency;
3. refusals: wrong code, locked activation, forged invite token, lost-link request, CSRF failure;
   then a flood of wrong-code POSTs spread over many invites, with proof that it changed nothing
   but counters and audit rows;
4. waiting: 10% of Graph calls answered 429 (Retry-After: 1) and 10% 503.

CPU is read from /proc (utime + stime) for the gunicorn workers and the PostgreSQL backends of
the benchmark's database, so it means something on a busy machine; wall-clock figures do not.

    .venv/bin/python bench/bench_burst.py            # short: about a minute or two (make bench)
    .venv/bin/python bench/bench_burst.py --full     # 1,000 starters at 16, 10,000-POST flood
    .venv/bin/python bench/bench_burst.py --write docs/benchmarks.md

Needs ACTIVATION_TEST_POSTGRES_URL (a server where it may create and drop a database) and
redis-server on PATH.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from burst_client import Browser, Timings, percentile, tap_on  # noqa: E402
from burst_stack import ROOT, BenchStack, Gunicorn, start, start_gunicorn  # noqa: E402
from markdown_sections import write_section  # noqa: E402
from proc_cpu import CpuMeter, load_average, rss_mb  # noqa: E402

MARK_START, MARK_END = "<!-- bench:burst -->", "<!-- /bench:burst -->"
GRAPH_LATENCY = 0.05


@dataclass(frozen=True)
class Sizes:
    starters: int
    concurrency: int
    refusals: int  # requests per kind of refusal
    flood: int
    waiting_starters: int
    floor_requests: int


SHORT = Sizes(starters=200, concurrency=8, refusals=100, flood=1000, waiting_starters=60, floor_requests=2000)
FULL = Sizes(starters=1000, concurrency=16, refusals=1000, flood=10_000, waiting_starters=300, floor_requests=10_000)


# Seeding: joiners in the emulator and in HR, each with an invite (the invite mail is not the bench).

def seed_starters(stack: BenchStack, count: int, prefix: str) -> list[tuple[str, str]]:
    """`count` invited joiners; returns (invite path, personal email) for each."""
    from activation import audit, invites
    from activation.models import HrStatus, Person

    runtime, info = stack.runtime, stack.emulator
    people = []
    for number in range(count):
        employee_id = f"{prefix}{number:05d}"
        user = stack.control.post(f"{info.base_url}/_emulator/users", timeout=10, json={
            "employeeId": employee_id, "userPrincipalName": f"{employee_id.lower()}@contoso.example",
            "displayName": f"Starter {employee_id}", "accountEnabled": False}).json()
        people.append((employee_id, user))
    deps = runtime.deps()
    paths = []
    with runtime.session_factory() as session:
        for employee_id, user in people:
            email = f"{employee_id.lower()}@personal.example"
            person = Person(employee_id=employee_id, given_name="Starter", family_name=employee_id,
                            display_name=f"Starter {employee_id}", personal_email=email,
                            start_date=datetime.now(UTC).date(), hr_status=HrStatus.ACTIVE, time_zone="UTC",
                            entra_object_id=user["id"], upn=user["userPrincipalName"])
            session.add(person)
            session.flush()
            invite = invites.issue(session, deps, person, audit.Actor.system())
            session.flush()
            link = invites.invite_link(deps, invite)
            paths.append((link[len(stack.public_url):], email))
        session.commit()
    return paths


class Clients:
    """C client threads, each with its own keep-alive connection."""

    def __init__(self, concurrency: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="starter")
        self._local = threading.local()

    def http(self) -> requests.Session:
        if not hasattr(self._local, "http"):
            self._local.http = requests.Session()
            self._local.http.trust_env = False
        return self._local.http

    def run(self, work, items) -> tuple[list, float]:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        results = list(self.pool.map(work, items))
        return results, time.perf_counter() - started


def client_ip(number: int) -> str:
    return f"198.51.{(number // 250) % 250}.{number % 250 + 1}"  # documentation range: a header only


def browser(stack: BenchStack, clients: Clients, timings: Timings, number: int) -> Browser:
    return Browser(clients.http(), stack.portal.url, stack.public_url, client_ip(number), timings)


def journey(stack: BenchStack, clients: Clients, timings: Timings, number: int, path: str, email: str) -> str | None:
    """One starter from the invite page to the TAP; returns the TAP or None (an error is recorded)."""
    tab = browser(stack, clients, timings, number)
    try:
        page = tab.get("invite page", path)
        if page.status_code != 200:
            raise RuntimeError(f"invite page {page.status_code}")
        sent = tab.post("request code", f"{path}/send-code")
        if sent.status_code != 302:
            raise RuntimeError(f"request code {sent.status_code}")
        page = tab.get("code page", f"{path}/code")
        if page.status_code != 200:
            raise RuntimeError(f"code page {page.status_code}")
        started = time.perf_counter()
        code = stack.mailbox.latest_code(email)
        timings.add("read mail", time.perf_counter() - started)
        submitted = tab.post("submit code", f"{path}/code", code=code)
        if submitted.status_code != 303 or not submitted.headers.get("Location", "").endswith("/pass"):
            raise RuntimeError(f"submit code {submitted.status_code}")
        result = tab.get("result page", f"{path}/pass")  # post/redirect/get: the pass is shown on the GET
        tap = tap_on(result) if result.status_code == 200 else None
        if tap is None:
            raise RuntimeError(f"result page {result.status_code}")
        return tap
    except (RuntimeError, requests.RequestException, AssertionError) as exc:
        timings.errors.append(str(exc))
        return None


def with_live_code(stack: BenchStack, clients: Clients, timings: Timings, number: int, path: str,
                   email: str) -> tuple[Browser, str]:
    """A starter who has asked for a code (the set-up of refusals); returns their browser and the code."""
    tab = browser(stack, clients, timings, number)
    tab.get("setup", path)
    tab.post("setup", f"{path}/send-code")
    tab.get("setup", f"{path}/code")
    return tab, stack.mailbox.latest_code(email)


def wrong(code: str, offset: int) -> str:
    return f"{(int(code) + offset) % 10 ** len(code):0{len(code)}d}"


# Measuring a phase: CPU of the workers and of PostgreSQL, wall time, requests.

@dataclass
class Phase:
    name: str
    requests: int
    wall: float
    portal_cpu: float
    postgres_cpu: float
    timings: Timings
    consumer_cpu: float = 0.0  # the job consumer's share of portal_cpu

    def per_request_ms(self) -> float:
        return 1000 * self.portal_cpu / max(1, self.requests)


def measure(stack: BenchStack, name: str, server: str, clients: Clients, work, items, *,  # type: ignore[no-untyped-def]
            with_consumer: bool = True) -> tuple[Phase, list]:
    """`with_consumer`: the job consumer's CPU counts with the web workers' (the portal's cost). Off for
    refusals that queue no work: then the consumer's CPU is background work for earlier phases (the
    credential watch's first look at every account activated a minute before), not the refusal's."""
    gunicorn = stack.portal if server == "portal" else stack.floor
    counted = server == "portal" and with_consumer
    if counted:  # the web workers and the job consumer together
        workers = CpuMeter(lambda: [*gunicorn.worker_pids(), stack.job_worker_pid]).start()
    else:
        workers = CpuMeter(gunicorn.worker_pids).start()
    consumer = CpuMeter(lambda: [stack.job_worker_pid] if counted else []).start()
    postgres = CpuMeter(stack.postgres_backend_pids).start()
    results, wall = clients.run(work, items)
    portal_cpu, postgres_cpu, consumer_cpu = workers.stop(), postgres.stop(), consumer.stop()
    timings = next((r for r in results if isinstance(r, Timings)), None)
    return Phase(name, 0, wall, portal_cpu, postgres_cpu, timings or Timings(), consumer_cpu), results


def run_floor(stack: BenchStack, clients: Clients, count: int) -> Phase:
    timings = Timings()
    headers = {"X-Forwarded-Proto": "https", "Origin": stack.public_url}

    def post(_: int) -> None:
        started = time.perf_counter()
        response = clients.http().post(f"{stack.floor.url}/floor", data={"x": "1"}, headers=headers, timeout=30)
        timings.add("floor POST", time.perf_counter() - started)
        if response.status_code != 200:
            timings.errors.append(f"floor {response.status_code}")

    phase, _ = measure(stack, "floor", "floor", clients, post, range(count))
    phase.requests, phase.timings = count, timings
    return phase


def graph_writes(stack: BenchStack) -> tuple[Counter, Counter]:
    """Successful TAP creations and enables per user id, from the emulator's request log."""
    taps, enables = Counter(), Counter()
    for entry in stack.emulator_requests():
        parts = entry["path"].split("/")
        if entry["method"] == "POST" and entry["path"].endswith("/temporaryAccessPassMethods") \
                and entry["status"] == 201:
            taps[parts[3]] += 1
        if entry["method"] == "PATCH" and len(parts) == 4 and parts[2] == "users" and entry["status"] == 204:
            enables[parts[3]] += 1
    return taps, enables


def run_burst(stack: BenchStack, clients: Clients, sizes: Sizes, name: str, count: int, prefix: str) -> dict:
    people = seed_starters(stack, count, prefix)
    stack.clear_emulator_requests()
    timings = Timings()

    def one(item: tuple[int, tuple[str, str]]) -> str | None:
        number, (path, email) = item
        return journey(stack, clients, timings, number, path, email)

    phase, taps = measure(stack, name, "portal", clients, one, list(enumerate(people)))
    phase.requests, phase.timings = timings.requests(), timings
    graph_taps, graph_enables = graph_writes(stack)
    completed = sum(1 for tap in taps if tap)
    return {"phase": phase, "completed": completed, "duplicates": sum(n - 1 for n in graph_taps.values() if n > 1)
            + sum(n - 1 for n in graph_enables.values() if n > 1), "graph_calls": len(stack.emulator_requests())}


def merged_bursts(first: dict, second: dict) -> dict:
    """One burst's figures from two halves: counts, CPU and wall time add up; latencies pool."""
    a, b = first["phase"], second["phase"]
    timings = Timings()
    for part in (a.timings, b.timings):
        for step, samples in part.steps.items():
            timings.steps[step].extend(samples)
        timings.errors.extend(part.errors)
    phase = Phase(a.name, a.requests + b.requests, a.wall + b.wall, a.portal_cpu + b.portal_cpu,
                  a.postgres_cpu + b.postgres_cpu, timings, a.consumer_cpu + b.consumer_cpu)
    return {"phase": phase, **{key: first[key] + second[key] for key in ("completed", "duplicates", "graph_calls")}}


def run_refusals(stack: BenchStack, clients: Clients, sizes: Sizes, tag: str) -> list[Phase]:
    from sqlalchemy import update

    from activation.models import Activation, ActivationState, Person

    count = sizes.refusals
    setup = Timings()
    # Wrong codes: 4 per starter (below the 5 tries of a code), each starter holding a live code.
    wrong_people = seed_starters(stack, (count + 3) // 4, f"{tag}W")
    holders, _ = clients.run(lambda item: with_live_code(stack, clients, setup, item[0], *item[1]),
                             list(enumerate(wrong_people)))
    # Locked: starters who had a code (their browser has a CSRF token), then locked by the desk's rules.
    locked_people = seed_starters(stack, min(count, 100), f"{tag}L")
    locked, _ = clients.run(lambda item: with_live_code(stack, clients, setup, item[0], *item[1]),
                            list(enumerate(locked_people)))
    with stack.runtime.session_factory() as session:
        session.execute(update(Activation).where(Activation.person_id.in_(
            session.query(Person.id).filter(Person.employee_id.like(f"{tag}L%")).scalar_subquery()))
            .values(state=ActivationState.LOCKED, lock_reason="too many wrong codes"))
        session.commit()
    lost = browser(stack, clients, setup, 9999)
    lost.get("setup", "/")
    forged = [f"/a/{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(8)}" for _ in range(count)]

    kinds = {
        "wrong code": [(holders[i // 4], i % 4 + 1, wrong_people[i // 4][0]) for i in range(count)],
        "locked activation": [(locked[i % len(locked)], 1, locked_people[i % len(locked)][0]) for i in range(count)],
        "forged invite token": forged,
        "lost-link request": list(range(count)),
        "CSRF failure": [(holders[i % len(holders)], 0, wrong_people[i % len(holders)][0]) for i in range(count)],
    }
    # a wrong code answers 303 to the code page (post/redirect/get); the refusal measured is that POST
    expected = {"wrong code": 303, "locked activation": 403, "forged invite token": 404,
                "lost-link request": 200, "CSRF failure": 400}
    phases = []
    for kind, items in kinds.items():
        timings = Timings()
        # Same-browser requests must not race each other: wrong codes for one starter go in order.
        items = sorted(items, key=lambda item: item[1] if isinstance(item, tuple) else 0)

        def refuse(item, kind=kind, timings=timings):  # type: ignore[no-untyped-def]
            if kind == "forged invite token":
                tab = browser(stack, clients, timings, 0)
                response = tab.get(kind, item)
            elif kind == "lost-link request":
                tab = Browser(clients.http(), stack.portal.url, stack.public_url, client_ip(item), timings)
                tab.cookies, tab.csrf = dict(lost.cookies), lost.csrf
                response = tab.post(kind, "/lost-link", email=f"nobody{item}@personal.example")
            else:
                (tab, code), offset, path = item
                twin = Browser(clients.http(), stack.portal.url, stack.public_url, tab.headers["X-Forwarded-For"],
                               timings)
                twin.cookies, twin.csrf = dict(tab.cookies), tab.csrf
                if kind == "CSRF failure":
                    response = twin.post(kind, f"{path}/code", with_csrf=False, code=wrong(code, 1))
                else:
                    response = twin.post(kind, f"{path}/code", code=wrong(code, offset))
            if response.status_code != expected[kind]:
                timings.errors.append(f"{kind}: {response.status_code}")

        with Profiler(stack, stack.profile_dir, f"{tag}-refusal-{kind.replace(' ', '-')}"):
            # Only a lost-link request queues work (the lookup and, for a known address, the mail).
            phase, _ = measure(stack, kind, "portal", clients, refuse, items,
                               with_consumer=kind == "lost-link request")
        phase.requests, phase.timings = len(items), timings
        phases.append(phase)
    return phases


def database_picture(stack: BenchStack) -> dict[str, list]:
    """Every row of every table, without the columns a refusal may change (counters, versions)."""
    from sqlalchemy import MetaData, select

    from activation.jobs.ledger import PERIODIC_PREFIX

    # ... and the credential watch's bookkeeping (issue 16): every minute it looks at accounts activated
    # earlier in the run, which is background work, not the flood's doing.
    counters = {"failed_code_count", "attempts", "version", "updated_at", "count", "window_start",
                "credential_checks", "credential_next_check_at"}
    metadata = MetaData()
    metadata.reflect(stack.runtime.engine)
    picture = {}
    with stack.runtime.engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = [column for column in table.columns if column.name not in counters]
            query = select(*columns).order_by(*table.primary_key.columns)
            if table.name == "job":  # the worker's periodic firings (one row a minute) are not the flood's doing
                query = query.where(~table.c.kind.startswith(PERIODIC_PREFIX))
            rows = connection.execute(query).all()
            picture[table.name] = [tuple(row) for row in rows]
    return picture


def watched_users(stack: BenchStack) -> set[str]:
    """Entra ids of accounts activated before the flood: the credential watch reads their methods."""
    from sqlalchemy import select

    from activation.models import Activation, Person

    with stack.runtime.session_factory() as session:
        return set(session.scalars(select(Person.entra_object_id).join(Activation)
                                   .where(Activation.completed_at.is_not(None))))


def run_flood(stack: BenchStack, clients: Clients, sizes: Sizes, tag: str) -> dict:
    count = sizes.flood
    per_invite = 4
    people = seed_starters(stack, (count + per_invite - 1) // per_invite, f"{tag}F")
    setup = Timings()
    holders, _ = clients.run(lambda item: with_live_code(stack, clients, setup, item[0], *item[1]),
                             list(enumerate(people)))
    before = database_picture(stack)
    watched = watched_users(stack)
    mails_before = stack.mailbox.count
    stack.clear_emulator_requests()
    timings = Timings()
    items = sorted(((holders[i // per_invite], i % per_invite + 1, people[i // per_invite][0]) for i in range(count)),
                   key=lambda item: item[1])

    def guess(item) -> None:  # type: ignore[no-untyped-def]
        (tab, code), offset, path = item
        twin = Browser(clients.http(), stack.portal.url, stack.public_url, tab.headers["X-Forwarded-For"], timings)
        twin.cookies, twin.csrf = dict(tab.cookies), tab.csrf
        response = twin.post("flood", f"{path}/code", code=wrong(code, offset))
        if response.status_code != 303:
            timings.errors.append(f"flood: {response.status_code}")

    phase, _ = measure(stack, "flood", "portal", clients, guess, items, with_consumer=False)  # queues nothing
    phase.requests, phase.timings = count, timings
    after = database_picture(stack)
    # Counters and audit rows may change (new audit rows only, old ones untouched); nothing else.
    allowed = {"audit_event", "rate_limit_counter"}
    changed = sorted(name for name in after if name not in allowed and after[name] != before.get(name))
    if after["audit_event"][:len(before["audit_event"])] != before["audit_event"]:
        changed.append("audit_event (old rows)")
    new_audit = after["audit_event"][len(before["audit_event"]):]
    graph = [e for e in stack.emulator_requests() if e["path"].startswith("/v1.0/")
             and not (e["method"] == "GET" and e["path"].endswith("/authentication/methods")
                      and e["path"].split("/")[3] in watched)]  # the credential watch, as above
    graph_calls = len(graph)
    if graph or changed:  # name what happened, so a failed check can be followed up
        shapes = Counter(f"{e['method']} {re.sub(r'/users/[^/]+', '/users/{id}', e['path'])}" for e in graph)
        print(f"[flood] changed {changed}; Graph calls {dict(shapes)}", file=sys.stderr)  # noqa: T201
        for name in changed:
            gone, new = set(before.get(name, [])) - set(after[name]), set(after[name]) - set(before.get(name, []))
            print(f"[flood] {name}: {len(gone)} rows before -> {len(new)} rows after, e.g. "  # noqa: T201
                  f"{sorted(gone, key=str)[:1]} -> {sorted(new, key=str)[:1]}", file=sys.stderr)
    return {"phase": phase, "changed_tables": changed, "new_audit_rows": len(new_audit),
            "mails": stack.mailbox.count - mails_before, "graph_calls": graph_calls}


# Faults in the emulator: 50 ms on every Graph call; optionally 10% 429 (Retry-After: 1) and 10% 503.

def set_latency(stack: BenchStack) -> None:
    base = stack.emulator.base_url
    stack.control.delete(f"{base}/_emulator/faults", timeout=10)
    stack.control.post(f"{base}/_emulator/faults", timeout=10,
                       json={"path": "/v1.0/*", "delay": GRAPH_LATENCY, "times": None})


class ThrottleFeeder:
    """Keeps a shuffled queue of one-shot faults in the emulator: of every 10 Graph calls, 8 slow,
    1 answered 429 with Retry-After: 1 and 1 answered 503 (each also 50 ms late)."""

    def __init__(self, stack: BenchStack) -> None:
        self.stack = stack
        self.stopping = threading.Event()
        self.random = random.Random(15)
        self.thread = threading.Thread(target=self._run, name="throttle-feeder", daemon=True)

    def _batch(self) -> list[dict]:
        batch = [{"path": "/v1.0/*", "delay": GRAPH_LATENCY, "times": 1} for _ in range(8)]
        batch.append({"path": "/v1.0/*", "delay": GRAPH_LATENCY, "times": 1, "status": 429, "retry_after": 1})
        batch.append({"path": "/v1.0/*", "delay": GRAPH_LATENCY, "times": 1, "status": 503})
        self.random.shuffle(batch)
        return batch

    def _run(self) -> None:
        base = self.stack.emulator.base_url
        while not self.stopping.is_set():
            queued = len(self.stack.control.get(f"{base}/_emulator/faults", timeout=10).json()["value"])
            if queued < 60:
                for fault in self._batch():
                    self.stack.control.post(f"{base}/_emulator/faults", json=fault, timeout=10)
            else:
                self.stopping.wait(0.02)

    def __enter__(self) -> ThrottleFeeder:
        self.stack.control.delete(f"{self.stack.emulator.base_url}/_emulator/faults", timeout=10)
        for _ in range(6):
            for fault in self._batch():
                self.stack.control.post(f"{self.stack.emulator.base_url}/_emulator/faults", json=fault, timeout=10)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()


class Profiler:
    """`--profile DIR`: py-spy (`pip install -e '.[bench]'`) samples every portal worker during a phase and
    writes collapsed stacks (DIR/<phase>.txt, for flamegraph.pl or speedscope.app). Only threads holding
    the GIL are sampled (`--gil`), so the shares are of Python CPU, not of time spent waiting."""

    def __init__(self, stack: BenchStack, directory: Path | None, phase: str) -> None:
        self.stack, self.directory, self.phase = stack, directory, phase
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Profiler:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.processes = [self._record(self.stack.portal.process.popen.pid, self.phase),
                              self._record(self.stack.job_worker_pid, f"{self.phase}-consumer")]
            time.sleep(1.0)  # py-spy attaches to each worker before the phase starts
        return self

    def _record(self, pid: int, name: str) -> subprocess.Popen[bytes]:
        py_spy = Path(sys.executable).parent / "py-spy"
        return subprocess.Popen([str(py_spy), "record", "--pid", str(pid),  # noqa: S603
                                 "--subprocesses", "--gil", "--format", "raw", "--rate", "200", "--nonblocking",
                                 "-o", str(self.directory / f"{name}.txt")],  # type: ignore[operator]
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


# Report.

def ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f}"


Row = tuple[str, str, str, "bool | None"]


def figures(sizes: Sizes, floor: Phase, burst: dict, refusals: list[Phase], flood: dict, waiting: dict,
            rss: list[float]) -> list[Row]:
    """Every figure of the issue for one portal: (name, value, target, holds or None)."""
    phase: Phase = burst["phase"]
    floor_ms = floor.per_request_ms()
    completed = burst["completed"]
    rate = completed / phase.wall
    cpu_per_activation = 1000 * phase.portal_cpu / max(1, completed)
    pg_per_activation = 1000 * phase.postgres_cpu / max(1, completed)
    pages = [step for step in ("invite page", "request code", "code page", "submit code", "result page")]
    worst_p95 = max(percentile(phase.timings.steps[step], 0.95) for step in pages)
    rows = [
        ("completed activations / starters", f"{completed} / {sizes.starters}", "all", completed == sizes.starters),
        ("activations/s (wall)", f"{rate:.1f}", ">= 50", rate >= 50),
        ("errors", str(len(phase.timings.errors)), "0", not phase.timings.errors),
        ("duplicate TAPs or enables (emulator log)", str(burst["duplicates"]), "0", burst["duplicates"] == 0),
        ("portal CPU per activation (workers)", f"{cpu_per_activation:.1f} ms", "<= 10 ms", cpu_per_activation <= 10),
        ("  of which the job consumer", f"{1000 * phase.consumer_cpu / max(1, completed):.1f} ms", "", None),
        ("PostgreSQL CPU per activation", f"{pg_per_activation:.1f} ms", "<= 5 ms", pg_per_activation <= 5),
        ("floor CPU per request", f"{floor_ms:.2f} ms", "", None),
        ("portal CPU per request / floor's", f"{phase.per_request_ms() / floor_ms:.1f}x "
         f"({phase.per_request_ms():.1f} ms)", "<= 8x", phase.per_request_ms() / floor_ms <= 8),
        ("worst page p95 in the burst", f"{ms(worst_p95)} ms", "< 300 ms", worst_p95 < 0.3),
        ("worker RSS after the burst (max)", f"{max(rss):.0f} MB", "< 150 MB", max(rss) < 150),
    ]
    for step in [*pages, "read mail"]:
        samples = phase.timings.steps[step]
        rows.append((f"  {step} p50 / p95 / p99", f"{ms(percentile(samples, .5))} / {ms(percentile(samples, .95))}"
                     f" / {ms(percentile(samples, .99))} ms", "", None))
    floor_samples = floor.timings.steps["floor POST"]
    rows.append(("  floor POST p50 / p95 / p99", f"{ms(percentile(floor_samples, .5))} / "
                 f"{ms(percentile(floor_samples, .95))} / {ms(percentile(floor_samples, .99))} ms", "", None))
    for refusal in refusals:
        ratio = refusal.per_request_ms() / floor_ms
        rows.append((f"refusal: {refusal.name} (CPU / floor's)", f"{ratio:.1f}x ({refusal.per_request_ms():.1f} ms,"
                     f" {len(refusal.timings.errors)} errors)", "<= 3x", ratio <= 3 and not refusal.timings.errors))
    flood_phase: Phase = flood["phase"]
    ratio = flood_phase.per_request_ms() / floor_ms
    rows.append((f"flood: {sizes.flood:,} wrong codes (CPU / floor's)", f"{ratio:.1f}x "
                 f"({flood_phase.per_request_ms():.1f} ms, {flood_phase.requests / flood_phase.wall:.0f}/s)",
                 "<= 3x", ratio <= 3))
    untouched = not flood["changed_tables"] and not flood["mails"] and not flood["graph_calls"]
    rows.append(("flood changed only counters + audit rows",
                 f"{'yes' if untouched else 'NO: ' + ', '.join(flood['changed_tables'])}; "
                 f"{flood['new_audit_rows']} audit rows, {flood['mails']} mails, {flood['graph_calls']} Graph calls, "
                 f"{len(flood_phase.timings.errors)} errors", "yes", untouched and not flood_phase.timings.errors))
    waiting_phase: Phase = waiting["phase"]
    submit = waiting_phase.timings.steps["submit code"]
    rows.append(("waiting (10% 429 + 10% 503): activations/s", f"{waiting['completed'] / waiting_phase.wall:.1f} "
                 f"({waiting['completed']}/{sizes.waiting_starters}, {len(waiting_phase.timings.errors)} errors, "
                 f"{waiting['duplicates']} duplicates)", "", None))
    rows.append(("waiting: submit-code p95", f"{ms(percentile(submit, .95))} ms", "", None))
    return rows


def render(rows: list[Row], baseline: list[Row] | None, baseline_name: str) -> str:
    """One markdown table; with a baseline, its values in a column beside this checkout's."""

    def mark(holds: bool | None) -> str:
        return "" if holds is None else ("yes" if holds else "**no**")

    if baseline is None:
        table = ["| figure | this run | target | holds |", "|---|---:|---|---|"]
        table += [f"| {name} | {value} | {target} | {mark(holds)} |" for name, value, target, holds in rows]
    else:
        table = [f"| figure | before ({baseline_name}) | after (this checkout) | target | holds after |",
                 "|---|---:|---:|---|---|"]
        table += [f"| {name} | {old[1]} | {value} | {target} | {mark(holds)} |"
                  for (name, value, target, holds), old in zip(rows, baseline, strict=True)]
    return "\n".join(table)


def run_all(stack: BenchStack, clients: Clients, sizes: Sizes, floor: Phase,
            tag: str) -> Generator[None, None, list[Row]]:
    """Burst, refusals, flood and waiting against `stack.portal`; the figures of the issue.

    A generator that pauses after each phase, so that `in_turns` can run a baseline's phase between two
    of this one's; its return value (StopIteration.value) is the table's rows."""
    # The burst in two halves, so that with a baseline it runs in ABBA order too (before's first half,
    # after's first, after's second, before's second): run whole, it was the one phase in AB order, and
    # the side that ran second met the first side's background work (2026-12-06).
    half = sizes.starters // 2
    print(f"[{tag}] burst, first half", flush=True)
    with Profiler(stack, stack.profile_dir, f"{tag}-burst"):
        first = run_burst(stack, clients, sizes, "burst", half, f"{tag}B")
    yield
    print(f"[{tag}] burst, second half", flush=True)
    with Profiler(stack, stack.profile_dir, f"{tag}-burst-second-half"):
        second = run_burst(stack, clients, sizes, "burst", sizes.starters - half, f"{tag}C")
    burst = merged_bursts(first, second)
    rss = [rss_mb(pid) or 0.0 for pid in stack.portal.worker_pids()]
    yield
    print(f"[{tag}] refusals", flush=True)
    refusals = run_refusals(stack, clients, sizes, tag)
    yield
    print(f"[{tag}] flood", flush=True)
    with Profiler(stack, stack.profile_dir, f"{tag}-flood"):
        flood = run_flood(stack, clients, sizes, tag)
    yield
    print(f"[{tag}] waiting", flush=True)
    with ThrottleFeeder(stack):
        waiting = run_burst(stack, clients, sizes, "waiting", sizes.waiting_starters, f"{tag}T")
    set_latency(stack)
    for phase in (burst["phase"], *refusals, flood["phase"], waiting["phase"]):
        for error, times in Counter(phase.timings.errors).most_common(3):
            print(f"  [{tag}] {phase.name}: {times} x {error}")
    return figures(sizes, floor, burst, refusals, flood, waiting, rss)


def in_turns(runs: dict[str, Generator[None, None, list[Row]]]) -> dict[str, list[Row]]:
    """Advance each run (a `run_all` generator) one phase at a time, in ABBA order: before's burst, after's
    burst, after's refusals, before's refusals, ... A drift of the machine over minutes (this kind of VM
    has them) then falls on both sides instead of on whichever ran second."""
    rows: dict[str, list[Row]] = {}
    order = list(runs)
    turn = 0
    while len(rows) < len(order):
        for name in order if turn % 2 == 0 else order[::-1]:
            if name in rows:
                continue
            try:
                next(runs[name])
            except StopIteration as finished:
                rows[name] = finished.value
        turn += 1
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="1,000 starters at 16, 10,000-POST flood")
    parser.add_argument("--starters", type=int)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--baseline", metavar="GIT_REV",
                        help="also serve the portal as of this revision (git archive) and measure it first, "
                             "in the same run, beside this checkout")
    parser.add_argument("--write", type=Path, help="replace the burst section of this markdown file")
    parser.add_argument("--profile", type=Path, help="record py-spy profiles of the burst and flood here")
    parser.add_argument("--werkzeug-emulator", action="store_true",
                        help="serve the emulator with werkzeug (closes every connection) instead of gunicorn")
    args = parser.parse_args()
    sizes = FULL if args.full else SHORT
    if args.starters or args.concurrency:
        sizes = Sizes(**{**sizes.__dict__, **{k: v for k, v in (("starters", args.starters),
                                                                  ("concurrency", args.concurrency)) if v}})
    postgres_url = os.environ.get("ACTIVATION_TEST_POSTGRES_URL")
    if not postgres_url:
        print("set ACTIVATION_TEST_POSTGRES_URL (a server where the bench may create a database)", file=sys.stderr)
        return 2
    started_at = datetime.now(UTC)
    load_before = load_average()
    with ExitStack() as exits, tempfile.TemporaryDirectory(prefix="bench-burst-") as directory:
        root = Path(directory)
        sizing = {name: os.environ[name] for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS") if name in os.environ}
        stack = start(root, exits, postgres_url=postgres_url, gunicorn_env=sizing,
                      emulator_keepalive=not args.werkzeug_emulator)
        stack.profile_dir = args.profile
        baseline_portal = None
        if args.baseline:
            baseline_portal = start_baseline(stack, args.baseline, exits)
        workers = len(stack.portal.worker_pids())
        clients = Clients(sizes.concurrency)
        set_latency(stack)
        print(f"stack up: {workers} portal workers; warming up", flush=True)
        for portal in filter(None, (baseline_portal, stack.portal)):
            run_burst(replace(stack, portal=portal), clients, sizes, "warm-up", sizes.concurrency * 2,
                      f"X{portal.port}")
        run_floor(stack, clients, 200)
        print("floor", flush=True)
        floor = run_floor(stack, clients, sizes.floor_requests)
        runs = {}
        if baseline_portal is not None:
            runs["before"] = run_all(replace(stack, portal=baseline_portal), clients, sizes, floor, "before")
        runs["after" if baseline_portal else "run"] = run_all(stack, clients, sizes, floor,
                                                              "after" if baseline_portal else "run")
        results = in_turns(runs)
        baseline_rows = results.get("before")
        rows = results["after" if baseline_portal else "run"]
        load_after = load_average()
        table = render(rows, baseline_rows, args.baseline or "")
        threads = os.environ.get("GUNICORN_THREADS", "the config's default")
        heading = (f"Measured {started_at:%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}; {workers} gthread workers x {threads} threads; "
                   f"{sizes.starters} starters at concurrency {sizes.concurrency}; emulator served by "
                   f"{'werkzeug (no keep-alive)' if args.werkzeug_emulator else 'gunicorn (keep-alive)'}; "
                   f"load average before {load_before}, after {load_after}.")
        print()
        print(heading)
        print(table)
        if args.write:
            command = "bench/bench_burst.py" + (" --full" if args.full else "") + \
                (f" --baseline {args.baseline}" if args.baseline else "")
            write_section(args.write, f"{MARK_START}\n## Day one at scale: burst, floor, refusals, waiting\n\n"
                          f"{heading}\n\n{table}\n\nReproduce: `.venv/bin/python {command}` "
                          f"(`make bench` runs the short version).\n{MARK_END}", MARK_START, MARK_END)
    return 0


def start_baseline(stack: BenchStack, revision: str, exits: ExitStack) -> Gunicorn:
    """The portal's code as of `revision` (git archive into the run's directory), same settings."""
    tree = stack.root / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True)  # noqa: S607
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)  # noqa: S607
    sizing = {name: os.environ[name] for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS") if name in os.environ}
    portal = start_gunicorn("portal-baseline", "portal:create_app()", stack.env, stack.root / "logs", sizing,
                            cwd=tree, pythonpath=f"{tree}:{ROOT / 'bench'}")
    exits.callback(portal.process.stop)
    return portal


if __name__ == "__main__":
    raise SystemExit(main())
