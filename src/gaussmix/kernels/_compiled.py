"""The compiled kernels, the fast twins of :mod:`gaussmix.kernels._numpy`.

The loops are C++ (``native/``, the extension module ``_gaussmix``, built with the
package), compiled once per SIMD target: on x86-64 for AVX-512, for AVX2 with FMA and
for the baseline instruction set, the best one the CPU runs chosen when the module
loads; elsewhere one portable build. Every function releases the GIL.

The E-step processes rows chunk by chunk (1008 rows), each chunk laid out
column-wise (features x rows) so that every inner loop runs across rows in vector
registers: the quadratic forms and log-densities of every component with each row's
maximum, the exponentials of the shifted log-densities (a vectorised ``exp``) with
their row totals, then the responsibilities, soft counts and the sums ``sum r d`` and
``sum r d d^T`` of the differences ``d = x - mean_k`` to the current means. Sums
about the current means add up exactly across chunks; at the end they are re-centred
at the rows' own means, ``W = S - n m m^T``.

For float32 rows the quadratic forms, log-densities and exponentials are float32, as
scikit-learn computes them for float32 data (the log-densities relative to the largest
log normalising constant, so that their rounding follows the size of the quadratic
forms and of the constants' differences); a chunk whose float32 quadratic form
overflows is computed again in float64. For diagonal models so are each chunk's soft
counts and sums (with sample weights, from responsibilities scaled to sum to one, so
that no weight overflows or underflows them); a pass whose float32 diagonal scatter
is all but cancelled by the shift of its means (a far start, repeated rows) is summed
again in float64. Everything else (the full scatter among it), and every sum across
chunks, is float64.

The arithmetic is IEEE (no fast-math). The quadratic forms, exponentials and sums
use fused multiply-adds where the CPU has them, and the sums over rows run in vector
lanes (a fixed order, so a build gives the same numbers on every run): both change
results by rounding alone.

k-means distances are computed one of two ways, whichever is faster for the shape:
column-wise in transposed chunks, or row by row in place, each distance a reduction
across features, when rows are at least twice as wide as the number of centres (row
by row, float32 data are compared in float32, as scikit-learn does).
"""

from __future__ import annotations

import numpy as np

from . import _gaussmix

__all__ = [
    "EstepTasks",
    "candidate_distances",
    "column_variances",
    "cumulative_sum",
    "estep_stats",
    "label_stats",
    "lloyd_step",
    "log_prob_resp",
    "task_rows_for",
]

# Rows per chunk of the compiled loops (kChunkRows in native/common.hpp).
_CHUNK_ROWS = 1008
# Statistics slots of one pass: at most this many tasks, and this many bytes.
_MAX_TASKS = 32
_MAX_SLOT_BYTES = 4 << 20


def _weight(sample_weight) -> np.ndarray | None:
    if sample_weight is None:
        return None
    return np.ascontiguousarray(sample_weight, dtype=np.float64)


def _rows(X) -> np.ndarray:
    """X as C-ordered float32 or float64 rows (other dtypes become float64)."""
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return np.ascontiguousarray(X)


def _precisions(precisions_chol, form: str) -> tuple[np.ndarray, bool]:
    if form not in ("full", "diag"):
        raise ValueError(f"unknown precision form {form!r}; expected 'full' or 'diag'")
    return np.ascontiguousarray(precisions_chol, dtype=np.float64), form == "full"


