"""MsalTokenProvider with real MSAL against the HTTPS stub: caching, laziness, specific errors, trust."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from test_graph_support import CLIENT_ID, Canned, StubServer, stub_server

from activation.graph.errors import TokenError
from activation.graph.http_session import build_http_session
from activation.graph.tokens import MsalTokenProvider, token_error_from_result

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[StubServer]:
    yield from stub_server(tmp_path)


def provider(stub: StubServer, session: requests.Session | None = None) -> MsalTokenProvider:
    return MsalTokenProvider(
        CLIENT_ID,
        stub.authority,
        f"{stub.base_url}/.default",
        session or build_http_session(str(stub.ca_path)),
        client_secret="s3cret",
    )


def test_app_is_created_lazily_once_and_token_cached(stub: StubServer) -> None:
    tokens = provider(stub)
    assert stub.requests == []  # nothing at construction
    assert tokens.access_token() == "stub-access-token"
    assert tokens.access_token() == "stub-access-token"
    assert tokens.msal_app is tokens.msal_app
    token_posts = [r for r in stub.requests if r.path.endswith("/token")]
    assert len(token_posts) == 1
    assert b"client_credentials" in token_posts[0].body
    assert b"scope=" in token_posts[0].body


def test_trust_is_explicit_even_with_requests_ca_bundle_set(stub: StubServer, monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    monkeypatch.setenv("CURL_CA_BUNDLE", SYSTEM_BUNDLE)
    session = build_http_session(str(stub.ca_path))
    assert session.trust_env is False and session.verify == str(stub.ca_path)
    assert provider(stub, session).access_token() == "stub-access-token"
    # Control: a default session lets the environment bundle win and cannot reach the stub.
    plain = requests.Session()
    plain.verify = str(stub.ca_path)
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{stub.base_url}/{'x'}/v2.0/.well-known/openid-configuration", timeout=5)


def test_untrusted_certificate_names_the_setting(stub: StubServer) -> None:
    with pytest.raises(TokenError) as excinfo:
        provider(stub, build_http_session(None)).access_token()
    assert "TLS certificate not trusted" in str(excinfo.value)
    assert "ACTIVATION_CA_BUNDLE" in str(excinfo.value)


@pytest.mark.parametrize(
    ("error", "code", "hint"),
    [
        ("invalid_client", 7000215, "ACTIVATION_CLIENT_SECRET"),
        ("unauthorized_client", 700016, "ACTIVATION_CLIENT_ID"),
        ("invalid_request", 90002, "ACTIVATION_TENANT_ID"),
        ("invalid_client", 700027, "ACTIVATION_CLIENT_CERTIFICATE"),
    ],
)
def test_aadsts_errors_become_specific_token_errors(
    stub: StubServer, error: str, code: int, hint: str
) -> None:
    stub.token_answers.append(
        Canned(
            401 if error == "invalid_client" else 400,
            {
                "error": error,
                "error_description": f"AADSTS{code}: Something is wrong. Trace ID: t Correlation ID: c",
                "error_codes": [code],
                "correlation_id": "corr-1",
            },
        )
    )
    with pytest.raises(TokenError) as excinfo:
        provider(stub).access_token()
    err = excinfo.value
    assert str(err).startswith(f"Token request failed: {error} (AADSTS{code}")
    assert hint in str(err)
    assert (err.error, err.error_codes, err.correlation_id) == (error, [code], "corr-1")


def test_codes_are_read_from_description_when_missing() -> None:
    err = token_error_from_result({"error": "invalid_client", "error_description": "AADSTS7000215: bad"})
    assert err.error_codes == [7000215] and "ACTIVATION_CLIENT_SECRET" in str(err)


def test_secret_echoed_by_server_is_scrubbed() -> None:
    err = token_error_from_result(
        {"error": "invalid_client", "error_description": "AADSTS7000215: got hunter2-secret"},
        ("hunter2-secret",),
    )
    assert "hunter2-secret" not in str(err) and "hunter2-secret" not in (err.error_description or "")


def test_unknown_tenant_during_discovery(stub: StubServer) -> None:
    tokens = MsalTokenProvider(
        CLIENT_ID,
        f"{stub.base_url}/nope/",
        f"{stub.base_url}/.default",
        build_http_session(str(stub.ca_path)),
        client_secret="s",
    )
    with pytest.raises(TokenError, match="ACTIVATION_TENANT_ID"):
        tokens.access_token()
    with pytest.raises(TokenError):  # not cached as a broken app: tried again
        tokens.access_token()


def test_no_credential_is_refused() -> None:
    with pytest.raises(TokenError, match="no client secret or certificate"):
        MsalTokenProvider("c", "https://login.microsoftonline.com/t", "s", requests.Session())


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("https://login.microsoftonline.com/t", None),
        ("https://login.microsoftonline.us/t", None),
        ("https://login.chinacloudapi.cn/t", None),
        ("https://127.0.0.1:8443/t", False),
        ("https://emulator.local/t", False),
    ],
)
def test_instance_discovery_off_for_non_microsoft_hosts(authority: str, expected: bool | None) -> None:
    tokens = MsalTokenProvider("c", authority, "s", requests.Session(), client_secret="x")
    assert tokens._instance_discovery is expected
    forced = MsalTokenProvider(
        "c", authority, "s", requests.Session(), client_secret="x", instance_discovery=True
    )
    assert forced._instance_discovery is True


def test_session_defaults() -> None:
    session = build_http_session(None)
    assert session.verify is True and session.trust_env is False
    assert "day-one-activation" in session.headers["User-Agent"]


def test_a_token_endpoint_outage_is_a_token_error_not_an_msal_exception(stub: StubServer) -> None:
    """A 5xx from the token endpoint makes MSAL raise its own exception; callers must get a TokenError
    (a calm "try again" page), never a 500."""
    for _ in range(4):  # MSAL may retry once itself
        stub.token_answers.append(Canned(503, "<html>Service Unavailable</html>"))
    with pytest.raises(TokenError) as excinfo:
        provider(stub).access_token()
    assert excinfo.value.error == "service_error" and "try again" in str(excinfo.value)
