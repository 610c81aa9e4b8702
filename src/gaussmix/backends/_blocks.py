"""Backends whose passes go over row blocks in order: the in-memory and chunked ones."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TypeVar

import numpy as np

from .._suffstats import SuffStats
from .._threads import get_num_threads
from ._base import Backend
from ._pool import ordered_results

T = TypeVar("T")


def estep_arguments(model, params, log_volume: float | None) -> tuple[tuple, dict]:
    """The kernel's E-step arguments after the rows and weights: positional and keyword."""
    n_components, n_features = params.means.shape
    precisions = model.kernel_precisions(params.precisions_chol, n_components, n_features)
    log_norm = params.log_norm(model)
    extra = {}
    if log_volume is not None:
        extra["log_background"] = params.log_background(log_volume)
    return (params.means, precisions, log_norm, model.form, model.scatter), extra


def block_stats(kernel_stats, X_block, w_block, *args, **kwargs) -> SuffStats:
    """A block's statistics from a kernel returning ``(n_k, mean_k, scatter_k[, loglik])``."""
    n_k, mean_k, scatter_k, *log_likelihood = kernel_stats(X_block, w_block, *args, **kwargs)
    weight_sum = float(X_block.shape[0] if w_block is None else np.sum(w_block))
    return SuffStats(
        n_k, mean_k, scatter_k, log_likelihood[0] if log_likelihood else 0.0,
        weight_sum, X_block.shape[0],
    )  # fmt: skip


class BlockBackend(Backend):
    """Row blocks with their sample weights; subclasses provide ``blocks``, ``n_rows``,
    ``n_features`` and ``take``.

    Every pass runs ``ordered_results`` over the blocks (on up to ``n_threads``
    threads for kernels that release the GIL) and merges the blocks' statistics in
    row order, so the outcome does not depend on the number of threads.

    Attributes
    ----------
    sample_weight : ndarray of shape (n_rows,) or None
    block_size : int
    n_threads : int
    """

    def __init__(
        self, sample_weight: np.ndarray | None, block_size: int, n_threads: int | None
    ) -> None:
        self.sample_weight = sample_weight
        self.block_size = int(block_size)
        self.n_threads = n_threads or get_num_threads()

    @cached_property
    def weight_sum(self) -> float:
        """Total sample weight (the number of rows when unweighted)."""
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    @abstractmethod
    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Yield ``(X_block, sample_weight_block)`` in row order."""

    def map_reduce(
        self,
        fn: Callable[[np.ndarray, np.ndarray | None], T],
        combine: Callable[[T, T], T],
        *,
        threads: bool = False,
    ) -> T:
        """``combine`` the results of ``fn`` on every block, left to right in row order.

        With ``threads=True`` blocks run on up to ``n_threads`` threads (for kernels
        that release the GIL). Results are combined as they arrive, in row order, so
        the outcome does not depend on the number of threads and memory holds only
        a few blocks' results at a time.
        """
        n_blocks = -(-self.n_rows // self.block_size)
        workers = min(self.n_threads, n_blocks) if threads else 1
        total = None
        for result in ordered_results(fn, self.blocks(), workers):
            total = result if total is None else combine(total, result)
        if total is None:
            raise ValueError("no rows to reduce")
        return total

    def estep(self, kernel, model, params, *, log_volume=None) -> SuffStats:
        """One pass: the kernel's E-step on every block, merged in row order."""
        args, extra = estep_arguments(model, params, log_volume)

        def stats(X_block, w_block):
            return block_stats(kernel.estep_stats, X_block, w_block, *args, **extra)

        return self.map_reduce(stats, SuffStats.merge, threads=kernel.releases_gil)

    def label_stats(self, kernel, labels, n_components, scatter) -> SuffStats:
        """Statistics of hard labels, block by block on the backend's threads."""
        labels = np.asarray(labels)

        def stats(X_block, w_block, labels_block):
            return block_stats(
                kernel.label_stats, X_block, w_block, labels_block, n_components, scatter
            )

        def blocks():
            start = 0
            for X_block, w_block in self.blocks():
                stop = start + X_block.shape[0]
                yield X_block, w_block, labels[start:stop]
                start = stop

        workers = self.n_threads if kernel.releases_gil else 1
        return SuffStats.merge_all(ordered_results(stats, blocks(), workers))

    def moments(self, kernel) -> SuffStats:
        """Every row in one component: one pass, the NumPy statistics of each block."""

        def stats(X_block, w_block):
            ones = np.ones((X_block.shape[0], 1))
            return block_stats(kernel.resp_stats, X_block, w_block, ones, "diag")

        return self.map_reduce(stats, SuffStats.merge)

    def map_rows(self, fn, *, dtype=None) -> np.ndarray:
        """``fn`` of each block in turn, written into one array (no list of blocks held)."""
        out = None
        start = 0
        for X_block, _ in self.blocks():
            result = fn(X_block)
            if out is None:
                out = np.empty((self.n_rows, *result.shape[1:]), dtype or result.dtype)
            stop = start + result.shape[0]
            out[start:stop] = result
            start = stop
        if out is None:
            raise ValueError("no rows to map")
        return out
