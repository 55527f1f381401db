"""Fixtures: one HTTPS emulator per test session, plus helpers for extra short-lived servers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msal
import pytest
import requests

from entra_emulator.server import EmulatorInfo, EmulatorServer

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CUSTOM = "urn:ietf:params:scim:schemas:extension:contoso:1.0:User"


def http_session(info: EmulatorInfo) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
    session.verify = info.ca_path
    return session


def msal_app(info: EmulatorInfo, session: requests.Session, credential=None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        info.client_id,
        client_credential=credential if credential is not None else info.client_secret,
        authority=f"{info.base_url}/{info.tenant_id}",
        instance_discovery=False,
        http_client=session,
    )


def app_token(info: EmulatorInfo, session: requests.Session) -> str:
    result = msal_app(info, session).acquire_token_for_client(scopes=[f"{info.base_url}/.default"])
    assert "access_token" in result, result
    return result["access_token"]


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(interval)


def scim_user(external_id: str, user_name: str | None = None, *, active: bool | None = False,
              manager: str | None = None, bulk_id: str | None = None, **extra) -> dict:
    data: dict = {"schemas": [CORE, ENTERPRISE], "externalId": external_id,
                  "name": {"givenName": "Given", "familyName": external_id}}
    if user_name is not None:
        data["userName"] = user_name
    if active is not None:
        data["active"] = active
    enterprise: dict = {"department": "Engineering"}
    if manager is not None:
        enterprise["manager"] = {"value": manager}
    data[ENTERPRISE] = enterprise
    data.update(extra)
    return {"method": "POST", "bulkId": bulk_id or f"b-{external_id}", "path": "/Users", "data": data}


def bulk_body(*operations: dict) -> dict:
    return {"schemas": [BULK], "Operations": list(operations)}


class Graph:
    """A tiny authenticated Graph client over the emulator's HTTPS endpoint."""

    def __init__(self, info: EmulatorInfo, session: requests.Session, token: str) -> None:
        self.info, self.session, self.token = info, session, token

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.info.base_url}{path}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.session.request(method, self.url(path), headers=headers, timeout=30, **kwargs)

    def bulk_upload(self, body, content_type: str = "application/scim+json") -> requests.Response:
        info = self.info
        path = (f"/v1.0/servicePrincipals/{info.provisioning_sp_id}/synchronization/jobs/"
                f"{info.provisioning_job_id}/bulkUpload")
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.request("POST", path, data=data, headers={"Content-Type": content_type})

    def control(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.info.base_url}/_emulator{path}", timeout=30, **kwargs)

    def user_by_employee_id(self, employee_id: str) -> dict | None:
        found = self.request("GET", f"/v1.0/users?$filter=employeeId eq '{employee_id}'").json()["value"]
        return found[0] if found else None


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> Iterator[EmulatorServer]:
    # a long processing delay: tests process staged uploads on demand through the control API
    server = EmulatorServer(tmp_path_factory.mktemp("emulator"), processing_delay=3600)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def info(emulator) -> EmulatorInfo:
    return emulator.info


@pytest.fixture(scope="session")
def session(info) -> requests.Session:
    return http_session(info)


@pytest.fixture(scope="session")
def graph(info, session) -> Graph:
    return Graph(info, session, app_token(info, session))


@pytest.fixture(autouse=True)
def _reset(request):
    if {"emulator", "info", "session", "graph"} & set(request.fixturenames):
        graph = request.getfixturevalue("graph")
        assert graph.control("POST", "/reset").status_code == 200
    yield


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., EmulatorServer]]:
    """Start extra emulators (own state dir unless given); all are stopped after the test."""
    started: list[EmulatorServer] = []

    def start(state_dir: Path | None = None, **kwargs) -> EmulatorServer:
        server = EmulatorServer(state_dir or tmp_path / f"emu{len(started)}", **kwargs)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
