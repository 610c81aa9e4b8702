"""Chunked backend: one sequential read of a data source per pass."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..io import DataSource
from ._blocks import BlockBackend


class ChunkedBackend(BlockBackend):
    """Row blocks read from a :class:`~gaussmix.io.DataSource` on every pass.

    Blocks are read in file order; the kernel runs on up to ``n_threads`` of them
    at once while the next are read, and at most ``2 * n_threads`` are in memory.

    Parameters
    ----------
    source : DataSource
    sample_weight : ndarray of shape (n_rows,) or None
    block_size : int
        Rows per block read.
    n_threads : int or None
    """

    def __init__(
        self,
        source: DataSource,
        sample_weight: np.ndarray | None,
        block_size: int,
        n_threads: int | None = None,
    ) -> None:
        self.source = source
        super().__init__(sample_weight, block_size, n_threads)

    @property
    def n_rows(self) -> int:
        return self.source.n_rows

    @property
    def n_features(self) -> int:
        return self.source.n_features

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Yield ``(X_block, sample_weight_block)`` in row order."""
        start = 0
        for block in self.source.blocks(self.block_size):
            stop = start + block.shape[0]
            weight = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield block, weight
            start = stop

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        return self.source.read_rows(rows), weight
