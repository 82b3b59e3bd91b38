"""The start of a long-running service process (core/process.py)."""

import gc
import os
from pathlib import Path

from core.process import freeze_startup_heap
from core.profiling import log_gc_pauses


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_startup_heap_is_frozen_and_later_garbage_is_still_collected() -> None:
    """What exists at the freeze leaves the collector's generations; a cycle made afterwards is still collected."""
    already = gc.get_freeze_count()  # an app's lifespan in an earlier test may have frozen some
    try:
        before = len(gc.get_objects())
        frozen = freeze_startup_heap()
        assert frozen > already  # (frozen objects can still be freed by reference counting: no exact count)
        assert len(gc.get_objects()) < before / 10  # a full collection now walks almost none of the startup heap
        _Cycle()  # unreachable at once, freed only by the cyclic collector
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()


def test_each_garbage_collection_is_logged_with_its_generation_and_pause(tmp_path: Path) -> None:
    callback = log_gc_pauses(str(tmp_path / "gc"))
    try:
        gc.collect()
        gc.collect(0)
    finally:
        gc.callbacks.remove(callback)
    (log,) = tmp_path.glob("gc.*")
    assert log.name == f"gc.{os.getpid()}"
    lines = [line.split() for line in log.read_text().splitlines()]
    assert [fields[1] for fields in lines][-2:] == ["2", "0"]
    assert all(len(fields) == 4 and float(fields[2]) >= 0 and float(fields[0]) > 0 for fields in lines)
