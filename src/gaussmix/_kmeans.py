"""k-means for the default start: scikit-learn's ``KMeans(n_init=1)``, fused.

scikit-learn's ``GaussianMixture`` starts from the labels of
``KMeans(n_clusters, n_init=1, random_state=random_state)``. This module runs
the same algorithm step for step so that the same seed gives the same labels
(and so the same fitted mixture): seeds from greedy
k-means++ (consuming ``random_state`` draw for draw as scikit-learn's does),
then Lloyd iterations with the same stopping rules (labels unchanged, or the
squared centre shift at most ``tol`` times the mean feature variance), the same
relocation of empty clusters and the same final assignment.

Only the distances differ: fused kernels (the assignment passes run over row
blocks on threads) compute exact squared distances rather than
``|x|^2 - 2 x.c + |c|^2``, and the data are not centred first (scikit-learn centres a
copy to make its formula accurate), so labels can differ from scikit-learn's
only when a random draw or a point falls on a boundary to rounding.
"""

from __future__ import annotations

import numpy as np

from .backends import ordered_results

__all__ = ["kmeans_labels"]

# scikit-learn's KMeans defaults.
MAX_ITER = 300
TOL = 1e-4
_BLOCK_ROWS = 16384


def kmeans_labels(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    n_clusters: int,
    random_state: np.random.RandomState,
    kernel,
    n_threads: int = 1,
) -> np.ndarray:
    """Labels of ``KMeans(n_clusters, n_init=1, random_state=random_state).fit(X)``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    n_clusters : int
    random_state : RandomState
        Consumed exactly as scikit-learn's ``KMeans`` consumes it.
    kernel : namespace
        From :func:`gaussmix.kernels.get_kernel` (its ``lloyd_step``).
    n_threads : int
        Threads for the assignment passes (used when the kernel releases the GIL).

    Returns
    -------
    labels : ndarray of shape (n_samples,), int32
    """
    weight = (
        np.ones(X.shape[0], dtype=X.dtype)
        if sample_weight is None
        else np.asarray(sample_weight, dtype=X.dtype)
    )
    # scikit-learn's tolerance: TOL times the mean of the features' (unweighted)
    # variances, here from fused passes rather than a centred copy of the data.
    tol = float(np.mean(kernel.column_variances(X))) * TOL
    block_weight = None if sample_weight is None else weight
    workers = n_threads if kernel.releases_gil else 1
    centers = _kmeans_plusplus(X, weight, n_clusters, random_state, kernel, workers)

    def assign(centers):
        labels, sums, weights = [], 0.0, 0.0
        blocks = (
            (
                X[s : s + _BLOCK_ROWS],
                None if block_weight is None else block_weight[s : s + _BLOCK_ROWS],
                centers,
            )
            for s in range(0, X.shape[0], _BLOCK_ROWS)
        )
        # Summed in block order: the result does not depend on the threads.
        for block_labels, block_sums, block_weights in ordered_results(
            kernel.lloyd_step, blocks, workers
        ):
            labels.append(block_labels)
            sums = sums + block_sums
            weights = weights + block_weights
        return np.concatenate(labels), sums, weights

    labels_old = None
    strict = False
    for _ in range(MAX_ITER):
        labels, sums, weights = assign(centers)
        empty = np.flatnonzero(weights == 0)
        if empty.size:
            _relocate_empty(X, weight, centers, labels, sums, weights, empty)
        new_centers = np.divide(
            sums, weights[:, None], out=np.zeros_like(sums), where=weights[:, None] > 0
        )
        shift = float(np.sum((new_centers - centers) ** 2))
        centers = new_centers
        if labels_old is not None and np.array_equal(labels, labels_old):
            strict = True
            break
        if shift <= tol:
            break
        labels_old = labels
    if not strict:
        # The labels go with the final centres, as scikit-learn's do.
        labels = assign(centers)[0]
    return labels


def _kmeans_plusplus(X, weight, n_clusters, random_state, kernel, workers) -> np.ndarray:
    """Greedy k-means++ seeds, drawing from ``random_state`` as scikit-learn does."""
    n_samples = X.shape[0]
    n_local_trials = 2 + int(np.log(n_clusters))
    w64 = weight.astype(np.float64)
    starts = range(0, n_samples, _BLOCK_ROWS)

    def candidate_distances(closest, candidates):
        # Row blocks on threads; potentials summed in block order, so the seeds do
        # not depend on the number of threads.
        blocks = (
            (
                X[s : s + _BLOCK_ROWS],
                w64[s : s + _BLOCK_ROWS],
                closest[s : s + _BLOCK_ROWS],
                candidates,
            )
            for s in starts
        )
        parts = list(ordered_results(kernel.candidate_distances, blocks, workers))
        pots = parts[0][1].copy()
        for _, block_pots in parts[1:]:
            pots += block_pots
        best = int(np.argmin(pots))
        # Only the chosen candidate's distances are kept: one row, not all of them.
        return best, np.concatenate([d[best] for d, _ in parts]), float(pots[best])

    centers = np.empty((n_clusters, X.shape[1]))
    center_id = _choice(random_state, weight / weight.sum())
    centers[0] = X[center_id]
    _, closest, current_pot = candidate_distances(np.full(n_samples, np.inf), centers[:1])
    unweighted = bool(np.all(weight == 1))
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        # With unit weights, weight * closest is closest itself: skip the product.
        cumulative = kernel.cumulative_sum(closest if unweighted else weight * closest)
        candidate_ids = np.searchsorted(cumulative, rand_vals)
        # Rounding can put a draw past the last cumulative sum.
        np.clip(candidate_ids, None, n_samples - 1, out=candidate_ids)
        best, closest, current_pot = candidate_distances(closest, X[candidate_ids])
        centers[c] = X[candidate_ids[best]]
    return centers


def _choice(random_state: np.random.RandomState, p: np.ndarray) -> int:
    """``random_state.choice(p.size, p=p)``: the same draw, without its checks of ``p``.

    NumPy's ``RandomState.choice`` draws one uniform and searches the normalised
    cumulative sum; its validation of ``p`` (a compensated sum and sign checks)
    costs four times the draw, and ``p`` here is valid by construction.
    """
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return int(cdf.searchsorted(random_state.random_sample(), side="right"))


def _relocate_empty(X, weight, centers, labels, sums, weights, empty) -> None:
    """Give each empty cluster the point farthest from its centre (scikit-learn's rule)."""
    n_empty = empty.size
    distances = ((X - centers[labels]) ** 2).sum(axis=1)
    far_from_centers = np.argpartition(distances, -n_empty)[: -n_empty - 1 : -1]
    for new_id, far in zip(empty, far_from_centers, strict=True):
        old_id = labels[far]
        w = float(weight[far])
        sums[old_id] -= X[far] * w
        sums[new_id] = X[far] * w
        weights[new_id] = w
        weights[old_id] -= w
