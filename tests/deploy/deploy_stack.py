"""The pieces of the deployed shape, started for real: TLS material, nginx, gunicorn masters, Redis,
an SMTP server and a foreign HTTPS origin. Each binds a free port on 127.0.0.1 and is stopped by
whoever started it."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
METRICS_TOKEN = secrets.token_urlsafe(24)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, requests.RequestException):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(interval)


# TLS: a CA made for this run, and a server certificate for 127.0.0.1 and localhost.

@dataclass(frozen=True)
class TestCA:
    ca_path: Path
    cert_path: Path
    key_path: Path


def make_test_ca(directory: Path) -> TestCA:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Activation deploy tests CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return TestCA(ca_path, cert_path, key_path)


def nss_home(directory: Path, *cas: tuple[str, Path]) -> Path:
    """A HOME whose ~/.pki/nssdb trusts exactly these CAs, for Chromium (no certificate errors ignored)."""
    database = directory / ".pki" / "nssdb"
    database.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-d", f"sql:{database}", "-N", "--empty-password"], check=True,
                   capture_output=True)
    for nickname, path in cas:
        subprocess.run(["certutil", "-d", f"sql:{database}", "-A", "-t", "C,,", "-n", nickname, "-i", str(path)],
                       check=True, capture_output=True)
    return directory


# A process we start and must stop.

@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def start_process(name: str, command: list[str], log_dir: Path, env: dict[str, str] | None = None,
                  cwd: Path = REPO_ROOT) -> Process:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    return Process(name, popen, log_path)


def start_redis(log_dir: Path) -> tuple[Process, str]:
    port = free_port()
    process = start_process("redis", [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1",
                                      "--port", str(port), "--save", "", "--appendonly", "no"], log_dir)

    def answers() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    wait_for(answers, "redis-server")
    return process, f"redis://127.0.0.1:{port}/0"


def start_gunicorn(name: str, env: dict[str, str], log_dir: Path, metrics_dir: Path) -> tuple[Process, int]:
    port = free_port()
    metrics_dir.mkdir(parents=True, exist_ok=True)
    command = [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
               "portal:create_app()"]
    process = start_process(name, command, log_dir,
                            env={**env, "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "2",
                                 "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    return process, port


def wait_for_gunicorn(process: Process, port: int) -> None:
    def healthy() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited:\n{process.log()[-3000:]}")
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200

    wait_for(healthy, process.name, timeout=60)


# nginx: the shipped site file with only what it marks CHANGE changed.

def render_nginx_site(site: str, *, port: int, upstreams: list[int], tls: TestCA, log_dir: Path) -> str:
    site = re.sub(r"\nserver \{\n    listen 80;.*?\n\}\n", "\n", site, count=1, flags=re.S)
    upstream_lines = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in upstreams)
    site = re.sub(r"    server 127\.0\.0\.1:8000 [^\n]*\n", upstream_lines, site, count=1)
    replacements = {
        "listen 443 ssl http2;": f"listen 127.0.0.1:{port} ssl http2;",
        "server_name activate.contoso.com;": "server_name 127.0.0.1 localhost;",
        "/etc/ssl/activation/fullchain.pem": str(tls.cert_path),
        "/etc/ssl/activation/privkey.pem": str(tls.key_path),
        "/var/log/nginx/activation.access.log": str(log_dir / "nginx-access.log"),
        "/var/log/nginx/activation.error.log": str(log_dir / "nginx-error.log"),
    }
    for old, new in replacements.items():
        assert old in site, f"config/nginx/activation.conf no longer contains {old!r}"
        site = site.replace(old, new)
    return site


def start_nginx(directory: Path, *, upstreams: list[int], tls: TestCA, port: int) -> Process:
    directory.mkdir(parents=True, exist_ok=True)
    site = render_nginx_site((REPO_ROOT / "config" / "nginx" / "activation.conf").read_text(encoding="utf-8"),
                             port=port, upstreams=upstreams, tls=tls, log_dir=directory)
    (directory / "activation.conf").write_text(site, encoding="utf-8")
    user = "user root;\n" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/nginx-main-error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  client_body_temp_path {directory}/body; proxy_temp_path {directory}/proxy;\n"
        f"  fastcgi_temp_path {directory}/fastcgi; uwsgi_temp_path {directory}/uwsgi;\n"
        f"  scgi_temp_path {directory}/scgi;\n"
        "  default_type application/octet-stream;\n"
        "  add_header X-Served-By $upstream_addr always;  # tests only: which master answered\n"
        f"  include {directory}/activation.conf;\n"
        "}\n", encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    test = subprocess.run([nginx, "-t", "-p", str(directory), "-c", str(directory / "nginx.conf")],  # noqa: S603
                          capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    process = start_process("nginx", [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf")], directory)
    context = ssl.create_default_context(cafile=str(tls.ca_path))

    def listening() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"nginx exited:\n{process.log()}")
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1"):
            return True

    wait_for(listening, "nginx")
    return process


# Mail: a real SMTP server that keeps what it is given.

@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def texts_to(self, address: str) -> list[str]:
        with self.lock:
            found = [m for m in self.messages if address in str(m["To"])]
        texts = []
        for message in found:
            part = message.get_body(preferencelist=("plain",))
            texts.append(part.get_content() if part is not None else "")
        return texts

    def latest_code(self, address: str, after: int = 0) -> str:
        def code() -> str | None:
            # Only the code email: a notice's "this wasn't me" token can hold a run of digits too.
            for text in reversed(self.texts_to(address)[after:]):
                match = re.search(r"activation code is:\s+(\d{6,8})\b", text)
                if match:
                    return match.group(1)
            return None

        return wait_for(code, f"a code mailed to {address}", timeout=20)

    def link(self, address: str, public_url: str) -> str:
        def found() -> str | None:
            for text in reversed(self.texts_to(address)):
                for word in text.split():
                    if word.startswith(f"{public_url}/a/"):
                        return word
            return None

        return wait_for(found, f"an invite link mailed to {address}", timeout=20)


# Another origin: records what a browser sends when it follows a link out of our pages.

@dataclass
class ForeignOrigin:
    url: str
    requests: list[dict[str, str]]
    stop: Callable[[], None]


def start_foreign_origin(tls: TestCA) -> ForeignOrigin:
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    seen: list[dict[str, str]] = []

    @Request.application
    def app(request: Request) -> Response:
        seen.append({"path": request.full_path, **{k.lower(): v for k, v in request.headers.items()}})
        return Response("<!doctype html><title>My Security Info</title><h1>Security info</h1>",
                        mimetype="text/html")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_path, tls.key_path)
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return ForeignOrigin(f"https://localhost:{server.server_port}", seen, stop)


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample.split("{")[0] != name:
            continue
        if all(f'{key}="{val}"' in sample for key, val in labels.items()):
            total += float(value)
    return total


@dataclass
class Stack:
    url: str  # the public URL: nginx over TLS
    masters: list[tuple[Process, int]]
    nginx: Process
    nginx_dir: Path
    env: dict[str, str]
    runtime: Any
    mailbox: Mailbox
    emulator: Any
    control: requests.Session
    tls: TestCA
    foreign: ForeignOrigin
    home: Path
    metrics_dirs: list[Path]

    def https(self) -> requests.Session:
        """A client that trusts only the test CA, like the browser does."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.tls.ca_path)
        return session


