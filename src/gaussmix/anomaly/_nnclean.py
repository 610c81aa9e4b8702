"""The data's geometry for mclust's noise component: its hypervolume, and NNclean.

:func:`log_hypervolume` is mclust's ``hypvol``, the volume over which the noise
density is uniform; :func:`nn_clean` is Byers & Raftery's nearest-neighbour clutter
removal (``prabclus::NNclean``), the initial guess of which points are noise that
mclust's documentation recommends. Both are pure functions of the rows.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["NN_CLEAN_NEIGHBOURS", "log_hypervolume", "nn_clean"]

# Neighbours used by nn_clean: mclust's documentation uses NNclean(x, k = 5).
NN_CLEAN_NEIGHBOURS = 5

# A principal range below this fraction of the largest is zero up to rounding.
_FLAT = math.sqrt(np.finfo(np.float64).eps)


def log_hypervolume(X: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """log of mclust's ``hypvol``: the hypervolume of the data, for the noise density.

    The smaller of two box volumes: that of the bounding box of the data, and
    that of the bounding box of the data in its principal axes (the eigenvectors
    of the weighted covariance). Rows with zero weight are left out. When the
    data lie (to rounding) in a subspace, the principal-axes box has no volume
    and the bounding box is used alone.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    log_volume : float

    Raises
    ------
    ValueError
        If a feature is constant over the rows (the volume would be zero).
    """
    X = np.asarray(X, dtype=np.float64)
    weight = None
    if sample_weight is not None:
        keep = np.asarray(sample_weight) > 0
        X, weight = X[keep], np.asarray(sample_weight, dtype=np.float64)[keep]
    ranges = np.ptp(X, axis=0)
    if np.any(ranges <= 0):
        constant = np.flatnonzero(ranges <= 0).tolist()
        raise ValueError(
            f"noise=True needs every feature to vary, but feature(s) {constant} are constant "
            "over the training rows, so the data have no volume for the uniform noise "
            "density. Drop those features."
        )
    mean = np.average(X, axis=0, weights=weight)
    centred = X - mean
    weighted = centred if weight is None else centred * weight[:, None]
    _, axes = np.linalg.eigh(weighted.T @ centred)
    principal_ranges = np.ptp(centred @ axes, axis=0)
    box = float(np.sum(np.log(ranges)))
    # Data confined to a subspace (fewer rows than features, collinear features)
    # have a principal-axes box of no volume: a density of 1/0 would call every
    # point noise. The bounding box, mclust's other candidate, is then used alone.
    if X.shape[0] <= X.shape[1] or principal_ranges.min() <= _FLAT * principal_ranges.max():
        return box
    return min(box, float(np.sum(np.log(principal_ranges))))


def nn_clean(
    X: np.ndarray,
    sample_weight: np.ndarray | None = None,
    n_neighbors: int = NN_CLEAN_NEIGHBOURS,
    max_iter: int = 1000,
) -> np.ndarray:
    """Flag scattered points: Byers & Raftery's nearest-neighbour clutter removal.

    The distance ``D`` from each point to its k-th nearest neighbour is modelled
    as coming from two homogeneous Poisson processes, a dense one (the
    features: clusters) and a sparse one (the clutter): ``D^d`` is then a
    mixture of two gamma distributions of shape k, fitted by EM. Points that
    the sparse process explains better are clutter. This is
    ``prabclus::NNclean``, which mclust's documentation uses to start its noise
    component (Byers & Raftery 1998, JASA 93, 577-584).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
        Frequency weights: a row of weight w counts as w coincident points
        (exactly for integer weights). Rows of weight zero are never flagged.
    n_neighbors : int, default=5
        k.
    max_iter : int, default=1000
        EM iterations for the two-gamma mixture.

    Returns
    -------
    noise : ndarray of shape (n_samples,), bool
        True for the points judged clutter.
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    n_rows, n_features = X.shape
    noise = np.zeros(n_rows, dtype=bool)
    rows = np.arange(n_rows) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    weight = np.ones(rows.size) if sample_weight is None else np.asarray(sample_weight)[rows]
    if rows.size < 3:
        return noise
    n_query = min(n_neighbors + 1, rows.size)
    finder = NearestNeighbors(n_neighbors=n_query).fit(X[rows])
    distances, indices = finder.kneighbors(X[rows])
    # Each row's copies of itself (weight - 1 of them) lie at distance zero.
    counts = weight[indices]
    own = indices == np.arange(rows.size)[:, None]
    counts[own] = np.maximum(weight[indices[own]] - 1, 0)
    reached = np.cumsum(counts, axis=1) >= min(n_neighbors, weight.sum() - 1)
    column = np.where(reached.any(axis=1), np.argmax(reached, axis=1), n_query - 1)
    kth = distances[np.arange(rows.size), column]
    positive = kth[kth > 0]
    if positive.size == 0:
        return noise
    # Duplicated points have D = 0, which no gamma density of shape k > 1 allows.
    log_d = np.log(np.maximum(kth, positive.min()))
    # D^d spans hundreds of orders of magnitude in high dimension: work relative
    # to its median, clipped so that exp stays finite.
    log_y = np.clip(n_features * (log_d - np.median(log_d)), -700.0, 700.0)
    y = np.exp(log_y)
    clutter = _two_gamma_em(y, weight, n_neighbors, max_iter)
    noise[rows] = clutter
    return noise


def _two_gamma_em(y: np.ndarray, weight: np.ndarray, shape: int, max_iter: int) -> np.ndarray:
    """EM for a mixture of two gamma(shape, rate) laws; True where the low rate wins."""
    # Start: the largest 10% of the values in the sparse (low-rate) component.
    split = np.quantile(y, 0.9)
    sparse = (y > split).astype(np.float64)
    if not sparse.any():
        return np.zeros(y.shape, dtype=bool)
    previous = -np.inf
    total = weight.sum()
    rate_dense = rate_sparse = 1.0
    for _ in range(max_iter):
        dense_count = weight @ (1 - sparse)
        sparse_count = weight @ sparse
        if dense_count <= 0 or sparse_count <= 0:
            # One process explains every point: no clutter to tell apart.
            return np.zeros(y.shape, dtype=bool)
        proportion = sparse_count / total
        rate_dense = shape * dense_count / (weight @ ((1 - sparse) * y))
        rate_sparse = shape * sparse_count / (weight @ (sparse * y))
        # Terms common to both components (the y^(k-1) / Gamma(k)) cancel.
        log_dense = math.log1p(-proportion) + shape * math.log(rate_dense) - rate_dense * y
        log_sparse = math.log(proportion) + shape * math.log(rate_sparse) - rate_sparse * y
        log_total = np.logaddexp(log_dense, log_sparse)
        sparse = np.exp(log_sparse - log_total)
        likelihood = float(weight @ log_total)
        if abs(likelihood - previous) <= 1e-10 * abs(likelihood):
            break
        previous = likelihood
    if not np.isfinite(sparse).all():
        return np.zeros(y.shape, dtype=bool)
    # Label the component with the lower rate (larger distances) as clutter.
    if rate_sparse > rate_dense:
        sparse = 1 - sparse
    return sparse > 0.5
