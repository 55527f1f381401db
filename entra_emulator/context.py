"""The per-server context every blueprint reads: identities, key material, store and settings."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

from .certs import KeyMaterial
from .quotas import Quotas
from .store import Store

IDENTITY_FILE = "identity.json"
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXTENSION_KEY = "entra_emulator"


@dataclass(frozen=True)
class Identities:
    tenant_id: str
    client_id: str
    client_secret: str
    app_object_id: str  # the service principal of the portal's app (token oid for app-only)
    provisioning_sp_id: str
    provisioning_job_id: str

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Identities:
        path = state_dir / IDENTITY_FILE
        if path.exists():
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        tenant_id = str(uuid.uuid4())
        created = cls(
            tenant_id=tenant_id,
            client_id=str(uuid.uuid4()),
            client_secret="emu~" + secrets.token_urlsafe(30),
            app_object_id=str(uuid.uuid4()),
            provisioning_sp_id=str(uuid.uuid4()),
            provisioning_job_id=f"API2AAD.{uuid.uuid4().hex}.{tenant_id}",
        )
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(created.__dict__, fh, indent=1)
        os.replace(tmp, path)
        return created


@dataclass
class EmulatorContext:
    identities: Identities
    keys: KeyMaterial
    store: Store
    bulk_rate_calls: int
    bulk_rate_period: float
    processing_delay: float
    base_url: str = ""  # set once the socket is bound
    tenant_aliases: set[str] = field(default_factory=set)
    processor: Any = None  # processing.Processor, set by the server
    quotas: Quotas = field(default_factory=Quotas)  # daily bulkUpload calls, sendMail per minute

    def issuer(self) -> str:
        return f"{self.base_url}/{self.identities.tenant_id}/v2.0"

    def token_endpoint(self, tenant: str | None = None) -> str:
        return f"{self.base_url}/{tenant or self.identities.tenant_id}/oauth2/v2.0/token"

    def graph_audiences(self) -> set[str]:
        return {self.base_url, GRAPH_RESOURCE, GRAPH_APP_ID}

    def is_known_tenant(self, tenant: str) -> bool:
        return tenant == self.identities.tenant_id or tenant.lower() in self.tenant_aliases


def ctx() -> EmulatorContext:
    """The context of the app serving the current request."""
    return current_app.extensions[EXTENSION_KEY]
