"""SQLAlchemy 2.0 models for every table in DESIGN section 4. Models never commit."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Enum, ForeignKey, Index, Integer, MetaData, String, Text, false, func
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _enum(enum_type: type[enum.Enum], name: str) -> Enum:
    """Enums stored by value, as plain strings (portable, readable in SQL)."""
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class HrStatus(enum.StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class ActivationState(enum.StrEnum):
    PENDING = "pending"
    INVITED = "invited"
    CODE_SENT = "code_sent"
    VERIFIED = "verified"
    ENABLED = "enabled"
    COMPLETED = "completed"
    LOCKED = "locked"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ActorType(enum.StrEnum):
    SYSTEM = "system"
    STARTER = "starter"
    STAFF = "staff"
    API = "api"


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[str] = mapped_column(String(64), unique=True)
    given_name: Mapped[str] = mapped_column(String(64))
    family_name: Mapped[str] = mapped_column(String(64))
    preferred_name: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(256))
    personal_email: Mapped[str | None] = mapped_column(String(254), index=True)
    mobile: Mapped[str | None] = mapped_column(String(32))
    manager_employee_id: Mapped[str | None] = mapped_column(String(64), index=True)
    department: Mapped[str | None] = mapped_column(String(128))
    job_title: Mapped[str | None] = mapped_column(String(128))
    company: Mapped[str | None] = mapped_column(String(128))
    country: Mapped[str | None] = mapped_column(String(2))
    usage_location: Mapped[str | None] = mapped_column(String(2))
    preferred_language: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    worker_type: Mapped[str | None] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    hr_status: Mapped[HrStatus] = mapped_column(_enum(HrStatus, "hr_status"))
    # issue 12: what Microsoft's CSV2SCIM layout carries beyond the fields above
    user_name: Mapped[str | None] = mapped_column(String(256))  # HR's sign-in name column, when mapped
    cost_center: Mapped[str | None] = mapped_column(String(128))
    division: Mapped[str | None] = mapped_column(String(128))
    street_address: Mapped[str | None] = mapped_column(String(256))
    locality: Mapped[str | None] = mapped_column(String(128))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    work_phone: Mapped[str | None] = mapped_column(String(32))
    # uploaded while their manager had no account yet: sent again once the manager has one
    manager_pending: Mapped[bool] = mapped_column(default=False, server_default=false())
    entra_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    upn: Mapped[str | None] = mapped_column(String(256))
    account_enabled: Mapped[bool | None]
    provisioning_error: Mapped[str | None] = mapped_column(Text)
    offboarding_issue: Mapped[str | None] = mapped_column(Text)  # a leaver's Graph clean-up still to retry
    hr_privileged: Mapped[bool | None]  # HR flags this person as privileged: desk actions need two agents
    last_payload_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    activation: Mapped[Activation | None] = relationship(back_populates="person", uselist=False)

    # The lost-link lookup compares lower(personal_email): without this index it read every person.
    __table_args__ = (Index("ix_person_personal_email_lower", func.lower(personal_email)),)


class Activation(Base):
    __tablename__ = "activation"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    state: Mapped[ActivationState] = mapped_column(_enum(ActivationState, "activation_state"), index=True)
    failed_code_count: Mapped[int] = mapped_column(default=0)
    codes_sent: Mapped[int] = mapped_column(default=0)
    last_code_sent_at: Mapped[datetime | None]
    lock_reason: Mapped[str | None] = mapped_column(String(256))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None]
    resume_until: Mapped[datetime | None]
    window_extended_until: Mapped[datetime | None]  # staff reopened a closed activation window
    enabled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    tap_method_id: Mapped[str | None] = mapped_column(String(64))
    tap_expires_at: Mapped[datetime | None]
    step_lease_until: Mapped[datetime | None]
    credential_type: Mapped[str | None] = mapped_column(String(32))  # passkey / authenticator, once seen
    credential_at: Mapped[datetime | None]
    credential_checks: Mapped[int] = mapped_column(default=0, server_default="0")  # polls so far (backoff)
    credential_next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    tap_used_at: Mapped[datetime | None]  # first seen used up by the credential watcher
    frozen_at: Mapped[datetime | None]  # the starter said "this wasn't me"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person] = relationship(back_populates="activation")

    __mapper_args__ = {"version_id_col": version}


class Invite(Base):
    __tablename__ = "invite"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship()


class OtpChallenge(Base):
    __tablename__ = "otp_challenge"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    activation_id: Mapped[int] = mapped_column(ForeignKey("activation.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    session_binding: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_type: Mapped[ActorType] = mapped_column(_enum(ActorType, "actor_type"))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    employee_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)  # a job's "done already?" lookup
    client_ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProvisioningRun(Base):
    __tablename__ = "provisioning_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(512))
    file_hash: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id", ondelete="SET NULL"))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[ProvisioningItem]] = relationship(back_populates="run", order_by="ProvisioningItem.id")


class ProvisioningItem(Base):
    __tablename__ = "provisioning_item"
    __table_args__ = (
        Index("ix_provisioning_item_run_employee", "run_id", "employee_id"),
        Index("ix_provisioning_item_outstanding", "upload_status", "result_status"),  # reconcile's work list
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("provisioning_run.id", ondelete="CASCADE"))
    employee_id: Mapped[str | None] = mapped_column(String(64))
    source_ref: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    payload_hash: Mapped[str | None] = mapped_column(String(64))
    batch: Mapped[int | None]
    bulk_id: Mapped[str | None] = mapped_column(String(64))
    upload_status: Mapped[str | None] = mapped_column(String(16))
    result_status: Mapped[str | None] = mapped_column(String(16))
    result_error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    run: Mapped[ProvisioningRun] = relationship(back_populates="items")


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(256))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)


class ApiClient(Base):
    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: no expiry (`api-key create --expires DAYS` sets one)
    rotated_at: Mapped[datetime | None]
    # After a rotation the previous key keeps working until previous_valid_until (the overlap).
    previous_key_prefix: Mapped[str | None] = mapped_column(String(16), index=True)
    previous_key_hash: Mapped[str | None] = mapped_column(String(128))
    previous_valid_until: Mapped[datetime | None]


class RateLimitCounter(Base):
    """Fixed-window counters shared by every worker (DESIGN section 8: never in worker memory)."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)


