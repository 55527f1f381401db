"""The tenant's TAP policy is read at most once a minute per process, and a failed read is not kept."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from activation import account_steps, codes
from activation.graph.auth_methods import TapPolicy
from activation.graph.errors import ServiceUnavailable
from activation.tap_policy_cache import TapPolicyCache
from tests.unit.starter_support import Flow, make_flow


@pytest.fixture
def flow(memory_session: Session, make_settings) -> Flow:  # type: ignore[no-untyped-def]
    plain = make_flow(memory_session, make_settings())
    plain.deps = replace(plain.deps, tap_policy_cache=TapPolicyCache(plain.clock))
    return plain


def activate(flow: Flow, employee_id: str) -> None:
    email = f"{employee_id.lower()}@home.example"
    person = flow.person(employee_id, email=email)
    token, opened = flow.invite(person)
    codes.request_code(flow.session, flow.deps, opened, "browser-1")
    codes.verify_code(flow.session, flow.deps, flow.reopen(token), "browser-1", flow.last_code(email))
    account_steps.finish(flow.session, flow.deps, flow.reopen(token), "browser-1")


def policy_reads(flow: Flow) -> int:
    return sum(operation == "tap_policy" for operation, _ in flow.graph.calls)


def test_activations_within_a_minute_read_the_policy_once(flow: Flow) -> None:
    activate(flow, "E1")
    flow.clock.advance(50)
    activate(flow, "E2")
    assert policy_reads(flow) == 1


def test_a_changed_policy_is_seen_after_a_minute(flow: Flow) -> None:
    activate(flow, "E1")
    flow.graph.policy = TapPolicy(False, frozenset({"all_users"}), frozenset(), 60, 480, False)
    flow.clock.advance(61)
    with pytest.raises(account_steps.AccountStepFailed) as failed:
        activate(flow, "E2")
    assert failed.value.step == "check before the pass" and not failed.value.retryable
    assert policy_reads(flow) == 2


def test_a_failed_read_is_not_kept(flow: Flow) -> None:
    flow.graph.fail_next("tap_policy", ServiceUnavailable("busy", status=503))
    with pytest.raises(account_steps.AccountStepFailed) as failed:
        activate(flow, "E1")
    assert failed.value.retryable
    activate(flow, "E2")
    assert policy_reads(flow) == 2
