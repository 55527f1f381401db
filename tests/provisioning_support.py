"""Builders for provisioning tests: HR files, a Graph fake that keeps the payloads, deps with a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activation.clock import Clock, FakeClock
from activation.config import Settings
from activation.deps import Deps
from activation.graph.fake import FakeGraph
from activation.graph.models import BulkUploadResult
from activation.graph.protocol import GraphClient
from activation.mail.fake import FakeMailer
from activation.mail.rendering import EmailRenderer

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = REPO_ROOT / "templates" / "email"
HEADER = ("employee_id,first_name,last_name,preferred_name,personal_email,mobile_phone,manager_id,start_date,"
          "end_date,department,job_title,company,country,usage_location,preferred_language,time_zone,"
          "worker_type,status")
DAY_ONE = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)


def hr_line(employee_id: str, *, given: str = "Ada", family: str | None = None, email: str | None = None,
            manager: str = "", start: str = "2026-03-09", end: str = "", department: str = "Engineering",
            title: str = "Engineer", status: str = "active") -> str:
    family = family or f"Person{employee_id}"
    email = email or f"{employee_id.lower()}@home.example"
    return (f"{employee_id},{given},{family},,{email},,{manager},{start},{end},{department},{title},Contoso Ltd,"
            f"GB,GB,en-GB,Europe/London,Employee,{status}")


def write_hr(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@dataclass
class RecordingGraph(FakeGraph):
    """FakeGraph that also keeps every bulk request it accepted, to check what went up."""

    payloads: list[dict[str, Any]] = field(default_factory=list)

    def bulk_upload(self, payload: dict[str, Any]) -> BulkUploadResult:
        result = super().bulk_upload(payload)
        self.payloads.append(payload)
        return result

    def operations(self) -> list[dict[str, Any]]:
        return [op for payload in self.payloads for op in payload["Operations"]]

    def sent(self) -> dict[str, bool]:
        """externalId -> the `active` flag sent, over every accepted request."""
        return {op["data"]["externalId"]: op["data"]["active"] for op in self.operations()}


FAKE_PROVISIONING_APP = {"provisioning_sp_id": "fake-sp", "provisioning_job_id": "fake-job"}  # FakeGraph's job


def make_deps(settings: Settings, graph: GraphClient, clock: Clock | None = None) -> Deps:
    """Deps around `graph`; settings without a provisioning app get FakeGraph's (uploading needs one)."""
    if not settings.microsoft.provisioning_job_id:
        settings = settings.replace(microsoft=FAKE_PROVISIONING_APP)
    renderer = EmailRenderer(TEMPLATES, public_url=settings.portal.public_url,
                             organisation_name=settings.portal.organisation_name,
                             support_contact=settings.portal.support_contact)
    return Deps(settings=settings, clock=clock or FakeClock(DAY_ONE), mailer=FakeMailer(), renderer=renderer,
                graph_provider=lambda: graph)
