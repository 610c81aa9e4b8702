"""What every backend offers: row blocks in order, and an ordered map over them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")


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


class BlockBackend:
    """Row blocks with their sample weights; subclasses provide ``blocks`` and ``n_rows``.

    Attributes
    ----------
    sample_weight : ndarray of shape (n_rows,) or None
    block_size : int
    n_threads : int
    """

    sample_weight: np.ndarray | None
    block_size: int
    n_threads: int

    @property
    def n_rows(self) -> int:
        raise NotImplementedError

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Yield ``(X_block, sample_weight_block)`` in row order."""
        raise NotImplementedError

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows at sorted indices ``rows``, as an in-memory array."""
        raise NotImplementedError

    @property
    def weight_sum(self) -> float:
        """Total sample weight (the number of rows when unweighted)."""
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    def map(
        self, fn: Callable[[np.ndarray, np.ndarray | None], T], *, threads: bool = False
    ) -> list[T]:
        """Apply ``fn`` to every block; results come back in row order.

        With ``threads=True`` blocks run on up to ``n_threads`` threads (for kernels
        that release the GIL). The order of results, and so of any merge, does not
        depend on the number of threads.
        """
        n_blocks = -(-self.n_rows // self.block_size)
        workers = min(self.n_threads, n_blocks) if threads else 1
        return ordered_map(fn, self.blocks(), workers)
