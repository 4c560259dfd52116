"""The batches of ``aster dev ID provision --count`` and the pipeline that makes the next one
while the last registers (:mod:`.provisioning` does the work of each).

``prepare(job)`` returns what a batch is once made; anything with ``written`` (the bundle files
it wrote), which leaving the pipeline deletes for a batch made but never handed out.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

#: the interpreter's switch interval while a batch is made beside a registration (:class:`Pipeline`)
SWITCH_INTERVAL = 0.0005


def batches_of(total: int, step: int) -> list[range]:
    """The registration calls of ``total`` new devices: ``step`` each, but a quarter of it and then
    half of it first, so that the first call leaves early (nothing else runs while the first batch
    is made) and the next batch, larger, is made while it registers."""
    sizes, start = [], 0
    for size in (max(1, step // 4), max(1, step // 2)):
        if total - start > step:
            sizes.append(size)
            start += size
    sizes += [step] * ((total - start) // step)
    if sum(sizes) < total:
        sizes.append(total - sum(sizes))
    bounds = [0]
    for size in sizes:
        bounds.append(bounds[-1] + size)
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]


class Pipeline:
    """``prepare(job)`` for each job in order, one job ahead of the caller, on one thread.

    Iterating yields each prepared batch once the caller is done with the previous one, so the
    next batch's keys, bundles and signatures are made while the authority checks the last one
    (a queue of one: at most two batches' keys are in memory). On leaving, a batch prepared but
    never handed out is undone: its bundles are deleted, since nothing of it was sent."""

    def __init__(self, prepare: Callable[[Any], Any], jobs: list[Any]):
        self._prepare, self._jobs = prepare, jobs
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="aster-provision")
        self._ahead: Any = None

    def __iter__(self) -> Iterator[Any]:
        for n in range(len(self._jobs)):
            if self._ahead is None:
                self._ahead = self._pool.submit(self._prepare, self._jobs[n])
            ready = self._ahead.result()  # until it is handed out, leaving undoes it
            self._ahead = None
            if n + 1 < len(self._jobs):
                self._ahead = self._pool.submit(self._prepare, self._jobs[n + 1])
            yield ready

    def __enter__(self) -> "Pipeline":
        _shorter_switches(+1)
        if self._jobs:  # the first job starts now: the caller may ask the network meanwhile
            self._ahead = self._pool.submit(self._prepare, self._jobs[0])
        return self

    def __exit__(self, *exc: Any) -> None:
        ahead, self._ahead = self._ahead, None
        try:
            if ahead is not None and not ahead.cancel():
                try:
                    unsent = ahead.result()
                except BaseException:  # noqa: BLE001 - its own failure removed what it wrote
                    unsent = None
                for path in unsent.written if unsent else ():
                    path.unlink(missing_ok=True)
        finally:
            self._pool.shutdown(wait=True)
            _shorter_switches(-1)


_switches = threading.Lock()
_running: list[float] = []  # the interval before the first pipeline, while any runs


def _shorter_switches(step: int) -> None:
    """The interpreter's switch interval is :data:`SWITCH_INTERVAL` while any pipeline runs (the
    caller's thread and the event loop's wait on the network while a pipeline computes: each of
    their wake-ups would otherwise wait up to the usual 5 ms), and what it was once none does."""
    with _switches:
        if step > 0:
            _running.append(sys.getswitchinterval() if not _running else _running[0])
            sys.setswitchinterval(min(_running[0], SWITCH_INTERVAL))
        else:
            before = _running.pop()
            if not _running:
                sys.setswitchinterval(before)
