"""The composition of adapters chosen by configuration, shared by the portal and the CLI.

Built once per process from Settings. Adapters that talk to the outside are created lazily on first
use, so that merely starting the portal or running `activation --help` opens no connection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from activation.clock import Clock, SystemClock
from activation.config import Settings
from activation.db import make_engine, make_session_factory


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)
    _lazy: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(settings.database.url)
        return cls(settings=settings, engine=engine, session_factory=make_session_factory(engine),
                   clock=clock or SystemClock())

    def provide(self, name: str, build: Any) -> Any:
        """Return the adapter called `name`, building it once with `build()` (thread-safe)."""
        with self._lock:
            if name not in self._lazy:
                self._lazy[name] = build()
            return self._lazy[name]

    def override(self, name: str, adapter: Any) -> None:
        """Install an adapter explicitly (tests hand in fakes this way)."""
        with self._lock:
            self._lazy[name] = adapter

    def dispose(self) -> None:
        self.engine.dispose()