def staging_environment(*, public_url: str, database_url: str, redis_url: str, smtp_port: int, info: Any,
                        config_dir: Path, instance_dir: Path) -> dict[str, str]:
    """What an operator exports for the portal (docs/operations.md, "Environment"); the deploy tier and
    bench/burst_stack.py both run with it."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ACTIVATION_ENV": "staging",
        "ACTIVATION_CONFIG_DIR": str(config_dir),
        "ACTIVATION_INSTANCE_DIR": str(instance_dir),
        "ACTIVATION_SECRET_KEY": secrets.token_urlsafe(48),
        "ACTIVATION_PUBLIC_URL": public_url,
        "ACTIVATION_TRUSTED_PROXIES": "1",
        "ACTIVATION_DATABASE_URL": database_url,
        "ACTIVATION_REDIS_URL": redis_url,
        "ACTIVATION_QUEUE_URL": redis_url,  # the job queue (Huey) shares the private Redis, under its own keys
        "ACTIVATION_TENANT_ID": info.tenant_id,
        "ACTIVATION_CLIENT_ID": info.client_id,
        "ACTIVATION_CLIENT_SECRET": info.client_secret,
        "ACTIVATION_AUTHORITY_HOST": info.base_url,
        "ACTIVATION_GRAPH_URL": info.base_url,
        "ACTIVATION_CA_BUNDLE": info.ca_path,
        "ACTIVATION_PROVISIONING_SP_ID": info.provisioning_sp_id,
        "ACTIVATION_PROVISIONING_JOB_ID": info.provisioning_job_id,
        "ACTIVATION_MAIL_BACKEND": "smtp",
        "ACTIVATION_SMTP_HOST": "127.0.0.1",
        "ACTIVATION_SMTP_PORT": str(smtp_port),
        "ACTIVATION_SMTP_SECURITY": "none",  # a relay on this host: staging refuses this unless asked
        "ACTIVATION_SMTP_ALLOW_PLAIN_LOOPBACK": "true",
        "ACTIVATION_METRICS_TOKEN": METRICS_TOKEN,
    }
