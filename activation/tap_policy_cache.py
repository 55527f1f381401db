"""The tenant's Temporary Access Pass policy, read from Graph at most once a minute per process.

The policy is the same for every starter and changes rarely (an admin edits it in the Entra admin
center), so reading it for every activation cost one Graph round trip and its CPU for nothing
(5 -> 4 Graph calls per activation after the process's first). What a minute's staleness costs: a
starter who finishes within a minute of an admin's change is judged by the policy as it was. Entra
applies the live policy itself when a pass is used to sign in (the emulator does not model that);
after a change that newly allows passes, a starter refused in that minute goes to the desk as before
the change. Only answers are kept: a Graph error is raised to the caller and the next call asks again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from activation.clock import Clock
from activation.graph.auth_methods import TapPolicy
from activation.graph.protocol import GraphClient

TAP_POLICY_SECONDS = 60


class TapPolicyCache:
    def __init__(self, clock: Clock, max_age_seconds: float = TAP_POLICY_SECONDS) -> None:
        self._clock = clock
        self._max_age = timedelta(seconds=max_age_seconds)
        self._lock = threading.Lock()
        self._policy: TapPolicy | None = None
        self._read_at: datetime | None = None

    def get(self, graph: GraphClient) -> TapPolicy:
        now = self._clock.now()
        with self._lock:
            if self._policy is not None and self._read_at is not None and now - self._read_at < self._max_age:
                return self._policy
        policy = graph.tap_policy()  # outside the lock: a slow Graph holds up no other reader
        with self._lock:
            self._policy, self._read_at = policy, now
        return policy
