"""Fused numba kernels for k-means: Lloyd passes, k-means++ candidates, statistics.

Twins of the functions of the same names in :mod:`gaussmix.kernels._numpy` (same
signatures). Distances are computed one of two ways, whichever is faster for the
shape (see ``_by_rows``): column-wise in transposed chunks, as in
:mod:`gaussmix.kernels._numba`, so the inner loops run across rows; or row by
row in place, each distance a reduction across features, when rows are at least
twice as wide as the number of centres. Row by row, float32 data are compared in
float32 (as scikit-learn does); sums and accumulators are float64 throughout.
"""

from __future__ import annotations

import numba
import numpy as np

from ._transpose import transpose8

__all__ = [
    "candidate_distances",
    "column_variances",
    "cumulative_sum",
    "label_stats",
    "lloyd_step",
]

_JIT = {"nogil": True, "cache": True, "nopython": True}
# Reductions may be reassociated (and so vectorised), like BLAS's dot products.
_REDUCE = {**_JIT, "fastmath": {"reassoc", "contract"}}
# Rows per chunk: not a power of two, so that rows of a transposed chunk
# (features x rows) do not all map to one set of the L1 cache.
_CHUNK_ROWS = 1008


@numba.jit(**_JIT)
def transpose_rows(X, start, n_rows, Xt):
    """``Xt[:, :n_rows] = X[start:start + n_rows].T`` in the dtype of ``Xt``.

    From 8 features: 8 x 8 blocks transposed in vector registers (``transpose8``),
    2.5-3x faster than value by value for C-contiguous rows; the features
    past the last multiple of 8, and the last rows, value by value. With
    ``_CHUNK_ROWS`` (not a power of two) rows per chunk, the 8 output rows of a
    block do not fall in one set of the L1 cache (at 1024 rows, 4 KiB apart, they
    did, and evicted each other: the blocks were then no faster).

    Fewer features: 3-7 features eight rows at a time (eight contiguous values
    written per feature: 0.4-0.8 ns per value); one or two a feature at a time.
    """
    n_features = X.shape[1]
    if n_features >= 8:
        i0 = 0
        while i0 + 8 <= n_rows:
            a = 0
            while a + 8 <= n_features:
                transpose8(X, start + i0, a, Xt, i0)
                a += 8
            while a < n_features:
                for i in range(8):
                    Xt[a, i0 + i] = X[start + i0 + i, a]
                a += 1
            i0 += 8
        for a in range(n_features):
            for i in range(i0, n_rows):
                Xt[a, i] = X[start + i, a]
        return
    if n_features >= 3:
        i0 = 0
        while i0 + 8 <= n_rows:
            for a in range(n_features):
                for i in range(8):
                    Xt[a, i0 + i] = X[start + i0 + i, a]
            i0 += 8
        for a in range(n_features):
            for i in range(i0, n_rows):
                Xt[a, i] = X[start + i, a]
        return
    for a in range(n_features):
        for i in range(n_rows):
            Xt[a, i] = X[start + i, a]


@numba.jit(**_JIT)
def _squared_distances(Xt, m, centre, dist):
    """``dist[:m] = |Xt[:, i] - centre|^2``, features four at a time.

    Four features per sweep read and write ``dist`` a quarter as often as one
    feature per sweep; the inner loop runs across rows and vectorises.
    """
    n_features = Xt.shape[0]
    dist[:m] = 0.0
    a = 0
    while a + 4 <= n_features:
        c0, c1, c2, c3 = centre[a], centre[a + 1], centre[a + 2], centre[a + 3]
        for i in range(m):
            t0 = Xt[a, i] - c0
            t1 = Xt[a + 1, i] - c1
            t2 = Xt[a + 2, i] - c2
            t3 = Xt[a + 3, i] - c3
            dist[i] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
        a += 4
    while a < n_features:
        c0 = centre[a]
        for i in range(m):
            t0 = Xt[a, i] - c0
            dist[i] += t0 * t0
        a += 1


@numba.jit(**_JIT)
def _lloyd_block(X, weight, has_weight, centers, labels, sums, weights):
    n_rows, n_features = X.shape
    n_clusters = centers.shape[0]
    chunk = min(_CHUNK_ROWS, max(n_rows, 1))
    Xt = np.empty((n_features, chunk))
    dist = np.empty(chunk)
    best = np.empty(chunk)
    label = np.empty(chunk, dtype=np.int64)
    for start in range(0, n_rows, chunk):
        m = min(chunk, n_rows - start)
        transpose_rows(X, start, m, Xt)
        best[:m] = np.inf
        label[:m] = 0
        for j in range(n_clusters):
            _squared_distances(Xt, m, centers[j], dist)
            # Strict '<': the first of equally distant centres wins, as in scikit-learn.
            for i in range(m):
                if dist[i] < best[i]:
                    best[i] = dist[i]
                    label[i] = j
        # Sums from the row-major block: one contiguous row per point.
        for i in range(m):
            j = label[i]
            labels[start + i] = j
            w = weight[start + i] if has_weight else 1.0
            weights[j] += w
            for a in range(n_features):
                sums[j, a] += w * X[start + i, a]


