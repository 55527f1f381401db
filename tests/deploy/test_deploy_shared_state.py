"""What must hold across processes holds while requests alternate between the two gunicorn masters:
the per-code attempt cap, the resend cooldown, and the counts /metrics reports."""

from __future__ import annotations

import time

import requests
from deploy_people import StarterClient, new_joiner
from deploy_stack import METRICS_TOKEN, Stack, metric_total, wait_for


def masters(stack: Stack) -> set[str]:
    return {f"127.0.0.1:{port}" for _, port in stack.masters}


def test_attempt_cap_and_resend_cooldown_hold_across_masters(stack: Stack) -> None:
    email = "alternate@home.example"
    starter = StarterClient(stack, new_joiner(stack, "D400", email))
    assert "Send me a code" in starter.open().text
    starter.post("/send-code")
    code = stack.mailbox.latest_code(email)

    resent = starter.post("/send-code")  # at once, on the other master: the cooldown still applies
    assert "It is too soon for another code" in resent.text
    assert len(stack.mailbox.texts_to(email)) == 2  # the invite and one code: no second code went out

    wrong = str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
    answers = []
    posts_served_by = []
    for _ in range(5):
        response = starter.post("/code", code=wrong)
        posts_served_by.append(starter.posted_to[-1])
        # nginx takes turns; each post is followed by its redirect's GET, so one more request here makes
        # the next post land on the other master.
        starter.http.get(f"{stack.url}/healthz", timeout=10)
        answers.append(response.text)
    assert "4 tries left" in answers[0]
    assert "1 try left" in answers[3]
    assert "cannot be tried again" in answers[4]
    right = starter.post("/code", code=code)
    assert "Your account is ready" not in right.text
    assert "cannot be tried again" in right.text or "ask for a new code" in right.text.lower()
    assert set(posts_served_by) == masters(stack), posts_served_by
    assert all(a != b for a, b in zip(posts_served_by, posts_served_by[1:], strict=False)), posts_served_by


def _scrape(port: int, token: str | None = METRICS_TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=10)


def completed_activations(stack: Stack) -> float:
    """What Prometheus would sum over the two scrape targets (one per master, each summing its workers)."""
    return sum(metric_total(_scrape(port).text, "activation_activations_total", state="completed")
               for _, port in stack.masters)


def test_metrics_count_the_activations_across_workers(stack: Stack) -> None:
    before = completed_activations(stack)
    for number in range(4):
        email = f"counted{number}@home.example"
        starter = StarterClient(stack, new_joiner(stack, f"D5{number:02d}", email))
        starter.open()
        starter.post("/send-code")
        result = starter.post("/code", code=stack.mailbox.latest_code(email))
        assert "Your account is ready" in result.text
    wait_for(lambda: completed_activations(stack) == before + 4, "the activation count", timeout=10)

    pids = {path.name.rsplit("_", 1)[-1] for directory in stack.metrics_dirs for path in directory.glob("*.db")}
    assert len(pids) >= 3, pids  # several worker processes wrote counts; each master's scrape sums its own


def test_metrics_need_the_bearer_token_also_through_nginx(stack: Stack) -> None:
    https = stack.https()
    assert https.get(f"{stack.url}/metrics", timeout=10).status_code == 401
    assert https.get(f"{stack.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    good = https.get(f"{stack.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert good.status_code == 200 and "activation_step_seconds_bucket" in good.text


def test_access_logs_never_show_an_invite_token(stack: Stack) -> None:
    link = new_joiner(stack, "D600", "logged@home.example")
    token = link.rsplit("/a/", 1)[1]
    starter = StarterClient(stack, link)
    starter.open()
    starter.post("/send-code")
    access_log = stack.nginx_dir / "nginx-access.log"

    def logged() -> bool:
        return access_log.read_text().count("/a/[redacted]/code") >= 1 and all(
            "/a/[redacted]/code" in process.log() for process, _ in stack.masters)

    deadline = time.monotonic() + 15
    while not logged() and time.monotonic() < deadline:  # a master may not have served a code page yet
        starter.open()
        time.sleep(0.1)
    assert logged()
    for text in [access_log.read_text()] + [process.log() for process, _ in stack.masters]:
        assert token not in text
        assert "/a/[redacted]" in text
