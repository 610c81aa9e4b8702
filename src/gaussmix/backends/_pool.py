"""The process-wide worker threads, and the two ways passes run on them.

:func:`ordered_results` maps a function over row blocks on threads and yields the
results in block order; :func:`run_everywhere` runs one self-scheduling job (tasks
that threads claim) on every thread at once.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

__all__ = ["ordered_results", "run_everywhere", "shared_pool"]

T = TypeVar("T")

# Worker threads shared by every fit in the process, one pool per size: starting
# threads for each fit cost about half a millisecond apiece, as much as a pass
# over 1e5 rows. ``ordered_results`` uses a pool one thread smaller than the
# blocks it runs at once: the calling thread is the other.
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def shared_pool(workers: int) -> ThreadPoolExecutor:
    """The process-wide pool of ``workers`` threads (created on first use)."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="gaussmix"
            )
        return pool


def _forget_pools() -> None:
    # A forked child inherits the pools but not their threads: start afresh.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def ordered_results(
    fn: Callable[[np.ndarray, np.ndarray | None], T],
    blocks: Iterator[tuple[np.ndarray, np.ndarray | None]],
    workers: int,
) -> Iterator[T]:
    """Yield ``fn(*block)`` for each block, on ``workers`` threads, in block order.

    The threads are the caller and the process-wide pool of ``workers - 1``
    threads (handing every block to a pool and waiting made passes over 1e5 rows
    25-35% slower at D <= 8, K = 3: measured with ``benchmarks/bench_em.py``). At most
    ``2 * workers`` blocks are taken from ``blocks`` ahead of the results
    consumed, so neither the blocks (which a file source reads from disk) nor the
    results pile up.
    """
    if workers <= 1:
        for block in blocks:
            yield fn(*block)
        return
    # The caller is one of the ``workers``: while the block it needs next runs on
    # a pool thread, it runs a later block that no thread has started, rather than
    # sleep (an idle vCPU here takes long to wake).
    pool = shared_pool(workers - 1)
    # [future, block, result]: a block whose future the caller cancelled ran here.
    pending: deque[list] = deque()

    def first_result():
        future, block, result = pending.popleft()
        if future.cancelled():
            return result
        if future.cancel():
            return fn(*block)
        while not future.done():
            later = next(
                (e for e in reversed(pending) if not e[0].cancelled() and e[0].cancel()), None
            )
            if later is None:
                break
            later[2] = fn(*later[1])
        return future.result()

    try:
        for block in blocks:
            pending.append([pool.submit(fn, *block), block, None])
            if len(pending) >= 2 * workers:
                yield first_result()
        while pending:
            yield first_result()
    finally:
        # On an error, don't leave blocks running behind the caller's back.
        for future, *_ in pending:
            future.cancel()


def run_everywhere(work: Callable[[], object], finished: Callable[[], bool], workers: int) -> None:
    """Run ``work`` on ``workers`` threads at once, the caller one of them, until all is done.

    ``work`` claims its own share of a common job (so a thread that starts late,
    or runs slowly, just takes less of it) and returns when nothing is left to
    claim; ``finished`` waits briefly for the shares other threads are still
    running and says whether they ended. Only when they did not does the caller
    wait on the threads themselves, which also raises what they raised.
    """
    if workers <= 1:
        work()
        return
    pool = shared_pool(workers - 1)
    futures = [pool.submit(work) for _ in range(workers - 1)]
    try:
        work()
    finally:
        if not finished():
            for future in futures:
                future.result()
