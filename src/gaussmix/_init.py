"""Initial responsibilities, turned into sufficient statistics block by block.

Each of scikit-learn's methods consumes ``random_state`` exactly as scikit-learn's
does, so the same seed gives the same start (and the same fitted model) as
``sklearn.mixture.GaussianMixture``. Sample weights are honoured: k-means and
k-means++ are run with them, and ``random_from_data`` draws rows in proportion
to their weight.

``"hc"`` is mclust's start: the partition into ``n_components`` groups of a
model-based hierarchical clustering (:mod:`gaussmix._hc`) of at most 2000 rows,
drawn uniformly when there are more (the only use of ``random_state``); with one
feature, mclust's quantile classes of those rows (:mod:`gaussmix._qclass`).
"""

from __future__ import annotations

import numpy as np

from . import _hc
from ._kmeans import kmeans_labels
from ._suffstats import SuffStats
from .backends._base import ordered_results

__all__ = ["INIT_METHODS", "SUBSET_METHODS", "initial_stats"]

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data", "hc")

# Methods that draw their own rows (from the whole data) and whose statistics
# cover only those rows: their weights are normalised by their own total.
SUBSET_METHODS = ("hc",)


def _stats(kernel, X, sample_weight, resp, scatter) -> SuffStats:
    n_k, mean_k, scatter_k = kernel.resp_stats(X, sample_weight, resp, scatter)
    weight_sum = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
    return SuffStats(n_k, mean_k, scatter_k, 0.0, weight_sum, X.shape[0])


def _hard_stats(kernel, X, sample_weight, labels, n_components, scatter) -> SuffStats:
    """Statistics of rows ``X`` with responsibility 1 for ``labels[i]``."""
    n_k, mean_k, scatter_k = kernel.label_stats(X, sample_weight, labels, n_components, scatter)
    weight_sum = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
    return SuffStats(n_k, mean_k, scatter_k, 0.0, weight_sum, X.shape[0])


def _label_stats(backend, kernel, labels, n_components, scatter) -> SuffStats:
    """Statistics of hard labels, block by block on the backend's threads."""

    def block_stats(X_block, w_block, labels_block):
        return _hard_stats(kernel, X_block, w_block, labels_block, n_components, scatter)

    def blocks():
        start = 0
        for X_block, w_block in backend.blocks():
            stop = start + X_block.shape[0]
            yield X_block, w_block, labels[start:stop]
            start = stop

    workers = backend.n_threads if kernel.releases_gil else 1
    return SuffStats.merge_all(ordered_results(block_stats, blocks(), workers))


def _selected_rows_stats(backend, kernel, indices, scatter) -> SuffStats:
    """Statistics where component k holds only row ``indices[k]``."""
    weight = None if backend.sample_weight is None else backend.sample_weight[indices]
    return _stats(kernel, backend.X[indices], weight, np.eye(len(indices)), scatter)


