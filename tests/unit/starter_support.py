"""Builders for starter-flow unit tests: real services, fake adapters, an injected clock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from activation import invites
from activation.audit import Actor
from activation.clock import FakeClock
from activation.config import Settings
from activation.deps import Deps
from activation.graph.fake import FakeGraph
from activation.invites import OpenInvite
from activation.mail.fake import FakeMailer
from activation.mail.rendering import EmailRenderer
from activation.models import HrStatus, Person

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
START = date(2026, 3, 2)


@dataclass
class Flow:
    session: Session
    deps: Deps
    clock: FakeClock
    graph: FakeGraph
    mailer: FakeMailer

    def person(self, employee_id: str = "E100", *, with_account: bool = True, email: str | None = "ada@home.example",
               on_prem: bool = False, manager: str | None = None, **fields) -> Person:  # type: ignore[no-untyped-def]
        person = Person(
            employee_id=employee_id, given_name="Ada", family_name="Lovelace", display_name="Ada Lovelace",
            personal_email=email, start_date=fields.pop("start_date", START), hr_status=HrStatus.ACTIVE,
            time_zone="Europe/London", manager_employee_id=manager, **fields,
        )
        if with_account:
            user = self.graph.add_user(employee_id, f"{employee_id.lower()}@contoso.example", "Ada Lovelace",
                                       on_premises_sync_enabled=on_prem)
            person.entra_object_id = user.id
            person.upn = user.user_principal_name
        self.session.add(person)
        self.session.flush()
        invites.ensure_activation(self.session, person)
        self.session.commit()
        return person

    def invite(self, person: Person) -> tuple[str, OpenInvite]:
        invite = invites.issue(self.session, self.deps, person, Actor.system())
        self.session.commit()
        token = invites.token_service(self.deps).dumps(invite.id)
        return token, invites.open_invite(self.session, self.deps, token)

    def reopen(self, token: str) -> OpenInvite:
        self.session.expire_all()
        return invites.open_invite(self.session, self.deps, token)

    def run_jobs(self) -> list[str]:
        """Run the queued background jobs (the consumer's work) here; returns their final states."""
        from activation.jobs.handlers import default_handlers
        from activation.jobs.runner import run_due

        return [str(o.state) for o in run_due(self.session, self.deps, default_handlers())]

    def last_code(self, address: str = "ada@home.example") -> str:
        email = self.mailer.sent_to(address, "code")[-1]
        match = re.search(r"\b(\d{6,8})\b", email.text)
        assert match, "no code in the email"
        return match.group(1)


def make_flow(session: Session, settings: Settings, now: datetime | None = None) -> Flow:
    clock = FakeClock(now or datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    graph = FakeGraph(clock=clock)
    mailer = FakeMailer()
    renderer = EmailRenderer(TEMPLATES, public_url=settings.portal.public_url,
                             organisation_name=settings.portal.organisation_name,
                             support_contact=settings.portal.support_contact)
    deps = Deps(settings=settings, clock=clock, mailer=mailer, renderer=renderer, graph_provider=lambda: graph)
    return Flow(session, deps, clock, graph, mailer)
