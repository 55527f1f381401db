"""Emulator helpers and per-implementation harnesses for the Graph contract and retry tests.

Test modules wrap `running_emulator` in their own `emulator` fixture.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests

from activation.clock import Clock, FakeClock, SystemClock
from activation.graph.factory import build_graph_client
from activation.graph.fake import FakeGraph
from activation.graph.http_client import HttpGraphClient
from activation.graph.http_session import build_http_session
from activation.graph.models import GraphUser
from activation.graph.protocol import GraphClient
from activation.graph.retry import RetryPolicy

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@dataclass
class Emulator:
    """A running emulator plus a control session that trusts its CA."""

    info: Any
    control: requests.Session

    @property
    def base(self) -> str:
        return self.info.base_url.rstrip("/")

    def post(self, path: str, json: Any = None) -> requests.Response:
        response = self.control.post(f"{self.base}/_emulator/{path}", json=json, timeout=10)
        response.raise_for_status()
        return response

    def add_fault(self, **fault: Any) -> None:
        self.post("faults", fault)

    def clear_requests(self) -> None:
        self.control.delete(f"{self.base}/_emulator/requests", timeout=10).raise_for_status()

    def requests_log(self) -> list[dict[str, Any]]:
        response = self.control.get(f"{self.base}/_emulator/requests", timeout=10)
        response.raise_for_status()
        data = response.json()
        # The agreed shape is a bare list; the emulator currently wraps it as {"value": [...]}.
        return data["value"] if isinstance(data, dict) else data

    def client(
        self,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        client_secret: str | None = None,
        certificate: bool = False,
    ) -> HttpGraphClient:
        return build_graph_client(
            graph_url=self.info.base_url,
            authority_host=self.info.base_url,
            tenant_id=self.info.tenant_id,
            client_id=self.info.client_id,
            client_secret=None if certificate else (client_secret or self.info.client_secret),
            certificate_path=self.info.client_certificate_path if certificate else None,
            certificate_thumbprint=self.info.client_certificate_thumbprint if certificate else None,
            ca_bundle=self.info.ca_path,
            clock=clock or SystemClock(),
            retry=retry,
            provisioning_sp_id=self.info.provisioning_sp_id,
            provisioning_job_id=self.info.provisioning_job_id,
        )


def running_emulator(tmp_path: Path) -> Iterator[Emulator]:
    """Body of an `emulator` fixture: a fresh emulator with its own state directory."""
    from entra_emulator.server import EmulatorServer

    server = EmulatorServer(
        state_dir=tmp_path / "emulator",
        host="127.0.0.1",
        port=0,
        bulk_rate_calls=40,
        bulk_rate_period=5.0,
        processing_delay=0.0,
    )
    info = server.start()
    try:
        yield Emulator(info, build_http_session(info.ca_path))
    finally:
        server.stop()


class Harness(Protocol):
    """What the contract suite needs besides the GraphClient itself: seed users, run provisioning."""

    client: GraphClient
    job_id: str

    def add_user(
        self, employee_id: str, upn: str, display_name: str, *, enabled: bool = False, on_prem: bool = False
    ) -> GraphUser: ...

    def process_uploads(self) -> None: ...

    def mail_count(self, sender: str) -> int: ...


class FakeHarness:
    def __init__(self) -> None:
        self.fake = FakeGraph(clock=FakeClock(), job_id="fake-job")
        self.client: GraphClient = self.fake
        self.job_id = self.fake.job_id

    def add_user(
        self, employee_id: str, upn: str, display_name: str, *, enabled: bool = False, on_prem: bool = False
    ) -> GraphUser:
        return self.fake.add_user(
            employee_id, upn, display_name, account_enabled=enabled, on_premises_sync_enabled=on_prem
        )

    def process_uploads(self) -> None:
        self.fake.process_uploads()

    def mail_count(self, sender: str) -> int:
        return sum(1 for s, _ in self.fake.sent_mail if s == sender)


class EmulatorHarness:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.client: GraphClient = emulator.client()
        self.job_id = emulator.info.provisioning_job_id

    def add_user(
        self, employee_id: str, upn: str, display_name: str, *, enabled: bool = False, on_prem: bool = False
    ) -> GraphUser:
        created = self.emulator.post(
            "users",
            {
                "employeeId": employee_id,
                "userPrincipalName": upn,
                "displayName": display_name,
                "accountEnabled": enabled,
                "onPremisesSyncEnabled": on_prem,
            },
        ).json()
        return self.client.get_user(created["id"])

    def process_uploads(self) -> None:
        self.emulator.post("process")

    def mail_count(self, sender: str) -> int:
        return sum(
            1
            for r in self.emulator.requests_log()
            if r["method"] == "POST"
            and r["path"].lower() == f"/v1.0/users/{sender}/sendmail".lower()
            and r["status"] == 202
        )


def scim_operation(external_id: str, upn: str, display_name: str, active: bool | None) -> dict[str, Any]:
    given, _, family = display_name.partition(" ")
    data: dict[str, Any] = {
        "schemas": [CORE, ENTERPRISE],
        "externalId": external_id,
        "userName": upn,
        "displayName": display_name,
        "name": {"givenName": given, "familyName": family or given},
        ENTERPRISE: {"employeeNumber": external_id},
    }
    if active is not None:
        data["active"] = active
    return {"method": "POST", "bulkId": str(uuid.uuid4()), "path": "/Users", "data": data}


def bulk_request(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [BULK], "Operations": list(operations), "failOnErrors": None}
