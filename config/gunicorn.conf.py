"""gunicorn settings for the portal, behind a TLS-terminating proxy (config/nginx/activation.conf).

    gunicorn -c config/gunicorn.conf.py --bind 127.0.0.1:8000 'portal:create_app()'

Every value can be changed without editing this file: GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT, FORWARDED_ALLOW_IPS, PROMETHEUS_MULTIPROC_DIR (see docs/operations.md).
Nothing shared lives in a worker: codes, cooldowns, lockouts and staff sessions are in PostgreSQL
or Redis, so any number of workers, masters and hosts can serve the same starters.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

_cores = os.cpu_count() or 1

# Workers and threads from the cores: the portal waits on Graph, the database and mail, so a few
# threads per process keep a worker busy without a big memory bill.
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(2 * _cores + 1, 9))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"

# The proxy on this host (or those named) may set X-Forwarded-Proto; the portal itself takes the
# client IP from X-Forwarded-For only for ACTIVATION_TRUSTED_PROXIES hops.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proxy_allow_ips = forwarded_allow_ips

# Timeouts: a request that waits on Graph longer than this is stuck, not slow (the Graph client
# retries with its own, shorter, deadlines). graceful_timeout lets a TERM/HUP finish requests.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5  # the proxy keeps upstream connections open; a little longer than nginx's 4s default

# Graceful restarts: recycle workers now and then (jittered so they do not all go at once).
# `kill -HUP <master>` reloads the code and configuration without dropping requests.
max_requests = 2000
max_requests_jitter = 200
# Masters are managed by signals (systemd: ExecReload=kill -HUP); gunicorn >= 25.1's control socket
# would otherwise sit at one fixed path per user, shared by every master on the host.
control_socket_disable = True

# Request limits before the app sees anything (nginx enforces body size too).
limit_request_line = 4094
limit_request_fields = 60
limit_request_field_size = 8190

# Logs go to stderr (journald, the container runtime). The access log never shows an invite token.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'

# Invite and notice tokens travel in the path (/a/<token>/..., /not-me/<token>); query strings may carry
# an OAuth code or state. Both are replaced before the line is written: the token by the portal's own
# redaction (activation.redaction, one pattern for every log line), the whole query string here.
_QUERY = re.compile(r"\?[^\s\"]*")


def redact_request_line(text: str) -> str:
    """'/a/eyJhbGc.../code?x=1' -> '/a/[redacted]/code?[redacted]'."""
    from activation.redaction import redact_path

    return _QUERY.sub("?[redacted]", redact_path(text))


class RedactingLogger(Logger):
    """gunicorn's logger with the request line, path and query redacted in access-log lines."""

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            atoms[key] = redact_request_line(str(atoms.get(key, "")))
        atoms["q"] = "[redacted]" if atoms.get("q") else ""
        atoms["f"] = redact_request_line(str(atoms.get("f", "")))  # the Referer may be one of our URLs
        return atoms


logger_class = RedactingLogger


# Prometheus in multiprocess mode: each worker writes its counters to files in one directory and
# /metrics sums them. The directory is emptied when the master starts and dead workers are marked.
def _metrics_dir() -> Path:
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"activation-metrics-{os.getpid()}"


def on_starting(server):  # type: ignore[no-untyped-def]
    """Before any worker forks: check the settings (a refusal names the setting and the fix)."""
    from activation.config import load_settings
    from activation.errors import ConfigurationError

    try:
        load_settings()
    except ConfigurationError as exc:
        print(f"activation: refusing to start: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    directory = _metrics_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    server.log.info("metrics: multiprocess directory %s", directory)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """The worker has loaded the app: compile its templates now, not in the first requests it serves."""
    from flask import Flask

    from portal import warm_up

    if isinstance(worker.wsgi, Flask):
        worker.log.info("templates compiled: %d", warm_up(worker.wsgi))


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker is gone: its live gauges stop counting (counters and histograms are kept)."""
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    multiprocess.mark_process_dead(worker.pid)
