"""Builders for staff tests: an app with fakes and a FakeClock, HR people, and signed-in staff members.

`StaffWorld.sign_in` creates the server-side session directly through the session store (no emulator),
then hands the browser the cookie, exactly what the real callback does.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from activation import invites
from activation.audit import Actor
from activation.clock import FakeClock
from activation.graph.fake import FakeGraph
from activation.mail.fake import FakeMailer
from activation.models import Activation, ActivationState, AuditEvent, HrStatus, Person
from activation.runtime import Runtime
from activation.staff import login
from activation.staff.auth import DESK_ROLE, StaffMember
from portal import create_app
from tests.portal_support import csrf_token

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class StaffWorld:
    def __init__(self, app: Flask, runtime: Runtime, graph: FakeGraph, mailer: FakeMailer, clock: FakeClock) -> None:
        self.app, self.runtime, self.graph, self.mailer, self.clock = app, runtime, graph, mailer, clock

    # -- HR data ----------------------------------------------------------------------------------

    def person(self, employee_id: str, name: str = "Grace Hopper", *, manager: str | None = None,
               email: str | None = "grace@home.example", with_account: bool = True, invite: bool = True,
               start: date = date(2026, 3, 2), state: ActivationState | None = None, **fields: Any) -> int:
        given, _, family = name.partition(" ")
        with self.runtime.session_factory() as session:
            fields.setdefault("time_zone", "Europe/London")
            person = Person(employee_id=employee_id, given_name=given, family_name=family or given, display_name=name,
                            personal_email=email, start_date=start, hr_status=HrStatus.ACTIVE,
                            manager_employee_id=manager, **fields)
            if with_account:
                user = self.graph.add_user(employee_id, f"{employee_id.lower()}@contoso.example", name)
                person.entra_object_id, person.upn = user.id, user.user_principal_name
            session.add(person)
            session.flush()
            if invite:
                invites.issue(session, self.runtime.deps(), person, Actor.system())
            else:
                invites.ensure_activation(session, person)
            if state is not None:
                person.activation.state = state  # type: ignore[union-attr]
                if state is ActivationState.LOCKED:
                    person.activation.lock_reason = "too many wrong codes"  # type: ignore[union-attr]
            session.commit()
            return person.id

    def invite_link(self, person_id: int) -> str:
        with self.runtime.session_factory() as session:
            person = session.get(Person, person_id)
            assert person is not None
            invite = invites.issue(session, self.runtime.deps(), person, Actor.system())
            session.commit()
            return f"/a/{invites.token_service(self.runtime.deps()).dumps(invite.id)}"

    def staff(self, name: str = "Morgan Manager", *, employee_id: str | None = None, desk: bool = False,
              oid: str | None = None) -> StaffMember:
        """A staff member; with `employee_id`, also their HR record (which is what makes them a manager)."""
        member = StaffMember(oid=oid or str(uuid.uuid4()), name=name,
                             username=f"{name.split()[0].lower()}@contoso.example",
                             roles=frozenset({DESK_ROLE}) if desk else frozenset())
        if employee_id:
            self.person(employee_id, name, email=None, with_account=False, invite=False, start=date(2020, 1, 6),
                        entra_object_id=member.oid)
        return member

    def set_manager(self, person_id: int, manager_employee_id: str | None) -> None:
        with self.runtime.session_factory() as session:
            person = session.get(Person, person_id)
            assert person is not None
            person.manager_employee_id = manager_employee_id
            session.commit()

    # -- browsers ---------------------------------------------------------------------------------

    def sign_in(self, member: StaffMember, client: FlaskClient | None = None) -> FlaskClient:
        client = client or self.app.test_client()
        session_id = self.runtime.staff_sessions.create({"kind": login.SIGNED_IN, "member": member.to_data()})
        client.set_cookie("staff_session", session_id)
        return client

    @staticmethod
    def post(client: FlaskClient, page_url: str, action_url: str | None = None, data: dict | None = None):  # type: ignore[no-untyped-def]
        page = client.get(page_url)
        assert page.status_code == 200, page.status_code
        return client.post(action_url or page_url, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                         **(data or {})})

    # -- looking ----------------------------------------------------------------------------------

    def activation(self, person_id: int) -> Activation:
        with self.runtime.session_factory() as session:
            activation = session.scalars(select(Activation).where(Activation.person_id == person_id)).one()
            session.expunge(activation)
            return activation

    def events(self, action: str | None = None) -> list[AuditEvent]:
        with self.runtime.session_factory() as session:
            query = select(AuditEvent).order_by(AuditEvent.id)
            if action:
                query = query.where(AuditEvent.action == action)
            rows = list(session.scalars(query))
            session.expunge_all()
            return rows

    def code(self, email: str = "grace@home.example") -> str:
        text = self.mailer.sent_to(email, "code")[-1].text
        return re.search(r"\b(\d{6,8})\b", text).group(1)  # type: ignore[union-attr]


def build_world(make_settings, database_url: str, db_engine, **settings: Any) -> StaffWorld:  # type: ignore[no-untyped-def]
    config = make_settings(database={"url": database_url}, portal={"public_url": "http://localhost"}, **settings)
    clock = FakeClock(NOW)
    runtime = Runtime.from_settings(config, engine=db_engine, clock=clock)
    graph, mailer = FakeGraph(clock=clock), FakeMailer()
    runtime.override("graph", graph)
    runtime.override("mailer", mailer)
    return StaffWorld(create_app(runtime=runtime), runtime, graph, mailer, clock)
