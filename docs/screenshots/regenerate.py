"""Regenerate the README screenshots from the real demo (`activation demo`), not from test data.

    .venv/bin/python docs/screenshots/regenerate.py

Starts the demo on a free port with a throw-away config and instance folder (so your own demo state
is untouched), walks it in Debian's Chromium like a person would (starter pages at 390 px, staff
pages on a desktop), writes the PNGs next to this file, and stops the demo with Ctrl-C.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
STARTER = "amara.okafor@home.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_demo(work: Path, port: int) -> subprocess.Popen[str]:
    shutil.copytree(REPO / "config", work / "config", ignore=shutil.ignore_patterns("demo.toml"))
    env = dict(os.environ, ACTIVATION_ENV="demo", ACTIVATION_CONFIG_DIR=str(work / "config"),
               ACTIVATION_INSTANCE_DIR=str(work / "instance"))
    process = subprocess.Popen([sys.executable, "-m", "activation.cli", "demo", "--port", str(port)], env=env,  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        sys.stdout.write(line)
        if "Press Ctrl-C to stop" in line:
            return process
        if not line and process.poll() is not None:
            break
    raise SystemExit("the demo did not start; see its output above")


def code_from(page, base: str) -> str:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/_demo/mailbox/?to={STARTER}")
    page.get_by_role("link", name=re.compile("activation code")).first.click()
    match = re.search(r"\b(\d{6,8})\b", page.inner_text("main"))
    assert match, "no code in the demo mailbox"
    return match.group(1)


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
    print(f"wrote docs/screenshots/{name}.png")


def walk(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
        phone.goto(f"{base}/_demo/mailbox/?to={STARTER}")
        phone.get_by_role("link", name=re.compile("Activate your")).first.click()
        link = next(w for w in phone.inner_text("main").split() if w.startswith(f"{base}/a/"))
        phone.goto(link)
        shoot(phone, "1-starter-landing")
        phone.get_by_role("button", name="Send me a code").click()
        code = code_from(phone.context.new_page(), base)
        phone.get_by_label("Code from the email").fill(str((int(code) + 1) % 10 ** len(code)).zfill(len(code)))
        phone.get_by_role("button", name="Continue").click()
        shoot(phone, "2-starter-wrong-code")
        phone.get_by_label("Code from the email").fill(code)
        phone.get_by_role("button", name="Continue").click()
        phone.get_by_role("heading", name="Your account is ready").wait_for()
        shoot(phone, "3-starter-result")
        phone.goto(link)
        shoot(phone, "7-starter-lost-pass")

        staff = browser.new_context(viewport=DESKTOP, ignore_https_errors=True).new_page()
        staff.goto(f"{base}/staff/")
        staff.get_by_role("button", name=re.compile("Morgan Manager")).click()
        staff.get_by_role("heading", name="My new starters").wait_for()
        shoot(staff, "4-manager-starters")
        manager_phone = browser.new_context(viewport=PHONE, is_mobile=True, ignore_https_errors=True).new_page()
        manager_phone.goto(f"{base}/staff/")
        manager_phone.get_by_role("button", name=re.compile("Morgan Manager")).click()
        manager_phone.get_by_role("heading", name="My new starters").wait_for()
        shoot(manager_phone, "8-manager-on-a-phone")
        staff.goto(f"{base}/staff/sign-out")
        desk = browser.new_context(viewport=DESKTOP, ignore_https_errors=True).new_page()
        desk.goto(f"{base}/staff/")
        desk.get_by_role("button", name=re.compile("Dana Desk")).click()
        desk.get_by_role("heading", name="Service desk").wait_for()
        shoot(desk, "5-desk-dashboard")
        desk.get_by_label(re.compile("Find a person")).fill("Grace Synced")
        desk.get_by_role("button", name="Search").click()
        desk.get_by_role("link", name=re.compile("Grace Synced")).first.click()
        shoot(desk, "6-desk-person")
        browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="activation-screenshots-") as tmp:
        port = free_port()
        demo = start_demo(Path(tmp), port)
        try:
            walk(f"http://127.0.0.1:{port}")
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=30)


if __name__ == "__main__":
    main()
