"""Dask backend: the rows of a fit are a Dask array or DataFrame, chunked by rows.

Every pass is one small graph on the rows' own graph: a task per row chunk runs a
kernel on the chunk (the parameters travel as one task argument that the chunk
tasks depend on), the chunks' :class:`SuffStats` are merged in chunk order by a tree
of merge tasks, and one ``compute`` returns the merged statistics. The client holds
statistics and the start's sample of rows, never the data. It runs on the current
``distributed.Client`` when there is one, on Dask's default scheduler otherwise.

Nothing is kept on the workers between passes: a lost worker's chunks are recomputed
from the graph (from the data's source when the array is not persisted), so a lost
worker changes nothing in the result. Each task runs the kernels on one thread (the
workers' threads are the one level of parallelism).

Dask is imported only when a Dask collection is met: :func:`is_dask_collection` looks
at the object's type without importing anything.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import _validation as check
from .._suffstats import SuffStats
from .._threads import get_num_threads, thread_limit
from ..kernels import get_kernel
from ._base import Backend
from ._blocks import block_stats, estep_arguments

__all__ = [
    "DaskBackend",
    "DaskRows",
    "dask_rows",
    "dask_weight",
    "is_dask_collection",
    "weighted_sums",
]

# Statistics merged per task of the tree reduction (Dask's own default fan-in).
_SPLIT_EVERY = 8
# The most bytes of one chunk when column chunks are joined into one: larger row
# chunks of all the columns are left to the user (``X.rechunk``), who knows the
# workers' memory.
_MAX_JOINED_CHUNK_BYTES = 256 * 2**20


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a Dask collection (array, DataFrame, Series) or :class:`DaskRows`.

    Looks at the object's type, without importing Dask.
    """
    if isinstance(obj, DaskRows):
        return True
    module = type(obj).__module__ or ""
    return module.split(".")[0] in ("dask", "dask_expr") and hasattr(obj, "__dask_graph__")


@dataclass(frozen=True)
class DaskRows:
    """A validated 2-D Dask array of rows, chunked by rows only, and its feature names.

    Attributes
    ----------
    array : dask.array.Array of shape (n_rows, n_features)
        float32 or float64, known row chunks, one chunk along the columns.
    feature_names : ndarray of shape (n_features,) or None
        String column names of a DataFrame.
    """

    array: object
    feature_names: np.ndarray | None = None
    values_checked: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(int(n) for n in self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def n_rows(self) -> int:
        return int(self.array.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.array.shape[1])

    @property
    def row_chunks(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.array.chunks[0])

    def checked(self) -> DaskRows:
        """These rows, their values checked (one pass over them unless done before).

        Raises ValueError on NaN, infinity or values whose squares overflow.
        """
        if self.values_checked:
            return self
        self.check_values()
        return dataclasses.replace(self, values_checked=True)

    def check_values(self) -> None:
        """One pass over the rows: raise ValueError on NaN, infinity or overflowing values."""
        import dask

        smallest, largest = dask.compute(self.array.min(), self.array.max())
        extremes = np.array([smallest, largest], dtype=self.dtype)
        if not np.all(np.isfinite(extremes)):
            raise ValueError(
                "Input X contains NaN or infinity (found by a pass over the Dask "
                "collection); drop or impute those rows before fitting."
            )
        check.check_magnitude(extremes)


def dask_rows(X) -> DaskRows:
    """Validate a Dask array or DataFrame as rows for a fit or a prediction.

    Lazy but for what Dask must compute to know the rows: a DataFrame's partition
    lengths, or an array's unknown chunk sizes. Integer and boolean data become
    float64; float32 stays float32. Column chunks are joined into one when the
    joined chunks stay small, else refused with the fix.

    Parameters
    ----------
    X : dask.array.Array, dask.dataframe.DataFrame or DaskRows
        Of shape (n_samples, n_features); DaskRows are returned as they are.

    Returns
    -------
    rows : DaskRows
    """
    if isinstance(X, DaskRows):
        return X
    feature_names = None
    if hasattr(X, "columns") and hasattr(X, "to_dask_array"):
        columns = list(X.columns)
        bad = [name for name, dtype in X.dtypes.items() if not _is_real(dtype)]
        if bad:
            raise ValueError(
                f"The Dask DataFrame has non-numeric columns {bad}; select the numeric "
                "feature columns (X[[...]]) before fitting."
            )
        if columns and all(isinstance(name, str) for name in columns):
            feature_names = np.asarray(columns, dtype=object)
        array = X.to_dask_array(lengths=True)
    elif hasattr(X, "to_dask_array"):
        raise ValueError(
            "Expected a 2-D Dask array or DataFrame, got a Dask Series; use "
            "series.to_frame() for a single feature."
        )
    else:
        array = X
    if array.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array, got {array.ndim} dimension(s) of shape "
            f"{array.shape}; reshape it to (n_samples, n_features)."
        )
    if not _is_real(array.dtype):
        raise ValueError(
            f"X has dtype {array.dtype}; a mixture needs real numbers (float32, float64, "
            "integers or booleans)."
        )
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if any(np.isnan(n) for n in array.shape):
        array = array.compute_chunk_sizes()
    if array.shape[1] < 1:
        raise ValueError("X has 0 features; a mixture needs at least one.")
    if len(array.chunks[1]) > 1:
        joined = max(array.chunks[0]) * array.shape[1] * array.dtype.itemsize
        if joined > _MAX_JOINED_CHUNK_BYTES:
            raise ValueError(
                f"X is chunked along its columns (chunks {array.chunks[1]}) and joining "
                f"them would make chunks of {joined / 2**20:.0f} MiB; rechunk it by rows "
                "with every column in each chunk, e.g. X.rechunk({0: 100_000, 1: -1})."
            )
        array = array.rechunk({1: -1})
    return DaskRows(array, feature_names)


