"""In-memory backend: row blocks of an array, optionally on a thread pool."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .._suffstats import SuffStats
from ._blocks import BlockBackend, estep_arguments
from ._pool import run_everywhere

# Rows x (components + features) per block: about 8 MiB of float64 work space
# for the NumPy kernel, which holds a block's (rows, components) arrays; the
# compiled kernel works through a block in small chunks whatever its size.
_BLOCK_CELLS = 1 << 20
_MIN_BLOCK_ROWS = 256
# Blocks per pass at least: enough for the threads of most machines to share.
# A fixed number, not one per thread, so that the blocks, and so the rounding of
# their merged statistics, are the same on any number of threads.
_MIN_BLOCKS = 16
# Below this much work per pass (rows x components x features) one block on one
# thread is faster: handing blocks to threads costs more than it saves (measured:
# 1.8e5 runs as fast on one thread as on two, 6e5 is 15% faster on two).
_MIN_THREADED_WORK = 300_000


def default_block_size(n_rows: int, n_components: int, n_features: int) -> int:
    """Rows per block for a problem of this shape (whatever the number of threads).

    Blocks hold about ``_BLOCK_CELLS`` cells of work space, and there are at least
    ``_MIN_BLOCKS`` of them, so that threads share the work. Small problems are
    one block.
    """
    if n_rows * n_components * max(n_features, 1) < _MIN_THREADED_WORK:
        return max(int(n_rows), 1)
    rows = max(_BLOCK_CELLS // max(n_components + n_features, 1), _MIN_BLOCK_ROWS)
    n_blocks = max(-(-n_rows // rows), _MIN_BLOCKS)
    return int(max(-(-n_rows // n_blocks), min(_MIN_BLOCK_ROWS, max(n_rows, 1))))


class InMemoryBackend(BlockBackend):
    """Row blocks of an in-memory (or memory-mapped) 2-D array.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    block_size : int
        Rows per block.
    n_threads : int
        Worker threads for the passes whose kernels release the GIL.
    auto_block_size : bool
        ``block_size`` was chosen from the problem's shape, not by the user: a
        kernel that splits the rows into tasks may choose its own task size.
    """

    def __init__(
        self,
        X: np.ndarray,
        sample_weight: np.ndarray | None,
        block_size: int,
        n_threads: int | None = None,
        auto_block_size: bool = False,
    ) -> None:
        self.X = X
        self.auto_block_size = auto_block_size
        super().__init__(sample_weight, block_size, n_threads)

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def in_memory(self) -> bool:
        return True

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Yield ``(X_block, sample_weight_block)`` in row order."""
        for start in range(0, self.n_rows, self.block_size):
            stop = start + self.block_size
            weight = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield self.X[start:stop], weight

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        return np.asarray(self.X[rows]), weight

    def estep(self, kernel, model, params, *, log_volume=None) -> SuffStats:
        """One pass: as tasks that the threads claim when the kernel has them, else blocks.

        A kernel with ``estep_tasks``, on rows that threads may read in place
        (C-contiguous float32 or float64), runs the pass as tasks that the threads
        claim (a slow or late thread takes fewer), and their statistics are summed
        in row order; otherwise blocks run on a thread pool and their statistics
        are merged in row order.
        """
        X = self.shared_rows() if kernel.estep_tasks is not None else None
        if X is not None:
            task_rows = self._task_rows(kernel, model, params.means.shape)
            if task_rows is not None:
                args, extra = estep_arguments(model, params, log_volume)
                tasks = kernel.estep_tasks(
                    X, self.sample_weight, *args, task_rows=task_rows, **extra
                )
                # Every thread, the caller among them, claims tasks until none is
                # left; the caller then waits for the others' last tasks.
                run_everywhere(tasks.run, tasks.wait, min(self.n_threads, tasks.n_tasks))
                n_k, mean_k, scatter_k, log_likelihood = tasks.result()
                return SuffStats(
                    n_k, mean_k, scatter_k, log_likelihood, self.weight_sum, self.n_rows
                )
        return super().estep(kernel, model, params, log_volume=log_volume)

    def _task_rows(self, kernel, model, shape: tuple[int, int]) -> int | None:
        """Rows per task of the E-step (None: run blocks instead)."""
        n_rows = self.n_rows
        if self.block_size >= n_rows:
            return n_rows  # one block: too little work to share between threads
        n_components, n_features = shape
        block_rows = None if self.auto_block_size else self.block_size
        return kernel.task_rows_for(n_rows, n_components, n_features, model.scatter, block_rows)

    def shared_rows(self) -> np.ndarray | None:
        """``X`` itself when threads can read its rows in place (C-contiguous float32/64)."""
        X = self.X
        if X.dtype in (np.float32, np.float64) and X.flags.c_contiguous:
            return X
        return None
