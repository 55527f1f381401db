import logging

import pytest

from activation import audit
from activation.models import ActorType, HrStatus, Person
from activation.redaction import REDACTED, RedactingFilter, redact, redact_text


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer eyJhbGciOi.CANARY.sig",
        "client_secret=CANARY&grant_type=client_credentials",
        '{"temporaryAccessPass": "CANARY"}',
        "password=CANARY",
        "access_token: CANARY",
    ],
)
def test_inline_secrets_are_scrubbed(text: str) -> None:
    assert "CANARY" not in redact_text(text)


def test_secret_keys_are_masked_in_nested_details() -> None:
    cleaned = redact({"step": "tap", "tapValue": "CANARY", "nested": [{"otp_code": "CANARY", "ok": 1}]})
    assert cleaned == {"step": "tap", "tapValue": REDACTED, "nested": [{"otp_code": REDACTED, "ok": 1}]}


def test_logging_filter_redacts_formatted_messages(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="test.redaction"):
            logger.info("token request body %s", "client_secret=CANARY&scope=x")
    finally:
        logger.filters.clear()
    assert caplog.records and "CANARY" not in caplog.text


def make_person(session, employee_id: str = "E1") -> Person:  # type: ignore[no-untyped-def]
    from datetime import date

    person = Person(employee_id=employee_id, given_name="Ada", family_name="Lovelace", display_name="Ada Lovelace",
                    start_date=date(2026, 1, 5), hr_status=HrStatus.ACTIVE)
    session.add(person)
    session.flush()
    return person


def test_audit_records_and_queries_events_newest_first(memory_session) -> None:  # type: ignore[no-untyped-def]
    person = make_person(memory_session)
    audit.record(memory_session, action="invite.sent", actor=audit.Actor.system(), person=person)
    audit.record(memory_session, action="desk.unlock", actor=audit.Actor.staff("oid-123"), person=person,
                 reason="called the desk", context=audit.RequestContext("req-1", "203.0.113.9"),
                 details={"otp": "CANARY", "previous_state": "locked"})
    memory_session.commit()

    events = audit.events(memory_session, person_id=person.id)
    assert [e.action for e in events] == ["desk.unlock", "invite.sent"]
    newest = events[0]
    assert newest.actor_type is ActorType.STAFF and newest.actor_id == "oid-123"
    assert newest.employee_id == "E1" and newest.request_id == "req-1" and newest.client_ip == "203.0.113.9"
    assert newest.details == {"otp": REDACTED, "previous_state": "locked"}
    assert newest.at.tzinfo is not None
    assert [e.action for e in audit.events(memory_session, action="invite.sent")] == ["invite.sent"]
