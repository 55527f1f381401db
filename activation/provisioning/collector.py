"""Pause Python's cycle collector while a large HR file is turned into records and a plan.

Validating and planning 100,000 rows keeps 100,000 records (and as many planned changes) alive, and
none of them form reference cycles. The cycle collector still rescans all of them each time enough
new objects have survived: about a tenth of the run. Inside `collector_paused()` memory is still
freed as soon as it is unused (reference counting); only the search for cycles waits until the block
ends. The state found on entry is restored on exit, so a caller that switched the collector off
keeps it off. With two runs at once in one process, the first to finish may switch it back on
while the other still runs: that run is then only slower, never wrong.

On exit, everything made inside the block would still sit in the youngest generation, and the first
collection afterwards would scan all of it at once. `gc.freeze()` just before switching the collector
back on, and `gc.unfreeze()` right after, move those objects to the oldest generation without a
scan; they are looked at again in the next full collection, as any long-lived object is. A caller
that froze objects of its own (gc.get_freeze_count() above zero on entry) keeps them frozen: the
block then skips this step.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    nothing_frozen = gc.get_freeze_count() == 0
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if nothing_frozen:
                gc.freeze()
            gc.enable()
            if nothing_frozen:
                gc.unfreeze()