class StaffSession(Base):
    """Server-side staff session; the cookie carries only the opaque id."""

    __tablename__ = "staff_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DeskRequest(Base):
    """A desk action that can hand over an account, with the caller's verification and approvals.

    It runs once every condition holds (verification done, second agent, manager approval); until then
    it waits here as `pending`. Nothing secret is stored: the verification is a method and a reference.
    """

    __tablename__ = "desk_request"
    __table_args__ = (Index("ix_desk_request_status_person", "status", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    new_invite: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[str] = mapped_column(String(64))  # staff oid
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))  # callback / manager / id_check
    reference: Mapped[str | None] = mapped_column(String(128))  # the ID check's reference, a ticket
    verified_at: Mapped[datetime | None]  # callback made / ID check recorded / manager approved
    verified_by: Mapped[str | None] = mapped_column(String(64))  # agent oid, or the manager's oid
    needs_second_agent: Mapped[bool] = mapped_column(default=False)
    second_reason: Mapped[str | None] = mapped_column(String(128))  # why: privileged, threat mode
    second_agent: Mapped[str | None] = mapped_column(String(64))
    second_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/done/declined/failed/expired
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)


class DeskFlag(Base):
    """Desk-wide switches shared by every worker (threat mode)."""

    __tablename__ = "desk_flag"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class StarterNotice(Base):
    """One "this happened to your account" notice; its random id is signed into a "this wasn't me" link."""

    __tablename__ = "starter_notice"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DirectoryLookup(Base):
    """What the directory said about a user, kept briefly: a manager's employeeId (for managers HR never
    sent) and whether an account is mastered in on-premises AD (so the portal cannot switch it on)."""

    __tablename__ = "directory_lookup"

    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    employee_id: Mapped[str | None] = mapped_column(String(64))
    on_premises_sync_enabled: Mapped[bool | None]
    checked_at: Mapped[datetime]


class JobState(enum.StrEnum):
    QUEUED = "queued"  # waiting for the consumer (first run or a retry after backoff)
    RUNNING = "running"  # claimed by a consumer; `lease_until` says when it is taken as crashed
    DONE = "done"
    FAILED = "failed"  # out of attempts (or a permanent error): `last_error` says why


class Job(Base):
    """The ledger of background work (activation/jobs/): what was asked, what happened, and why not.

    The queue (Huey) carries only the row's id. The row makes every job idempotent (a job runs only
    when it can be claimed), recoverable (a consumer killed mid-job leaves an expired lease that the
    sweep re-queues) and visible (the desk dashboard lists queued and failed rows with their reason).
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_kind_key", "kind", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))  # idempotency key, unique per kind
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # plain values, never a secret
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_before: Mapped[datetime | None]  # a retry's backoff or a paced send: not to be run earlier
    lease_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
