"""The start-up heap is frozen: what a service allocated while starting is out of later collections' scans."""

from __future__ import annotations

import gc

from shared.heap import freeze_startup_heap


def test_freezing_moves_every_surviving_object_out_of_the_collected_generations() -> None:
    startup_objects = [{"n": n} for n in range(1000)]
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(startup_objects)
        assert sum(gc.get_count()) < 50  # the collected generations start empty, save what the call allocated
        assert not any(obj is startup_objects for obj in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
