"""Secrets never reach logs or exception text: client secret, TAP value, password, bearer token."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_graph_support import Canned, StubServer, envelope, make_client, stub_server

from activation.graph.errors import GraphError, PasswordComplexity, TokenError
from activation.graph.fake import FakeGraph

SECRET = "CANARY-client-secret-7f3a"
TAP = "CANARY-tap-91bc"
PASSWORD = "Canary-Pw-55x!"
TOKEN = "CANARY-bearer-token-0d2e"
CANARIES = (SECRET, TAP, PASSWORD, TOKEN)


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[StubServer]:
    yield from stub_server(tmp_path)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in (None, "urllib3", "msal", "activation"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _assert_clean(texts: list[str]) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in text


def _record_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(message)s")
    texts = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), formatter.format(record)]
    return texts


def test_http_client_never_logs_or_raises_secrets(
    stub: StubServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    stub.token_value = TOKEN
    tap_path = "/v1.0/users/u1/authentication/temporaryAccessPassMethods"
    tap_body = {"id": "m1", "temporaryAccessPass": TAP, "lifetimeInMinutes": 60, "isUsableOnce": True}
    stub.add("POST", tap_path, Canned(201, tap_body))
    stub.add("GET", tap_path, Canned(200, {"value": [{**tap_body, "temporaryAccessPass": None}]}))
    # A server that echoes the password in its error must not make us repeat it.
    stub.add("PATCH", "/v1.0/users/u1", Canned(400, envelope("x", f"password {PASSWORD} fails complexity")))
    stub.add("PATCH", "/v1.0/users/u1", Canned(204))
    client = make_client(stub, client_secret=SECRET)
    errors: list[BaseException] = []

    tap = client.create_tap("u1", 60, True)
    assert tap.value == TAP  # the value is returned to the caller, and only to the caller
    client.list_taps("u1")
    with pytest.raises(PasswordComplexity) as excinfo:
        client.set_password("u1", PASSWORD)
    errors.append(excinfo.value)
    client.set_password("u1", PASSWORD)

    stub.token_answers.append(
        Canned(401, {"error": "invalid_client", "error_description": f"AADSTS7000215: bad secret {SECRET}"})
    )
    with pytest.raises(TokenError) as token_excinfo:
        make_client(stub, client_secret=SECRET).get_user("u1")
    errors.append(token_excinfo.value)

    texts = _record_texts(debug_logs)
    assert any("graph POST /v1.0/users/u1/authentication" in t for t in texts)  # logging did happen
    assert any(r.name.startswith("urllib3") for r in debug_logs.records)
    _assert_clean(
        texts + [str(e) for e in errors] + [repr(e.args) for e in errors] + [repr(tap), repr(client)]
    )
    sent = [r for r in stub.graph_requests() if r.method == "PATCH"]
    assert (
        PASSWORD.encode() in sent[0].body
    )  # the canary really travelled, so the checks above mean something


def test_fake_graph_keeps_secrets_out_of_calls_and_errors(debug_logs: pytest.LogCaptureFixture) -> None:
    fake = FakeGraph()
    user = fake.add_user("E1", "ada@contoso.test")
    tap = fake.create_tap(user.id, 60, True)
    errors: list[GraphError] = []
    with pytest.raises(PasswordComplexity) as excinfo:
        fake.set_password(user.id, "weak")
    errors.append(excinfo.value)
    fake.set_password(user.id, PASSWORD)
    texts = _record_texts(debug_logs) + [str(e) for e in errors] + [repr(fake.calls), repr(fake), repr(tap)]
    _assert_clean(texts)
    assert tap.value not in " ".join(texts)
    assert "weak" not in " ".join(str(e) for e in errors)