def initial_stats(
    method: str,
    backend,
    kernel,
    scatter: str,
    n_components: int,
    random_state: np.random.RandomState,
    cache: dict | None = None,
) -> SuffStats:
    """Sufficient statistics of the initial responsibilities.

    Parameters
    ----------
    method : {"kmeans", "k-means++", "random", "random_from_data", "hc"}
    backend : InMemoryBackend or ChunkedBackend
        The data, read in row blocks (in memory for all methods but ``"hc"``).
    kernel : namespace
        From :func:`gaussmix.kernels.get_kernel`.
    scatter : {"full", "diag"}
        Scatter statistics wanted by the covariance model.
    n_components : int
    random_state : RandomState
    cache : dict or None
        Keeps the ``"hc"`` tree between calls when it covers every row (so it does
        not depend on ``random_state``): further starts reuse it.

    Returns
    -------
    stats : SuffStats
        For ``"kmeans"`` and ``"random"`` each row's responsibilities sum to one;
        for ``"k-means++"`` and ``"random_from_data"`` component k holds a single
        chosen row; for ``"hc"`` each row the tree clusters belongs to one
        component (the other rows are not counted).
    """
    if method == "hc":
        return _hc_stats(backend, kernel, scatter, n_components, random_state, cache)
    X, sample_weight = backend.X, backend.sample_weight
    if method == "kmeans":
        labels = kmeans_labels(
            X, sample_weight, n_components, random_state, kernel, backend.n_threads
        )
        return _label_stats(backend, kernel, labels, n_components, scatter)
    if method == "random":
        # Drawn block after block from one stream: identical to drawing the whole
        # (n_samples, n_components) array at once, without holding it.
        def random_parts():
            for X_block, w_block in backend.blocks():
                resp = random_state.uniform(size=(X_block.shape[0], n_components))
                resp /= resp.sum(axis=1)[:, None]
                yield _stats(kernel, X_block, w_block, resp, scatter)

        return SuffStats.merge_all(random_parts())
    if method == "k-means++":
        # Imported here: sklearn.cluster takes 70-170 ms to import, which every
        # `import gaussmix` would pay.
        from sklearn.cluster import kmeans_plusplus

        _, indices = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=sample_weight
        )
        return _selected_rows_stats(backend, kernel, indices, scatter)
    if method == "random_from_data":
        n_rows = X.shape[0]
        if sample_weight is None:
            indices = random_state.choice(n_rows, size=n_components, replace=False)
        else:
            p = np.asarray(sample_weight, dtype=np.float64)
            indices = random_state.choice(n_rows, size=n_components, replace=False, p=p / p.sum())
        return _selected_rows_stats(backend, kernel, indices, scatter)
    raise ValueError(f"init_params must be one of {INIT_METHODS}, got {method!r}.")


def _hc_stats(backend, kernel, scatter, n_components, random_state, cache) -> SuffStats:
    """Statistics of the hc partition: one-hot responsibilities on the tree's rows.

    As mclust's ``mclustBIC``: the tree is built on a uniform random subset of
    ``_hc.SUBSET_ROWS`` rows when there are more; EM then starts from the M-step
    of that partition and runs on every row. mclust's criterion is VVV when there
    are more rows than features, and EII otherwise; one feature starts from
    quantile classes instead.
    """
    weight = backend.sample_weight
    held = None if cache is None else cache.get("hc")
    if held is None:
        rows = _hc.sample_rows(backend.n_rows, weight, _hc.SUBSET_ROWS, random_state)
        X_rows = backend.take(rows)
        weight_rows = None if weight is None else weight[rows]
        tree = _hc.start_partitions(X_rows, weight_rows, rows=rows, n_samples=backend.n_rows)
        held = (tree, X_rows, weight_rows)
        if cache is not None and rows.size == _positive_rows(backend.n_rows, weight):
            cache["hc"] = held
    tree, X_rows, weight_rows = held
    if n_components > tree.n_leaves:
        raise ValueError(
            f"init_params='hc' cuts a tree of {tree.n_leaves} rows into n_components="
            f"{n_components} groups, which needs at least as many rows (of positive "
            "weight); reduce n_components or use init_params='kmeans'."
        )
    labels = tree.labels(n_components)
    return _hard_stats(kernel, X_rows, weight_rows, labels, n_components, scatter)


def _positive_rows(n_rows: int, sample_weight) -> int:
    return n_rows if sample_weight is None else int(np.count_nonzero(sample_weight))


def partition_stats(backend, kernel, rows, labels, n_components: int, scatter: str) -> SuffStats:
    """Statistics of a hard partition of some rows (``rows=None``: all rows, in order).

    Parameters
    ----------
    backend : BlockBackend
    kernel : namespace
    rows : ndarray of shape (n,) or None
        Sorted row indices the partition covers.
    labels : ndarray of shape (n,)
        Component of each of those rows, in ``range(n_components)``.
    n_components : int
    scatter : {"full", "diag"}
    """
    if rows is None:
        return _label_stats(backend, kernel, np.asarray(labels), n_components, scatter)
    weight = None if backend.sample_weight is None else backend.sample_weight[rows]
    return _hard_stats(kernel, backend.take(rows), weight, labels, n_components, scatter)
