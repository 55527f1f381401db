"""config/gunicorn.conf.py: sizing from the cores and access-log lines without invite tokens."""

from __future__ import annotations

import logging
import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"


@pytest.fixture(scope="module")
def conf() -> dict:
    return runpy.run_path(str(CONF))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /a/eyJhbGciOi.abc-def_1/code HTTP/1.1", "GET /a/[redacted]/code HTTP/1.1"),
        ("POST /a/tok3n/send-code HTTP/1.1", "POST /a/[redacted]/send-code HTTP/1.1"),
        ("GET /a/tok3n HTTP/1.1", "GET /a/[redacted] HTTP/1.1"),
        ("GET /staff/auth/callback?code=secret&state=s HTTP/1.1", "GET /staff/auth/callback?[redacted] HTTP/1.1"),
        ("https://activate.example/a/tok3n/code", "https://activate.example/a/[redacted]/code"),
        ("POST /not-me/n0tice.t0ken HTTP/1.1", "POST /not-me/[redacted] HTTP/1.1"),
        ("GET /staff/desk/ HTTP/1.1", "GET /staff/desk/ HTTP/1.1"),
    ],
)
def test_request_lines_lose_tokens_and_queries(conf: dict, line: str, expected: str) -> None:
    assert conf["redact_request_line"](line) == expected


def test_sizing_and_proxy_trust(conf: dict) -> None:
    assert conf["workers"] >= 1 and conf["threads"] >= 1
    assert conf["worker_class"] == "gthread"
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert conf["logger_class"].__name__ == "RedactingLogger"
    assert conf["graceful_timeout"] < conf["timeout"]


def test_a_starting_worker_compiles_every_template(conf: dict, make_settings) -> None:  # type: ignore[no-untyped-def]
    """post_worker_init compiles every page and email template, so no user's request pays for it and a
    template that does not compile stops the worker at start-up."""
    from portal import TEMPLATES_DIR, create_app, warm_up

    class Worker:
        wsgi = create_app(make_settings())
        log = logging.getLogger("test.gunicorn")

    assert Worker.wsgi.jinja_env.cache is not None and len(Worker.wsgi.jinja_env.cache) == 0
    conf["post_worker_init"](Worker())

    compiled = {name for _loader, name in Worker.wsgi.jinja_env.cache}
    pages = {p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.html") if "email" not in p.parts}
    assert pages and pages <= compiled
    every_file = [p for p in TEMPLATES_DIR.rglob("*") if p.suffix in (".html", ".txt")]
    assert warm_up(Worker.wsgi) == len(every_file)  # the email templates too


def test_another_flask_app_served_with_this_config_still_starts(conf: dict, caplog: pytest.LogCaptureFixture,
                                                               tmp_path: Path) -> None:
    from flask import Flask

    class Worker:
        wsgi = Flask("floor", root_path=str(tmp_path))
        log = logging.getLogger("test.gunicorn")

    with caplog.at_level(logging.INFO, logger="test.gunicorn"):
        conf["post_worker_init"](Worker())  # the bench's floor app: no templates, no runtime
    assert "templates compiled: 0" in caplog.text
