"""Where the rows of a fit live and how passes over them run; chosen once, at the edge of ``fit``.

:class:`Backend` is the interface (see its module for the design); :func:`resolve`
picks the backend for the data.
"""

from __future__ import annotations

from .._threads import thread_limit
from ..io import DataSource
from ._base import Backend
from ._chunked import ChunkedBackend
from ._dask import (
    DaskBackend,
    DaskRows,
    checked_weight,
    dask_rows,
    is_dask_collection,
    weighted_sums,
)
from ._inmemory import InMemoryBackend, default_block_size
from ._pool import ordered_results

__all__ = [
    "Backend",
    "ChunkedBackend",
    "DaskBackend",
    "DaskRows",
    "InMemoryBackend",
    "checked_weight",
    "dask_rows",
    "default_block_size",
    "is_dask_collection",
    "ordered_results",
    "resolve",
    "thread_limit",
    "weighted_sums",
]


def resolve(X, sample_weight, *, n_components: int, block_size: int | None = None) -> Backend:
    """Return the backend for validated data ``X`` (n_samples, n_features).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), DataSource or DaskRows
        A :class:`~gaussmix.io.DataSource` is read block by block on every pass; the
        rows of a Dask collection (:func:`dask_rows`) run as one graph per pass.
    sample_weight : ndarray of shape (n_samples,) or None
        For :class:`DaskRows`, a Dask array chunked like the rows (:func:`checked_weight`).
    n_components : int
        Used to size the default blocks.
    block_size : int or None
        Rows per block; None picks a size from the problem's shape.
    """
    if isinstance(X, DataSource):
        return ChunkedBackend(X, sample_weight, block_size or X.block_rows)
    if isinstance(X, DaskRows):
        # The block size of the start's sample, gathered into memory: that of the
        # same rows in memory, so the sample's statistics are rounded alike.
        block_size = block_size or default_block_size(X.shape[0], n_components, X.shape[1])
        return DaskBackend(X.array, sample_weight, block_size)
    auto = block_size is None
    if auto:
        block_size = default_block_size(X.shape[0], n_components, X.shape[1])
    return InMemoryBackend(X, sample_weight, block_size, auto_block_size=auto)
