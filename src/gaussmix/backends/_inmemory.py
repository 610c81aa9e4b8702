"""In-memory backend: row blocks of an array, optionally on a thread pool."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# Rows x (components + features) per block: about 2 MiB of float64 work space,
# small enough to stay in cache between the kernel's two sweeps over a block.
_BLOCK_CELLS = 1 << 18
_MIN_BLOCK_ROWS = 256


def ordered_map(
    fn: Callable[[np.ndarray, np.ndarray | None], T],
    blocks: Iterator[tuple[np.ndarray, np.ndarray | None]],
    workers: int,
) -> list[T]:
    """``[fn(*block) for block in blocks]``, on ``workers`` threads, in block order.

    At most ``2 * workers`` blocks are taken from ``blocks`` ahead of the results,
    so a source that reads its blocks from disk never holds more than that.
    """
    if workers <= 1:
        return [fn(*block) for block in blocks]
    results: list[T] = []
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for block in blocks:
            pending.append(pool.submit(fn, *block))
            if len(pending) >= 2 * workers:
                results.append(pending.popleft().result())
        results.extend(future.result() for future in pending)
    return results


def default_block_size(
    n_rows: int, n_components: int, n_features: int, n_threads: int | None = None
) -> int:
    """Rows per block for a problem of this shape.

    Blocks hold about ``_BLOCK_CELLS`` cells of work space, and there are at least
    four per thread, in a multiple of the thread count, so threads finish together.
    """
    n_threads = n_threads or os.cpu_count() or 1
    rows = max(_BLOCK_CELLS // max(n_components + n_features, 1), _MIN_BLOCK_ROWS)
    n_blocks = max(-(-n_rows // rows), 4 * n_threads)
    n_blocks = -(-n_blocks // n_threads) * n_threads
    return int(max(-(-n_rows // n_blocks), min(_MIN_BLOCK_ROWS, max(n_rows, 1))))


class InMemoryBackend:
    """Row blocks of an in-memory (or memory-mapped) 2-D array.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    block_size : int
        Rows per block.
    n_threads : int
        Worker threads for :meth:`map` when the work releases the GIL.
    """

    def __init__(
        self,
        X: np.ndarray,
        sample_weight: np.ndarray | None,
        block_size: int,
        n_threads: int | None = None,
    ) -> None:
        self.X = X
        self.sample_weight = sample_weight
        self.block_size = int(block_size)
        self.n_threads = n_threads or os.cpu_count() or 1

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def weight_sum(self) -> float:
        """Total sample weight (the number of rows when unweighted)."""
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Yield ``(X_block, sample_weight_block)`` in row order."""
        for start in range(0, self.n_rows, self.block_size):
            stop = start + self.block_size
            weight = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield self.X[start:stop], weight

    def map(
        self, fn: Callable[[np.ndarray, np.ndarray | None], T], *, threads: bool = False
    ) -> list[T]:
        """Apply ``fn`` to every block; results come back in row order.

        With ``threads=True`` blocks run on a thread pool (for kernels that release
        the GIL). The order of results, and so of any merge, does not depend on the
        number of threads.
        """
        n_blocks = -(-self.n_rows // self.block_size)
        workers = min(self.n_threads, n_blocks) if threads else 1
        return ordered_map(fn, self.blocks(), workers)
