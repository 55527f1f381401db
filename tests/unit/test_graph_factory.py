"""build_graph_client: credentials from plain settings values, certificate preferred."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from test_graph_support import CLIENT_ID, TENANT, Canned, StubServer, stub_server

from activation.clock import FakeClock
from activation.errors import ConfigurationError
from activation.graph.factory import build_graph_client, load_certificate_credential


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[StubServer]:
    yield from stub_server(tmp_path)


@pytest.fixture
def client_pem(tmp_path: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "activation-app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "client.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path, cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303


def test_certificate_pem_becomes_msal_credential(client_pem: tuple[Path, str]) -> None:
    path, thumbprint = client_pem
    credential = load_certificate_credential(str(path), None)
    assert credential["thumbprint"] == thumbprint
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert credential["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert load_certificate_credential(str(path), "AB:CD")["thumbprint"] == "ABCD"


def test_unreadable_or_incomplete_certificate(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ACTIVATION_CLIENT_CERTIFICATE"):
        load_certificate_credential(str(tmp_path / "missing.pem"), None)
    only_text = tmp_path / "bad.pem"
    only_text.write_text("not a pem")
    with pytest.raises(ConfigurationError, match="private key and a PEM certificate"):
        load_certificate_credential(str(only_text), None)


def test_a_credential_is_required() -> None:
    with pytest.raises(ConfigurationError, match="ACTIVATION_CLIENT_SECRET"):
        build_graph_client(tenant_id="t", client_id="c")
    with pytest.raises(ConfigurationError, match="ACTIVATION_TENANT_ID"):
        build_graph_client(tenant_id="", client_id="c", client_secret="s")


def test_certificate_flow_end_to_end_against_stub(stub: StubServer, client_pem: tuple[Path, str]) -> None:
    path, _ = client_pem
    stub.add("GET", "/v1.0/users/*", Canned(200, {"id": "u1"}))
    client = build_graph_client(
        graph_url=stub.base_url,
        authority_host=stub.base_url,
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret="ignored-when-a-certificate-is-set",
        certificate_path=str(path),
        ca_bundle=str(stub.ca_path),
        clock=FakeClock(),
    )
    assert client.get_user("u1").id == "u1"
    (token_post,) = [r for r in stub.requests if r.path.endswith("/token")]
    form = parse_qs(token_post.body.decode())
    assert form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    assert "client_secret" not in form
    assert form["scope"] == [f"{stub.base_url}/.default"]