@numba.jit(inline="always", **_REDUCE)
def _four_distances(X, i, centres, j):
    """Squared distances from row ``i`` to centres ``j`` to ``j + 3``, in X's dtype.

    Four centres per sweep over the row: each value read once for four
    differences, and four independent sums to reduce (1.1-1.4x faster at 16-64
    features). Inlined in numba's IR: as an ordinary call (inlined by LLVM, or
    not) a shared distance loop measured 35% slower at 32 features.
    """
    # Zero of X's type: float32 rows are compared in float32, as scikit-learn does.
    d0 = d1 = d2 = d3 = X[i, 0] - X[i, 0]
    for a in range(X.shape[1]):
        x = X[i, a]
        t0 = x - centres[j, a]
        t1 = x - centres[j + 1, a]
        t2 = x - centres[j + 2, a]
        t3 = x - centres[j + 3, a]
        d0 += t0 * t0
        d1 += t1 * t1
        d2 += t2 * t2
        d3 += t3 * t3
    return d0, d1, d2, d3


@numba.jit(inline="always", **_REDUCE)
def _row_distance(X, i, centres, j):
    """Squared distance from row ``i`` to centre ``j``, in X's dtype."""
    dist = X[i, 0] - X[i, 0]
    for a in range(X.shape[1]):
        t = X[i, a] - centres[j, a]
        dist += t * t
    return dist


@numba.jit(**_REDUCE)
def _lloyd_rows(X, weight, has_weight, centers, labels, sums, weights):
    n_rows, n_features = X.shape
    n_clusters = centers.shape[0]
    for i in range(n_rows):
        best = np.inf
        label = 0
        j = 0
        while j + 4 <= n_clusters:
            d0, d1, d2, d3 = _four_distances(X, i, centers, j)
            # Strict '<' in centre order: the first of equally distant centres
            # wins, as in scikit-learn.
            if d0 < best:
                best, label = d0, j
            if d1 < best:
                best, label = d1, j + 1
            if d2 < best:
                best, label = d2, j + 2
            if d3 < best:
                best, label = d3, j + 3
            j += 4
        while j < n_clusters:
            dist = _row_distance(X, i, centers, j)
            if dist < best:
                best, label = dist, j
            j += 1
        labels[i] = label
        w = weight[i] if has_weight else 1.0
        weights[label] += w
        for a in range(n_features):
            sums[label, a] += w * X[i, a]


def _by_rows(n_features: int, n_centres: int) -> bool:
    """Whether distances are cheaper row by row than across transposed chunks.

    Row by row, each row is read once in place and its distances are reductions
    across features; across chunks, rows are first transposed (about 1 ns per
    value) so that the loops run across rows. Measured crossover: with at least
    two features per centre, reading in place wins (1.1-2.8x at 8-64 features
    and 3 centres; the transposed loops stay ahead up to 16 features with 16).
    """
    return n_features >= 2 * n_centres


def lloyd_step(X, sample_weight, centers):
    """Fused twin of :func:`gaussmix.kernels._numpy.lloyd_step`."""
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    has_weight = sample_weight is not None
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64) if has_weight else np.empty(0)
    labels = np.empty(X.shape[0], dtype=np.int32)
    sums = np.zeros_like(centers)
    weights = np.zeros(centers.shape[0])
    if _by_rows(X.shape[1], centers.shape[0]):
        # Centres in X's dtype, so float32 data are compared in float32 arithmetic
        # (half the bytes, twice the SIMD lanes).
        rows_centers = centers.astype(X.dtype) if X.dtype == np.float32 else centers
        _lloyd_rows(
            np.ascontiguousarray(X), weight, has_weight, rows_centers, labels, sums, weights
        )
    else:
        _lloyd_block(np.ascontiguousarray(X), weight, has_weight, centers, labels, sums, weights)
    return labels, sums, weights


@numba.jit(**_JIT)
def _label_stats(X, weight, has_weight, labels, n_k, mean_k, scatter_k, full):
    n_rows, n_features = X.shape
    for i in range(n_rows):
        j = labels[i]
        w = weight[i] if has_weight else 1.0
        n_k[j] += w
        for a in range(n_features):
            mean_k[j, a] += w * X[i, a]
    for j in range(n_k.shape[0]):
        if n_k[j] > 0:
            for a in range(n_features):
                mean_k[j, a] /= n_k[j]
    # Second pass about the means: no digits lost to raw second moments.
    diff = np.empty(n_features)
    for i in range(n_rows):
        j = labels[i]
        w = weight[i] if has_weight else 1.0
        for a in range(n_features):
            diff[a] = X[i, a] - mean_k[j, a]
        if full:
            for a in range(n_features):
                t = w * diff[a]
                for b in range(a, n_features):
                    scatter_k[j, a, b] += t * diff[b]
        else:
            for a in range(n_features):
                scatter_k[j, 0, a] += w * diff[a] * diff[a]


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
    n_features = X.shape[1]
    if full and n_features >= _BLAS_SCATTER_FEATURES:
        return _label_stats_blas(X, sample_weight, labels, n_components)
    has_weight = sample_weight is not None
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64) if has_weight else np.empty(0)
    n_k = np.zeros(n_components)
    mean_k = np.zeros((n_components, n_features))
    second = np.zeros((n_components, n_features if full else 1, n_features))
    _label_stats(
        np.ascontiguousarray(X),
        weight,
        has_weight,
        np.ascontiguousarray(labels, dtype=np.int64),
        n_k,
        mean_k,
        second,
        full,
    )
    if full:
        return n_k, mean_k, second + np.swapaxes(np.triu(second, 1), 1, 2)
    return n_k, mean_k, second[:, 0, :]


