"""The cycle collector pause: the state on entry comes back, and a caller's frozen objects stay frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from activation.provisioning.collector import collector_paused


@pytest.fixture
def collector_state() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector_state")
@pytest.mark.parametrize("enabled", [True, False])
def test_state_on_entry_is_restored_and_nothing_stays_frozen(enabled: bool) -> None:
    if enabled:
        gc.enable()
    else:
        gc.disable()
    with collector_paused():
        assert not gc.isenabled()
        kept = [[n] for n in range(1000)]
    assert gc.isenabled() is enabled
    assert gc.get_freeze_count() == 0
    assert gc.is_tracked(kept[0])


@pytest.mark.usefixtures("collector_state")
def test_objects_the_caller_froze_stay_frozen() -> None:
    gc.enable()
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    with collector_paused():
        kept = [[n] for n in range(1000)]
    assert gc.isenabled()
    # Still frozen (not unfrozen), and nothing made inside was frozen; some of the caller's frozen
    # objects may have been freed meanwhile, so the count can only have gone down.
    assert 0 < gc.get_freeze_count() <= frozen
    assert len(kept) == 1000


@pytest.mark.usefixtures("collector_state")
def test_state_is_restored_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failing run")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
