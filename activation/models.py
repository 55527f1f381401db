"""SQLAlchemy 2.0 models for every table in DESIGN section 4. Models never commit."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Enum, ForeignKey, Index, Integer, MetaData, String, Text
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
    entra_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    upn: Mapped[str | None] = mapped_column(String(256))
    account_enabled: Mapped[bool | None]
    provisioning_error: Mapped[str | None] = mapped_column(Text)
    offboarding_issue: Mapped[str | None] = mapped_column(Text)  # a leaver's Graph clean-up still to retry
    last_payload_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    activation: Mapped[Activation | None] = relationship(back_populates="person", uselist=False)


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
    request_id: Mapped[str | None] = mapped_column(String(64))
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