def task_rows_for(
    n_rows: int, n_components: int, n_features: int, scatter: str, block_rows: int | None = None
) -> int | None:
    """Rows per task of an :class:`EstepTasks` pass over ``n_rows`` rows.

    Without ``block_rows``: a whole number of chunks, for at most ``_MAX_TASKS``
    tasks whose statistics slots take at most ``_MAX_SLOT_BYTES``. It depends on
    the shape alone, not on the thread count, so a fit gives the same numbers on
    any number of threads. With ``block_rows`` (rows per task chosen by the user):
    that, or None when its slots would take more than ``_MAX_SLOT_BYTES`` (the rows
    then run as blocks whose statistics are merged as they come).
    """
    second = n_features if scatter == "full" else 1
    slot_bytes = 8 * (1 + n_components * (1 + n_features + second * n_features))
    if block_rows is not None:
        fits = -(-n_rows // max(block_rows, 1)) * slot_bytes <= _MAX_SLOT_BYTES
        return max(block_rows, 1) if fits else None
    n_tasks = max(1, min(_MAX_TASKS, _MAX_SLOT_BYTES // slot_bytes))
    return max(1, -(-n_rows // (n_tasks * _CHUNK_ROWS))) * _CHUNK_ROWS


class EstepTasks:
    """One pass of the fused E-step over rows, as tasks any number of threads claim.

    Each thread calls :meth:`run` (which releases the GIL): it takes tasks of
    ``task_rows`` rows from an atomic counter until none is left, and each task's
    sums go to a slot of their own. :meth:`wait` waits for the tasks other threads
    took; :meth:`result` sums the slots in task order (so the numbers do not depend
    on how many threads ran, or which ran what) and returns what
    :func:`gaussmix.kernels._numpy.estep_stats` returns for all the rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight, means, precisions_chol, log_norm, form, scatter, log_background
        As for :func:`estep_stats`.
    task_rows : int or None
        Rows per task; None: all the rows in one task.
    """

    def __init__(
        self, X, sample_weight, means, precisions_chol, log_norm, form, scatter,
        log_background=None, task_rows=None,
    ) -> None:  # fmt: skip
        if scatter not in ("full", "diag"):
            raise ValueError(f"unknown scatter kind {scatter!r}; expected 'full' or 'diag'")
        prec, full = _precisions(precisions_chol, form)
        X = _rows(X)
        self._pass = _gaussmix.EstepPass(
            X,
            _weight(sample_weight),
            np.ascontiguousarray(means, dtype=np.float64),
            prec,
            np.ascontiguousarray(log_norm, dtype=np.float64),
            full,
            scatter == "full",
            -np.inf if log_background is None else float(log_background),
            max(int(task_rows or X.shape[0]), 1),
        )
        self.task_rows = self._pass.task_rows
        self.n_tasks = self._pass.n_tasks

    def run(self) -> None:
        """Take and run tasks until none is left (from any thread; GIL released)."""
        self._pass.run()

    def wait(self, max_spins: int = 200_000) -> bool:
        """Wait (spinning, GIL released) for the tasks other threads run; whether all ended.

        False when they were still running after ``max_spins`` spins (a few
        milliseconds): the caller then waits for those threads themselves.
        """
        return self._pass.wait(max_spins)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """``(n_k, mean_k, scatter_k, log_likelihood)`` of all the rows (after every task)."""
        n_k, mean_k, scatter_k, log_likelihood = self._pass.result()
        return n_k, mean_k, scatter_k, float(log_likelihood)


def estep_stats(
    X, sample_weight, means, precisions_chol, log_norm, form, scatter, log_background=None
):
    """Fused twin of :func:`gaussmix.kernels._numpy.estep_stats` (same signature)."""
    tasks = EstepTasks(
        X, sample_weight, means, precisions_chol, log_norm, form, scatter, log_background
    )
    tasks.run()
    return tasks.result()


def log_prob_resp(X, means, precisions_chol, log_norm, form):
    """Fused twin of :func:`gaussmix.kernels._numpy.log_prob_resp` (float64 results).

    A row's numbers do not depend on the rows scored with it (no BLAS product,
    whose rounding can change with the number of rows).
    """
    prec, full = _precisions(precisions_chol, form)
    return _gaussmix.log_prob_resp(
        _rows(X),
        np.ascontiguousarray(means, dtype=np.float64),
        prec,
        np.ascontiguousarray(log_norm, dtype=np.float64),
        full,
    )


def lloyd_step(X, sample_weight, centers):
    """Fused twin of :func:`gaussmix.kernels._numpy.lloyd_step`."""
    return _gaussmix.lloyd_step(
        _rows(X), _weight(sample_weight), np.ascontiguousarray(centers, dtype=np.float64)
    )


def candidate_distances(X, sample_weight, closest, candidates):
    """Fused twin of :func:`gaussmix.kernels._numpy.candidate_distances`."""
    return _gaussmix.candidate_distances(
        _rows(X),
        _weight(sample_weight),
        np.ascontiguousarray(closest, dtype=np.float64),
        np.ascontiguousarray(candidates, dtype=np.float64),
    )


# From this many features, full scatter matrices of hard labels come from one
# BLAS product per label (measured 1.3x faster at 16 features, 2.2x at 32, 4x at
# 64); below, the fused row loop is faster.
_BLAS_SCATTER_FEATURES = 16


def _label_stats_blas(X, sample_weight, labels, n_components):
    """Full-scatter statistics of hard labels, one product per label.

    The block's rows are gathered by label, centred at their label's mean (two
    passes, as in the fused loop), and each label's scatter is ``D^T diag(w) D``.
    float64 rows are multiplied in float64. float32 rows (unweighted) are centred
    and multiplied in float32, as scikit-learn computes their statistics (2.2x
    faster at 64 features); their means are float64 sums, and the scatter is moved
    from the float32-rounded mean to the exact one.
    """
    labels = np.asarray(labels, dtype=np.intp)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_components + 1))
    single = X.dtype == np.float32 and sample_weight is None
    # Gathered in X's dtype, then widened: 4-5x faster than widening the block
    # first and gathering float64 rows (a second full-size copy).
    rows_by_label = np.take(X, order, axis=0)
    if not single:
        rows_by_label = rows_by_label.astype(np.float64, copy=False)
    weight = None if sample_weight is None else np.asarray(sample_weight, np.float64)[order]
    n_features = X.shape[1]
    n_k = np.zeros(n_components)
    mean_k = np.zeros((n_components, n_features))
    scatter_k = np.zeros((n_components, n_features, n_features))
    for j in range(n_components):
        rows = rows_by_label[bounds[j] : bounds[j + 1]]
        if rows.shape[0] == 0:
            continue
        if weight is None:
            n_k[j] = rows.shape[0]
            mean_k[j] = rows.sum(axis=0, dtype=np.float64) / n_k[j]
        else:
            w = weight[bounds[j] : bounds[j + 1]]
            n_k[j] = w.sum()
            if n_k[j] <= 0:
                continue
            mean_k[j] = (w @ rows) / n_k[j]
        centre = mean_k[j].astype(rows.dtype)
        rows -= centre
        product = rows.T @ rows if weight is None else (rows * w[:, None]).T @ rows
        product = product.astype(np.float64, copy=False)
        if single:
            shift = mean_k[j] - centre
            product -= n_k[j] * np.outer(shift, shift)
        # Exactly symmetric, as the fused loop's mirrored triangle is.
        scatter_k[j] = np.triu(product) + np.triu(product, 1).T
    return n_k, mean_k, scatter_k


def label_stats(X, sample_weight, labels, n_components, scatter):
    """Fused twin of :func:`gaussmix.kernels._numpy.label_stats`."""
    if scatter not in ("full", "diag"):
        raise ValueError(f"unknown scatter kind {scatter!r}; expected 'full' or 'diag'")
    full = scatter == "full"
    X = _rows(X)
    if full and X.shape[1] >= _BLAS_SCATTER_FEATURES:
        return _label_stats_blas(X, sample_weight, labels, n_components)
    n_k, mean_k, second = _gaussmix.label_stats(
        X,
        _weight(sample_weight),
        np.ascontiguousarray(labels, dtype=np.int64),
        int(n_components),
        full,
    )
    if full:
        return n_k, mean_k, second + np.swapaxes(np.triu(second, 1), 1, 2)
    return n_k, mean_k, second[:, 0, :]


def column_variances(X):
    """Fused twin of :func:`gaussmix.kernels._numpy.column_variances`."""
    return _gaussmix.column_variances(_rows(X))


def cumulative_sum(values):
    """Fused twin of :func:`gaussmix.kernels._numpy.cumulative_sum`.

    Left to right, one addition per value (no reassociation): bit-identical to
    ``np.cumsum``, whose draws k-means++ must reproduce.
    """
    return _gaussmix.cumulative_sum(np.ascontiguousarray(values, dtype=np.float64))