def _is_real(dtype) -> bool:
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return False
    return kind in "fiub"


def dask_weight(sample_weight, row_chunks: Sequence[int]):
    """``sample_weight`` as a float64 Dask array chunked like the rows (lazy, unchecked).

    Accepts a Dask array or Series, an array-like, or a scalar (every row that weight).
    """
    import dask.array as da

    n_rows = int(sum(row_chunks))
    chunks = (tuple(row_chunks),)
    if is_dask_collection(sample_weight):
        weight = sample_weight
        if hasattr(weight, "to_dask_array"):
            weight = weight.to_dask_array(lengths=True)
        if weight.ndim != 1 or weight.shape[0] != n_rows:
            raise ValueError(
                f"sample_weight must have shape ({n_rows},), one weight per row of X; "
                f"got shape {weight.shape}."
            )
        if not _is_real(weight.dtype):
            raise ValueError(
                f"sample_weight must hold numbers, one per row of X; got dtype {weight.dtype}."
            )
        weight = weight.astype(np.float64)
        return weight if weight.chunks == chunks else weight.rechunk(chunks)
    values = check.float_weights(sample_weight, n_rows)
    if values.ndim == 0:
        return da.full(n_rows, float(values), chunks=chunks)
    return da.from_array(values, chunks=chunks)


def _weight_summary(weight) -> list:
    """Lazy ``[non-finite count, negative count, smallest, positive count]`` of a weight."""
    finite = (weight - weight) == 0
    return [
        (~finite).sum(),
        (weight < 0).sum(),
        weight.min(),
        (weight > 0).sum(),
    ]


