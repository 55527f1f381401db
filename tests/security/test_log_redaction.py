"""Invite tokens never reach a log line: the dev server's access log and our own loggers, through the
handler the portal installs, while a real HTTP server answers real requests."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.serving import make_server

from activation.redaction import redact_path
from tests.staff_support import StaffWorld, build_world


@pytest.fixture
def world(make_settings, database_url, db_engine) -> StaffWorld:  # type: ignore[no-untyped-def]
    return build_world(make_settings, database_url, db_engine)


@pytest.fixture
def log_output(world: StaffWorld) -> Iterator[io.StringIO]:
    """What the portal's own log handler (installed by create_app) writes, for the test's duration."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_activation", False))
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


@pytest.fixture
def served(world: StaffWorld) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_the_access_log_never_shows_an_invite_token(world: StaffWorld, log_output: io.StringIO, served: str) -> None:
    link = world.invite_link(world.person("E1"))
    token = link.removeprefix("/a/")
    for path in (link, link + "/code", link + "/code?resend=1", f"/a/{token}x", link + "/%0d%0aInjected"):
        requests.get(served + path, timeout=10)
    requests.post(served + link + "/send-code", data={"csrf_token": "nope"}, timeout=10)
    requests.get(served + "/staff/auth/callback?code=secret-code-value&state=secret-state-value", timeout=10)
    written = log_output.getvalue()
    assert "/a/[redacted]" in written  # the access log did run through our handler
    for secret in (token, token[:20], "secret-code-value", "secret-state-value"):
        assert secret not in written


def test_our_own_loggers_are_covered_too(world: StaffWorld, log_output: io.StringIO) -> None:
    link = world.invite_link(world.person("E1"))
    logging.getLogger("portal.test").warning("opening %s for %s", "https://portal.example" + link, "someone")
    logging.getLogger("activation.test").error("failed on GET %s", link + "/code?state=abc")
    written = log_output.getvalue()
    assert link.removeprefix("/a/") not in written and "state=abc" not in written
    assert "https://portal.example/a/[redacted]" in written


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/Ijk0Ig.aBc-_/code", "/a/[redacted]/code"),
        ("/a/tok?x=1", "/a/[redacted]?x=1"),
        ('"GET /a/tok/finish HTTP/1.1" 302', '"GET /a/[redacted]/finish HTTP/1.1" 302'),
        ("/staff/auth/callback?code=c&state=s", "/staff/auth/callback?code=[redacted]&state=[redacted]"),
        ("/x?invite=t&page=2", "/x?invite=[redacted]&page=2"),
        ("/staff/desk/search?q=grace&page=2", "/staff/desk/search?q=grace&page=2"),
        ("/staff/desk/people/4/cancel", "/staff/desk/people/4/cancel"),
    ],
)
def test_redact_path_for_access_log_formats(path: str, expected: str) -> None:
    assert redact_path(path) == expected
