"""``EmulatorServer``: the HTTPS emulator served from a background thread, and its ``EmulatorInfo``."""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import certs
from .app import create_app
from .context import EmulatorContext, Identities
from .processing import Processor
from .quotas import Quotas
from .seed import TENANT_DOMAIN
from .store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmulatorInfo:
    base_url: str
    tenant_id: str
    client_id: str
    client_secret: str
    ca_path: str
    client_certificate_path: str
    client_certificate_thumbprint: str
    provisioning_sp_id: str
    provisioning_job_id: str

    def as_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def to_toml_settings(self) -> str:
        """A ``[microsoft]`` table for a settings file. The client secret is deliberately absent."""
        values = {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "authority_host": self.base_url,
            "graph_url": self.base_url,
            "ca_bundle": self.ca_path,
            "provisioning_sp_id": self.provisioning_sp_id,
            "provisioning_job_id": self.provisioning_job_id,
        }
        lines = ["[microsoft]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        return "\n".join(lines) + "\n"


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to DEBUG without query strings (they may carry codes or state)."""

    def log_request(self, code="-", size="-"):  # noqa: D401 - werkzeug hook
        log.debug("%s %s %s", self.command, self.path.split("?")[0], code)

    def log(self, type, message, *args):  # noqa: A002 - werkzeug signature
        if type == "error":
            log.debug(message, *args)


class EmulatorServer:
    def __init__(
        self,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        bulk_rate_calls: int = 40,
        bulk_rate_period: float = 5.0,
        processing_delay: float = 2.0,
        bulk_daily_quota: int = 2000,
        mail_per_minute: int = 30,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.bulk_rate_calls = bulk_rate_calls
        self.bulk_rate_period = bulk_rate_period
        self.processing_delay = processing_delay
        self.bulk_daily_quota = bulk_daily_quota
        self.mail_per_minute = mail_per_minute
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._context: EmulatorContext | None = None
        self._info: EmulatorInfo | None = None

    @property
    def info(self) -> EmulatorInfo:
        if self._info is None:
            raise RuntimeError("the emulator is not started")
        return self._info

    @property
    def context(self) -> EmulatorContext:
        """The live context (store, identities); for tests and the control API's neighbours."""
        if self._context is None:
            raise RuntimeError("the emulator is not started")
        return self._context

    def start(self) -> EmulatorInfo:
        if self._server is not None:
            return self.info
        self.state_dir.mkdir(parents=True, exist_ok=True)
        keys = certs.load_or_create(self.state_dir)
        identities = Identities.load_or_create(self.state_dir)
        store = Store(self.state_dir)
        store.load()
        store.save()
        context = EmulatorContext(
            identities=identities,
            keys=keys,
            store=store,
            bulk_rate_calls=self.bulk_rate_calls,
            bulk_rate_period=self.bulk_rate_period,
            processing_delay=self.processing_delay,
            tenant_aliases={TENANT_DOMAIN},
            quotas=Quotas(bulk_daily_quota=self.bulk_daily_quota, mail_per_minute=self.mail_per_minute),
        )
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ssl_ctx.load_cert_chain(keys.server_cert_path, keys.server_key_path)
        app = create_app(context)
        server = make_server(
            self.host, self.port, app, threaded=True, ssl_context=ssl_ctx, request_handler=_QuietHandler
        )
        server.daemon_threads = True
        public_host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
        if ":" in public_host:
            public_host = f"[{public_host}]"
        context.base_url = f"https://{public_host}:{server.server_port}"
        processor = Processor(context)
        context.processor = processor
        self._server, self._context = server, context
        self._thread = threading.Thread(target=server.serve_forever, name="entra-emulator-http", daemon=True)
        self._thread.start()
        processor.start()
        self._info = EmulatorInfo(
            base_url=context.base_url,
            tenant_id=identities.tenant_id,
            client_id=identities.client_id,
            client_secret=identities.client_secret,
            ca_path=str(keys.ca_path),
            client_certificate_path=str(keys.client_certificate_path),
            client_certificate_thumbprint=keys.client_thumbprint_sha1,
            provisioning_sp_id=identities.provisioning_sp_id,
            provisioning_job_id=identities.provisioning_job_id,
        )
        self._wait_until_serving()
        return self._info

    def _wait_until_serving(self, timeout: float = 10.0) -> None:
        assert self._server is not None
        ssl_ctx = ssl.create_default_context(cafile=str(self._context.keys.ca_path))
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = http.client.HTTPSConnection(host, self._server.server_port, context=ssl_ctx, timeout=2)
                conn.request("GET", "/_emulator/health")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        server, thread, context = self._server, self._thread, self._context
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)
        if context is not None:
            context.processor.stop()
            context.store.save()
        self._server = self._thread = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
