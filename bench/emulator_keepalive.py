"""The emulator served by gunicorn (HTTPS, keep-alive), for the benchmark.

Microsoft Graph keeps TLS connections open; werkzeug's development server, which `python -m
entra_emulator` uses, closes every connection, so each Graph call would pay a fresh TLS handshake in
the portal's worker. Same emulator app and state as EmulatorServer.start(), served by one gunicorn
worker with many threads (the store is in memory: one process).

    EMULATOR_STATE_DIR=... EMULATOR_BASE_URL=https://127.0.0.1:PORT \
        gunicorn -k gthread --threads 64 --workers 1 --certfile ... --keyfile ... 'emulator_keepalive:create_app()'
"""

from __future__ import annotations

import os
from pathlib import Path

from entra_emulator import certs
from entra_emulator.app import create_app as create_emulator_app
from entra_emulator.context import EmulatorContext, Identities
from entra_emulator.processing import Processor
from entra_emulator.seed import TENANT_DOMAIN
from entra_emulator.store import Store


def create_app():  # type: ignore[no-untyped-def]
    state_dir = Path(os.environ["EMULATOR_STATE_DIR"])
    keys = certs.load_or_create(state_dir)
    identities = Identities.load_or_create(state_dir)
    store = Store(state_dir)
    store.load()
    context = EmulatorContext(identities=identities, keys=keys, store=store, bulk_rate_calls=40,
                              bulk_rate_period=5.0, processing_delay=0.0, tenant_aliases={TENANT_DOMAIN})
    context.base_url = os.environ["EMULATOR_BASE_URL"]
    context.processor = Processor(context)
    context.processor.start()
    return create_emulator_app(context)