def weighted_sums(columns: Sequence, sample_weight, n_components: int = 1):
    """``(n, [sum_i w_i c_i for each column c])`` of lazy 1-D arrays, in one compute.

    Parameters
    ----------
    columns : sequence of dask.array.Array of shape (n_rows,)
        Chunked alike.
    sample_weight : Dask array or Series, array-like, scalar or None
        Checked as :func:`gaussmix._validation.check_weight_summary` checks weights,
        with the sums (one pass over the rows).
    n_components : int
        Rows of positive weight needed.

    Returns
    -------
    n : float
        The number of rows, or the sum of the weights.
    sums : list of float
        Accumulated in float64.
    """
    import dask

    columns = [column.astype(np.float64) for column in columns]
    if sample_weight is None:
        sums = dask.compute(*(column.sum() for column in columns))
        return float(columns[0].shape[0]), [float(s) for s in sums]
    weight = dask_weight(sample_weight, columns[0].chunks[0])
    *summary, total, sums = dask.compute(
        *_weight_summary(weight), weight.sum(), [(weight * c).sum() for c in columns]
    )
    check.check_weight_summary(*summary, n_components)
    return float(total), [float(s) for s in sums]


def checked_weight(sample_weight, row_chunks: Sequence[int], n_components: int):
    """A fit's ``sample_weight`` as a Dask array chunked like the rows, checked.

    One pass over the weights (not the rows) checks them as in-memory weights are
    checked; None stays None.
    """
    import dask

    if sample_weight is None:
        return None
    weight = dask_weight(sample_weight, row_chunks)
    check.check_weight_summary(*dask.compute(*_weight_summary(weight)), n_components)
    return weight


# ---------------------------------------------------------------- chunk tasks
# Module-level functions: tasks reach the workers by reference, with their
# arguments; nothing else is set up there. ``shared`` is what every chunk's task
# of a pass takes (the kernel's name first, then the parameters).


def _estep_chunk(X_chunk, w_chunk, shared) -> SuffStats:
    kernel_name, (args, extra) = shared
    with thread_limit(1):
        kernel = get_kernel(kernel_name)
        return block_stats(kernel.estep_stats, X_chunk, w_chunk, *args, **extra)


def _label_chunk(X_chunk, w_chunk, shared, labels) -> SuffStats:
    kernel_name, n_components, scatter = shared
    with thread_limit(1):
        kernel = get_kernel(kernel_name)
        return block_stats(kernel.label_stats, X_chunk, w_chunk, labels, n_components, scatter)


def _moments_chunk(X_chunk, w_chunk, shared) -> SuffStats:
    (kernel_name,) = shared
    with thread_limit(1):
        kernel = get_kernel(kernel_name)
        ones = np.ones((X_chunk.shape[0], 1))
        return block_stats(kernel.resp_stats, X_chunk, w_chunk, ones, "diag")


def _take_chunk(X_chunk, w_chunk, local_rows):
    weight = None if w_chunk is None else np.asarray(w_chunk)[local_rows]
    return np.asarray(X_chunk)[local_rows], weight


def _merge(*parts: SuffStats) -> SuffStats:
    return SuffStats.merge_all(parts)


def _map_chunk(X_chunk, fn, dtype):
    with thread_limit(1):
        result = np.asarray(fn(X_chunk))
    return result if dtype is None else result.astype(dtype, copy=False)


