"""The checks before a pass read Graph on the runtime's long-lived threads, not on threads started per activation."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from activation import account_steps, codes
from activation.runtime import Runtime
from tests.unit.starter_support import Flow, make_flow


class ThreadNoting:
    """Wraps the fake Graph and notes the thread each member_of / authentication_methods read ran on."""

    def __init__(self, graph) -> None:  # type: ignore[no-untyped-def]
        self._graph = graph
        self.threads: list[threading.Thread] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        call = getattr(self._graph, name)
        if name not in ("member_of", "authentication_methods"):
            return call

        def noted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.threads.append(threading.current_thread())
            return call(*args, **kwargs)
        return noted


def activate(flow: Flow, employee_id: str) -> None:
    email = f"{employee_id.lower()}@home.example"
    token, opened = flow.invite(flow.person(employee_id, email=email))
    codes.request_code(flow.session, flow.deps, opened, "browser-1")
    codes.verify_code(flow.session, flow.deps, flow.reopen(token), "browser-1", flow.last_code(email))
    assert account_steps.finish(flow.session, flow.deps, flow.reopen(token), "browser-1").tap


def test_reads_run_on_the_shared_pool_and_its_threads_are_reused(memory_session: Session, make_settings) -> None:  # type: ignore[no-untyped-def]
    flow = make_flow(memory_session, make_settings())
    noting = ThreadNoting(flow.graph)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="shared-reads") as shared:
        flow.deps = replace(flow.deps, graph_provider=lambda: noting, graph_reads=shared)
        for number in range(5):
            activate(flow, f"E{number}")
        assert len(noting.threads) == 10
        assert all(thread.name.startswith("shared-reads") for thread in noting.threads)
        assert len(set(noting.threads)) <= 4 and all(thread.is_alive() for thread in noting.threads)


def test_the_runtime_keeps_one_pool_and_shuts_it_down(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime.from_settings(make_settings())
    pool = runtime.deps().graph_reads
    assert pool is not None and runtime.deps().graph_reads is pool
    assert pool.submit(lambda: 42).result(timeout=5) == 42
    runtime.dispose()
    with pytest.raises(RuntimeError):  # no new work after dispose()
        pool.submit(lambda: 0)
