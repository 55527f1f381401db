"""The deployed portal starts only when safe, is ready behind nginx, and serves no demo pages."""

from __future__ import annotations

import subprocess

from deploy_people import StarterClient, new_joiner
from deploy_stack import REPO_ROOT, VENV_BIN, Stack, free_port
from sqlalchemy import select

from activation.models import AuditEvent


def test_ready_through_nginx_with_postgres_and_redis(stack: Stack) -> None:
    response = stack.https().get(f"{stack.url}/readyz", timeout=10)
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_demo_mailbox_is_not_there_outside_demo(stack: Stack) -> None:
    response = stack.https().get(f"{stack.url}/_demo/mailbox/", timeout=10)
    assert response.status_code == 404


def test_one_trusted_hop_and_host_only_secure_cookies(stack: Stack) -> None:
    """nginx replaces X-Forwarded-For, so a client cannot choose its own address in the audit trail;
    cookies are `__Host-` and Secure."""
    starter = StarterClient(stack, new_joiner(stack, "D700", "hop@home.example"))
    starter.http.headers["X-Forwarded-For"] = "203.0.113.9"
    starter.open()
    starter.post("/send-code")
    assert [c.name for c in starter.http.cookies] and all(
        c.name.startswith("__Host-") and c.secure and c.domain_initial_dot is False for c in starter.http.cookies)
    with stack.runtime.session_factory() as session:
        sent = session.scalars(select(AuditEvent).where(AuditEvent.employee_id == "D700",
                                                        AuditEvent.action == "code.sent")).one()
    assert sent.client_ip == "127.0.0.1"  # the address nginx saw, not the one the client claimed


def test_without_activation_env_and_secret_key_the_portal_refuses_to_start(stack: Stack) -> None:
    env = {key: value for key, value in stack.env.items()
           if key not in ("ACTIVATION_ENV", "ACTIVATION_SECRET_KEY")}
    result = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}",
         "portal:create_app()"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr
    assert "set ACTIVATION_SECRET_KEY (at least 32 random bytes" in result.stderr
    assert "ACTIVATION_ENV is not set, so the production rules apply" in result.stderr
    assert stack.env["ACTIVATION_SECRET_KEY"] not in result.stderr + result.stdout