class DaskBackend(Backend):
    """Rows in a Dask array chunked by rows; every pass is one graph and one ``compute``.

    Parameters
    ----------
    X : dask.array.Array of shape (n_rows, n_features)
        Chunked by rows only (see :func:`dask_rows`).
    sample_weight : dask.array.Array of shape (n_rows,) or None
        Chunked like the rows (see :func:`checked_weight`).
    block_size : int
        Rows per block of the start's sample, held in memory on the client.
    n_threads : int or None
        Threads of the start on the client.
    """

    def __init__(self, X, sample_weight, block_size: int, n_threads: int | None = None) -> None:
        self.X = X
        self.sample_weight = sample_weight
        self.block_size = int(block_size)
        self.n_threads = n_threads or get_num_threads()

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @cached_property
    def weight_sum(self) -> float:
        """Total sample weight (one pass over the weights)."""
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(self.sample_weight.sum().compute())

    @cached_property
    def _row_bounds(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.X.chunks[0])]).astype(np.int64)

    @cached_property
    def _chunks(self) -> list:
        """``(X_chunk, w_chunk)`` per row chunk, as Delayed objects (w_chunk None unweighted)."""
        X_chunks = self.X.to_delayed().ravel().tolist()
        if self.sample_weight is None:
            return [(chunk, None) for chunk in X_chunks]
        w_chunks = self.sample_weight.to_delayed().ravel().tolist()
        return list(zip(X_chunks, w_chunks, strict=True))

    def _reduce(self, fn: Callable, *args, per_chunk: Sequence | None = None) -> SuffStats:
        """``fn(X_chunk, w_chunk, args[, per_chunk[i]])`` on every chunk, tree-merged in order.

        ``args`` are packed into one Delayed object, so they travel to each worker
        once per pass as one key that the chunk tasks depend on.
        """
        import dask

        shared = dask.delayed(args, pure=True, traverse=False)
        task = dask.delayed(fn, pure=True)
        parts = []
        for index, (X_chunk, w_chunk) in enumerate(self._chunks):
            extra = () if per_chunk is None else (per_chunk[index],)
            parts.append(task(X_chunk, w_chunk, shared, *extra))
        merge = dask.delayed(_merge, pure=True)
        while len(parts) > 1:
            parts = [
                merge(*parts[start : start + _SPLIT_EVERY])
                for start in range(0, len(parts), _SPLIT_EVERY)
            ]
        (stats,) = dask.compute(parts[0])
        return stats

    def estep(self, kernel, model, params, *, log_volume=None) -> SuffStats:
        """One pass: the kernel's E-step on every chunk, merged by a tree of tasks."""
        return self._reduce(_estep_chunk, kernel.name, estep_arguments(model, params, log_volume))

    def label_stats(self, kernel, labels, n_components, scatter) -> SuffStats:
        """Statistics of hard labels; the labels go to the workers split like the rows."""
        labels = np.asarray(labels)
        bounds = self._row_bounds
        pieces = [labels[start:stop] for start, stop in itertools.pairwise(bounds)]
        return self._reduce(_label_chunk, kernel.name, n_components, scatter, per_chunk=pieces)

    def moments(self, kernel) -> SuffStats:
        """Every row in one component: one pass of NumPy statistics per chunk."""
        return self._reduce(_moments_chunk, kernel.name)

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows at sorted indices ``rows``: selected on the workers, gathered here."""
        import dask

        rows = np.asarray(rows, dtype=np.int64)
        bounds = self._row_bounds
        # rows is sorted: the rows of chunk c lie between these positions.
        edges = np.searchsorted(rows, bounds)
        task = dask.delayed(_take_chunk, pure=True)
        parts = []
        for chunk, (X_chunk, w_chunk) in enumerate(self._chunks):
            local = rows[edges[chunk] : edges[chunk + 1]] - bounds[chunk]
            if local.size:
                parts.append(task(X_chunk, w_chunk, local))
        (gathered,) = dask.compute(parts)
        if not gathered:
            return np.empty((0, self.n_features), self.X.dtype), (
                None if self.sample_weight is None else np.empty(0)
            )
        X_rows = np.concatenate([X_part for X_part, _ in gathered])
        if self.sample_weight is None:
            return X_rows, None
        return X_rows, np.concatenate([w_part for _, w_part in gathered])

    def map_rows(self, fn, *, dtype=None):
        """``fn`` on every chunk as ``map_blocks``: a lazy Dask array, nothing computed.

        ``fn`` runs once here on one row of zeros to learn the shape of its results.
        """
        probe = np.asarray(fn(np.zeros((1, self.n_features), self.X.dtype)))
        out_dtype = np.dtype(dtype) if dtype is not None else probe.dtype
        meta = np.empty((0,) * probe.ndim, out_dtype)
        if probe.ndim == 1:
            return self.X.map_blocks(
                _map_chunk, fn, out_dtype, drop_axis=1, dtype=out_dtype, meta=meta
            )
        trailing = tuple((n,) for n in probe.shape[1:])
        return self.X.map_blocks(
            _map_chunk,
            fn,
            out_dtype,
            chunks=(self.X.chunks[0], *trailing),
            dtype=out_dtype,
            meta=meta,
        )