@numba.jit(**_REDUCE)
def _candidate_distances(X, weight, has_weight, closest, candidates, out, pots):
    n_rows, n_features = X.shape
    n_candidates = candidates.shape[0]
    chunk = min(_CHUNK_ROWS, max(n_rows, 1))
    Xt = np.empty((n_features, chunk))
    row = np.empty(chunk)
    pots[:] = 0.0
    # Chunks outermost: each chunk of rows is read once for all candidates.
    for start in range(0, n_rows, chunk):
        m = min(chunk, n_rows - start)
        transpose_rows(X, start, m, Xt)
        for c in range(n_candidates):
            _squared_distances(Xt, m, candidates[c], row)
            pot = 0.0
            for i in range(m):
                row[i] = min(row[i], closest[start + i])
                out[c, start + i] = row[i]
            if has_weight:
                for i in range(m):
                    pot += row[i] * weight[start + i]
            else:
                for i in range(m):
                    pot += row[i]
            pots[c] += pot


@numba.jit(**_REDUCE)
def _candidate_rows(X, weight, has_weight, closest, candidates, out, pots):
    n_rows = X.shape[0]
    n_candidates = candidates.shape[0]
    pots[:] = 0.0
    for i in range(n_rows):
        nearest = closest[i]
        w = weight[i] if has_weight else 1.0
        c = 0
        while c + 4 <= n_candidates:
            d0, d1, d2, d3 = _four_distances(X, i, candidates, c)
            d0 = min(d0, nearest)
            d1 = min(d1, nearest)
            d2 = min(d2, nearest)
            d3 = min(d3, nearest)
            out[c, i] = d0
            out[c + 1, i] = d1
            out[c + 2, i] = d2
            out[c + 3, i] = d3
            pots[c] += d0 * w
            pots[c + 1] += d1 * w
            pots[c + 2] += d2 * w
            pots[c + 3] += d3 * w
            c += 4
        while c < n_candidates:
            dist = min(_row_distance(X, i, candidates, c), nearest)
            out[c, i] = dist
            pots[c] += dist * w
            c += 1


def candidate_distances(X, sample_weight, closest, candidates):
    """Fused twin of :func:`gaussmix.kernels._numpy.candidate_distances`."""
    has_weight = sample_weight is not None
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64) if has_weight else np.empty(0)
    out = np.empty((candidates.shape[0], X.shape[0]))
    pots = np.empty(candidates.shape[0])
    by_rows = _by_rows(X.shape[1], candidates.shape[0])
    kernel = _candidate_rows if by_rows else _candidate_distances
    # Row by row, float32 data are compared in float32 (see lloyd_step).
    dtype = X.dtype if by_rows and X.dtype == np.float32 else np.float64
    kernel(
        np.ascontiguousarray(X),
        weight,
        has_weight,
        np.ascontiguousarray(closest, dtype=np.float64),
        np.ascontiguousarray(candidates, dtype=dtype),
        out,
        pots,
    )
    return out, pots


@numba.jit(**_REDUCE)
def _column_variances(X, out):
    n_rows, n_features = X.shape
    mean = np.zeros(n_features)
    for i in range(n_rows):
        for a in range(n_features):
            mean[a] += X[i, a]
    for a in range(n_features):
        mean[a] /= n_rows
    # Second pass about the means: no digits lost to raw second moments.
    out[:] = 0.0
    for i in range(n_rows):
        for a in range(n_features):
            d = X[i, a] - mean[a]
            out[a] += d * d
    for a in range(n_features):
        out[a] /= n_rows


def column_variances(X):
    """Fused twin of :func:`gaussmix.kernels._numpy.column_variances`."""
    out = np.empty(X.shape[1])
    _column_variances(np.ascontiguousarray(X), out)
    return out


@numba.jit(**_JIT)
def _cumulative_sum(values, out):
    running = 0.0
    for i in range(values.shape[0]):
        running += values[i]
        out[i] = running


def cumulative_sum(values):
    """Fused twin of :func:`gaussmix.kernels._numpy.cumulative_sum`.

    Left to right, one addition per value (no reassociation): bit-identical to
    ``np.cumsum``, whose draws k-means++ must reproduce, at 2-3x its speed.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty_like(values)
    _cumulative_sum(values, out)
    return out
