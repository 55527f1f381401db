"""A scripted run of `activation demo`, ending where a real day one ends, and the desk's funnel after it.

Starts the demo in a temporary folder, then drives every invited starter whose window is open through
the real pages: some stop after the invite, some after the code, the rest get their Temporary Access
Pass and most of those sign in to the emulator's My Security Info with it and add a passkey or
Microsoft Authenticator. The demo's credential watcher notices, deletes the TAP, and the funnel
(invited -> code sent -> TAP issued -> credential registered) is read back and written to
docs/benchmarks.md. Run: `.venv/bin/python bench/demo_funnel.py`.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from activation.models import Activation, OutboxMessage  # noqa: E402
from activation.staff import funnel  # noqa: E402
from bench.markdown_sections import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- demo-funnel:start -->", "<!-- demo-funnel:end -->"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_demo(work: Path, port: int) -> subprocess.Popen[str]:
    env = dict(os.environ, ACTIVATION_ENV="demo", ACTIVATION_CONFIG_DIR=str(work / "config"),
               ACTIVATION_INSTANCE_DIR=str(work / "instance"))
    process = subprocess.Popen([sys.executable, "-m", "activation.cli", "demo", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if "Press Ctrl-C to stop" in line:
            return process
        if not line and process.poll() is not None:
            break
    process.kill()
    raise SystemExit("the demo did not start")


def post(session: requests.Session, page_url: str, action_url: str, data: dict | None = None) -> requests.Response:
    page = session.get(page_url, timeout=10)
    token = CSRF.search(page.text)
    return session.post(action_url, data={"csrf_token": token.group(1) if token else "", **(data or {})},
                        timeout=30)


def invites_by_address(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    links = {}
    for row in rows:
        match = re.search(r"(http://127\.0\.0\.1:\d+/a/\S+)", row.text_body)
        if match and "Activate" in row.subject:
            links[row.to_address] = match.group(1)
    return links


def latest_code(engine, address: str) -> str | None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)
                               .order_by(OutboxMessage.id.desc())).all()
    for row in rows:
        match = re.search(r"\b(\d{6,8})\b", row.text_body)
        if match and "code" in row.subject.lower():
            return match.group(1)
    return None


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="demo-funnel-"))
    shutil.copytree(ROOT / "config", work / "config", ignore=shutil.ignore_patterns("demo.toml"))
    port = free_port()
    process = start_demo(work, port)
    try:
        wiring = tomllib.loads((work / "config" / "demo.toml").read_text(encoding="utf-8"))
        emulator = wiring["microsoft"]["graph_url"].rstrip("/")
        engine = create_engine(wiring["database"]["url"])
        outcomes: dict[str, str] = {}
        for number, (address, link) in enumerate(sorted(invites_by_address(engine).items())):
            browser = requests.Session()
            browser.trust_env = False
            plan = ("invite only", "code only", "passkey", "authenticator", "passkey", "TAP only")[number % 6]
            if plan == "invite only":
                outcomes[address] = plan
                continue
            sent = post(browser, link, f"{link}/send-code")
            code = latest_code(engine, address) if sent.url.endswith("/code") else None
            if code is None:
                outcomes[address] = "window not open"
                continue
            if plan == "code only":
                outcomes[address] = plan
                continue
            result = post(browser, f"{link}/code", f"{link}/code", {"code": code})
            tap = re.search(r'id="tap">([^<]+)<', result.text)
            upn = re.search(r"([a-z0-9.\-]+@contoso\.example)", result.text)
            if not tap or not upn:
                outcomes[address] = "did not get a pass"
                continue
            if plan == "TAP only":
                outcomes[address] = plan
                continue
            security = requests.Session()
            security.trust_env = False
            security.verify = wiring["microsoft"]["ca_bundle"]
            signed_in = security.post(f"{emulator}/mysecurityinfo/sign-in", timeout=10,
                                      data={"upn": upn.group(1), "tap": html.unescape(tap.group(1).strip())})
            ticket = re.search(r'name="ticket" value="([^"]+)"', signed_in.text)
            if ticket:
                security.post(f"{emulator}/mysecurityinfo/register", timeout=10,
                              data={"ticket": ticket.group(1), "kind": plan})
            outcomes[address] = plan
        expected = sum(1 for plan in outcomes.values() if plan in ("passkey", "authenticator"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the demo's watcher polls every few seconds
            with Session(engine) as session:
                done = len(session.scalars(select(Activation.id).where(Activation.credential_at.is_not(None))).all())
            if done >= expected:
                break
            time.sleep(1)
        with Session(engine) as session:
            from datetime import UTC, datetime

            board = funnel.compute(session, datetime.now(UTC))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    lines = [START, "## Demo funnel after a scripted day one (`bench/demo_funnel.py`)", "",
             "Every invited demo starter is driven through the real pages: one in six stops after the invite, "
             "one after the code, one keeps only the Temporary Access Pass, and the rest sign in to the "
             "emulator's My Security Info with it and add a passkey or Microsoft Authenticator. Starters whose "
             "window is not open yet cannot ask for a code (the demo file's start dates are spread on purpose).",
             "", "| step | people | lost since the step before |", "|---|---|---|"]
    for step in board.steps:
        lost = "—" if step.drop_off is None else f"{step.drop_off:.0%}"
        lines.append(f"| {step.name} | {step.count} | {lost} |")
    lines += ["", f"Median time from invite to first credential: {board.median_words} (over {board.measured} people); "
              "a scripted run, so seconds rather than the hours a real starter takes.",
              "", "Pass issued but no credential yet: " + (", ".join(f"{w.employee_id} ({w.words})"
                                                             for w in board.waiting) or "nobody") + ".", END]
    text = "\n".join(lines)
    print(text)
    write_section(ROOT / "docs" / "benchmarks.md", text, START, END)


if __name__ == "__main__":
    main()
