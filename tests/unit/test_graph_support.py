"""Helpers for the Graph unit tests (no tests here): a tiny HTTPS stub of Entra + Graph.

The stub is a real `http.server` on 127.0.0.1 with its own throw-away CA, so MSAL, requests and
urllib3 run for real (MSAL refuses non-https authorities) without any network or patching.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from activation.clock import FakeClock
from activation.graph.http_client import HttpGraphClient
from activation.graph.http_session import build_graph_pool, build_http_session
from activation.graph.retry import RetryPolicy
from activation.graph.tokens import MsalTokenProvider

TENANT = "stub-tenant"
CLIENT_ID = "stub-client-id"


@dataclass
class Canned:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key) for 127.0.0.1, signed by a fresh CA."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graph-stub test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


class StubServer:
    """Scripted HTTPS answers by (method, path glob); unscripted Graph paths answer 599."""

    def __init__(self, tls_dir: Path) -> None:
        self.ca_path, cert_path, key_path = make_tls_files(tls_dir)
        self._routes: list[tuple[str, str, list[Canned]]] = []
        self.requests: list[Recorded] = []
        self.token_answers: list[Canned] = []
        self.token_value = "stub-access-token"
        self._lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.base_url = f"https://127.0.0.1:{self._httpd.server_address[1]}"
        self.authority = f"{self.base_url}/{TENANT}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def add(self, method: str, path: str, canned: Canned, times: int = 1) -> None:
        with self._lock:
            self._routes.append((method.upper(), path, [canned] * times))

    def graph_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v1.0/")]

    def _answer(self, method: str, path: str) -> Canned:
        if path.endswith("/.well-known/openid-configuration"):
            if path.split("/")[1] != TENANT:
                return Canned(
                    400, {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."}
                )
            return Canned(200, self._openid_configuration())
        if path.endswith("/oauth2/v2.0/token"):
            with self._lock:
                if self.token_answers:
                    return self.token_answers.pop(0)
            return Canned(200, {"access_token": self.token_value, "token_type": "Bearer", "expires_in": 3600})
        with self._lock:
            for route_method, pattern, queue in self._routes:
                if route_method == method and fnmatch(path, pattern) and queue:
                    return queue.pop(0)
        return Canned(
            599, {"error": {"code": "unscripted", "message": f"no canned answer for {method} {path}"}}
        )

    def _openid_configuration(self) -> dict[str, str]:
        return {
            "issuer": f"{self.base_url}/{TENANT}/v2.0",
            "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                stub.requests.append(
                    Recorded(
                        self.command, split.path, parse_qs(split.query), dict(self.headers), body, time.time()
                    )
                )
                canned = stub._answer(self.command, split.path)
                if canned.delay:
                    time.sleep(canned.delay)
                if isinstance(canned.body, bytes):
                    payload = canned.body
                else:
                    payload = b"" if canned.body is None else json.dumps(canned.body).encode()
                self.send_response(canned.status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


def envelope(code: str, message: str, request_id: str = "req-123") -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "innerError": {"request-id": request_id, "date": "x"}}
    }


def make_client(
    stub: StubServer,
    *,
    clock: Any = None,
    retry: RetryPolicy | None = None,
    client_secret: str = "stub-client-secret",  # noqa: S107
    timeout: float = 5.0,
    graph_url: str | None = None,
    trust: str | None = "stub",
) -> HttpGraphClient:
    """The real adapter (real MSAL on requests, Graph calls on urllib3) pointed at the stub; `trust`: the
    CA bundle of the Graph pool ("stub": the stub's own CA; None: the default store)."""
    session = build_http_session(str(stub.ca_path))
    tokens = MsalTokenProvider(
        CLIENT_ID, stub.authority, f"{stub.base_url}/.default", session, client_secret=client_secret
    )
    return HttpGraphClient(
        graph_url or stub.base_url,
        tokens,
        build_graph_pool(str(stub.ca_path) if trust == "stub" else trust),
        clock or FakeClock(),
        timeout=timeout,
        retry=retry,
        provisioning_sp_id="sp-1",
        provisioning_job_id="job-1",
        jitter=lambda: 1.0,
    )


def stub_server(tmp_path: Path) -> Iterator[StubServer]:
    """Body of a fixture: a started stub, stopped afterwards."""
    server = StubServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
