"""The start of a fit: one function, :func:`initial_params`, for every start.

A start is either a method of ``init_params`` or a :class:`Partition` given by the
caller (model selection shares one per number of components; the noise model
starts from the rows not labelled noise); the user's ``*_init`` arrays then replace
what they give. Statistics of the start come from the backend, and the M-step
turns them into parameters.

Each of scikit-learn's methods consumes ``random_state`` exactly as scikit-learn's
does, so the same seed gives the same start (and the same fitted model) as
``sklearn.mixture.GaussianMixture``. Sample weights are honoured: k-means and
k-means++ are run with them, and ``random_from_data`` draws rows in proportion
to their weight. They run on the rows in memory, or on a uniform random sample of
``INIT_SAMPLE_ROWS`` rows when there are more (or when the rows are read from a
file): the backend gathers the rows, whose indices are drawn here, so the same
seed draws the same rows wherever they live.

``"hc"`` is mclust's start: the partition into ``n_components`` groups of a
model-based hierarchical clustering (:mod:`gaussmix._hc`) of at most 2000 rows,
drawn uniformly when there are more (the only use of ``random_state``); with one
feature, mclust's quantile classes of those rows (:mod:`gaussmix._qclass`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ._kmeans import kmeans_labels
from ._mstep import m_step
from ._params import MixtureParams
from ._setup import FitSetup
from ._suffstats import SuffStats
from .covariance import CovarianceModel, Repair

__all__ = [
    "INIT_METHODS",
    "INIT_SAMPLE_ROWS",
    "Partition",
    "initial_params",
    "kmeans_partition",
    "start_sample",
]

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data", "hc")

# Methods that draw their own rows (from the whole data) and whose statistics
# cover only those rows: their weights are normalised by their own total.
SUBSET_METHODS = ("hc",)

# The initialisation works on a uniform random sample of this many rows when the
# data have more (in memory or read from a file): k-means and its relatives need
# their rows in memory and cost several EM iterations on all of them, while a
# sample of 100,000 rows places the starting means as well as the whole data
# would for any number of components a mixture is fitted with. EM then runs on
# every row. Below this size the start is scikit-learn's, on all rows.
INIT_SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class Partition:
    """A hard start: each of some rows belongs to one component.

    Attributes
    ----------
    labels : ndarray of shape (n,)
        Component of each row, in ``range(n_components)``.
    rows : ndarray of shape (n,) or None
        Sorted indices of the rows the labels are for; None: every row, in order.
    total_weight : float or None
        The weight the start's proportions are taken out of. None: the rows of the
        partition. With a noise component, the weight of every row the start looked
        at: the weight the partition leaves is the noise component's.
    """

    labels: np.ndarray
    rows: np.ndarray | None = None
    total_weight: float | None = None


def initial_params(
    setup: FitSetup, method: str, partition: Partition | None = None
) -> tuple[MixtureParams, list[Repair]]:
    """Parameters of one start, and the repairs their M-step made.

    Parameters
    ----------
    setup : FitSetup
    method : {"kmeans", "k-means++", "random", "random_from_data", "hc"}
        The ``init_params`` method, used unless ``partition`` is given.
    partition : Partition or None
        Start from this partition instead of ``method``.

    Returns
    -------
    params : MixtureParams
        With a noise component (``setup.log_volume``), its weight is what the
        start leaves of the total weight.
    repairs : list of Repair

    Notes
    -----
    ``setup.weights_init``, ``means_init`` and ``precisions_init`` replace what the
    start gives; when all three are set, no start is drawn at all.
    """
    params, repairs = None, []
    given = (setup.weights_init, setup.means_init, setup.precisions_init)
    if any(value is None for value in given):
        if partition is not None:
            stats = _partition_stats(setup, partition)
            if partition.total_weight is not None:
                stats = dataclasses.replace(stats, weight_sum=partition.total_weight)
            weight_total = stats.weight_sum
        else:
            stats, weight_total = _method_stats(setup, method)
        params, repairs = m_step(
            stats,
            setup.model,
            setup.reg,
            setup.eps10,
            setup.scale,
            weight_total=weight_total,
            noise=setup.log_volume is not None,
        )
    return _override(params, setup.model, *given), repairs


def start_sample(backend, random_state: np.random.RandomState):
    """``(sample, rows)``: the rows a start runs on, as an in-memory backend.

    The backend itself when its rows are in memory and at most ``INIT_SAMPLE_ROWS``
    (``rows`` is None then); otherwise the sorted rows ``rows``, all of them or a
    uniform random sample of ``INIT_SAMPLE_ROWS``, gathered by the backend.
    """
    n_rows = backend.n_rows
    if n_rows <= INIT_SAMPLE_ROWS and backend.in_memory:
        return backend, None
    if n_rows <= INIT_SAMPLE_ROWS:
        rows = np.arange(n_rows)
    else:
        # With replacement then unique: no permutation of all n_rows indices.
        rows = np.unique(random_state.randint(0, n_rows, size=INIT_SAMPLE_ROWS))
    sample = backend.subset(rows)
    weight = sample.sample_weight
    if weight is not None and np.count_nonzero(weight) == 0:
        raise ValueError(
            "Every row sampled for the initialisation has a zero sample_weight; give more "
            "rows a positive weight or pass weights_init, means_init and precisions_init."
        )
    return sample, rows


def kmeans_partition(setup: FitSetup) -> Partition:
    """The partition ``init_params="kmeans"`` starts from (on the start's sample)."""
    sample, rows = start_sample(setup.backend, setup.random_state)
    labels = kmeans_labels(
        sample.X,
        sample.sample_weight,
        setup.n_components,
        setup.random_state,
        setup.kernel,
        sample.n_threads,
    )
    return Partition(labels, rows)


# ----------------------------------------------------------------- statistics


def _stats(kernel, X, sample_weight, resp, scatter) -> SuffStats:
    n_k, mean_k, scatter_k = kernel.resp_stats(X, sample_weight, resp, scatter)
    weight_sum = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
    return SuffStats(n_k, mean_k, scatter_k, 0.0, weight_sum, X.shape[0])


def _hard_stats(kernel, X, sample_weight, labels, n_components, scatter) -> SuffStats:
    """Statistics of rows ``X`` with responsibility 1 for ``labels[i]``."""
    n_k, mean_k, scatter_k = kernel.label_stats(X, sample_weight, labels, n_components, scatter)
    weight_sum = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
    return SuffStats(n_k, mean_k, scatter_k, 0.0, weight_sum, X.shape[0])


def _partition_stats(setup: FitSetup, partition: Partition) -> SuffStats:
    """Statistics of a hard partition of some rows (all rows: a pass on the backend)."""
    scatter, n_components = setup.model.scatter, setup.n_components
    if partition.rows is None:
        return setup.backend.label_stats(
            setup.kernel, np.asarray(partition.labels), n_components, scatter
        )
    X_rows, weight = setup.backend.take(partition.rows)
    return _hard_stats(setup.kernel, X_rows, weight, partition.labels, n_components, scatter)


def _method_stats(setup: FitSetup, method: str) -> tuple[SuffStats, float | None]:
    """Statistics of ``method``'s initial responsibilities, and the weight they are out of.

    For ``"kmeans"`` and ``"random"`` each row's responsibilities sum to one; for
    ``"k-means++"`` and ``"random_from_data"`` component k holds a single chosen
    row; for ``"hc"`` each row the tree clusters belongs to one component (the
    other rows are not counted, and the weight is the tree's own).
    """
    kernel, scatter, n_components = setup.kernel, setup.model.scatter, setup.n_components
    random_state = setup.random_state
    if method == "hc":
        return _hc_stats(setup), None
    if method not in INIT_METHODS:
        raise ValueError(f"init_params must be one of {INIT_METHODS}, got {method!r}.")
    sample, _ = start_sample(setup.backend, random_state)
    X, sample_weight = sample.X, sample.sample_weight
    if method == "kmeans":
        labels = kmeans_labels(
            X, sample_weight, n_components, random_state, kernel, sample.n_threads
        )
        stats = sample.label_stats(kernel, labels, n_components, scatter)
    elif method == "random":
        # Drawn block after block from one stream: identical to drawing the whole
        # (n_samples, n_components) array at once, without holding it.
        def random_parts():
            for X_block, w_block in sample.blocks():
                resp = random_state.uniform(size=(X_block.shape[0], n_components))
                resp /= resp.sum(axis=1)[:, None]
                yield _stats(kernel, X_block, w_block, resp, scatter)

        stats = SuffStats.merge_all(random_parts())
    else:
        if method == "k-means++":
            # Imported here: sklearn.cluster takes 70-170 ms to import, which every
            # `import gaussmix` would pay.
            from sklearn.cluster import kmeans_plusplus

            _, indices = kmeans_plusplus(
                X, n_components, random_state=random_state, sample_weight=sample_weight
            )
        elif sample_weight is None:
            indices = random_state.choice(X.shape[0], size=n_components, replace=False)
        else:
            p = np.asarray(sample_weight, dtype=np.float64)
            indices = random_state.choice(
                X.shape[0], size=n_components, replace=False, p=p / p.sum()
            )
        weight = None if sample_weight is None else sample_weight[indices]
        stats = _stats(kernel, X[indices], weight, np.eye(len(indices)), scatter)
    if sample is setup.backend and method in ("kmeans", "random"):
        setup.scale.offer(stats)  # each row's responsibilities sum to one
    return stats, sample.weight_sum


def _hc_stats(setup: FitSetup) -> SuffStats:
    """Statistics of the hc partition: one-hot responsibilities on the tree's rows.

    As mclust's ``mclustBIC``: the tree is built on a uniform random subset of
    ``_hc.SUBSET_ROWS`` rows when there are more; EM then starts from the M-step
    of that partition and runs on every row. mclust's criterion is VVV when there
    are more rows than features, and EII otherwise; one feature starts from
    quantile classes instead.
    """
    backend, n_components = setup.backend, setup.n_components
    weight = backend.sample_weight
    held = setup.start_cache.get("hc")
    if held is None:
        # mclust's agglomeration is loaded by the first hc start, not by every fit.
        from . import _hc

        rows = _hc.sample_rows(backend.n_rows, weight, _hc.SUBSET_ROWS, setup.random_state)
        X_rows, weight_rows = backend.take(rows)
        tree = _hc.start_partitions(X_rows, weight_rows, rows=rows, n_samples=backend.n_rows)
        held = (tree, X_rows, weight_rows)
        if rows.size == _positive_rows(backend.n_rows, weight):
            setup.start_cache["hc"] = held
    tree, X_rows, weight_rows = held
    if n_components > tree.n_leaves:
        raise ValueError(
            f"init_params='hc' cuts a tree of {tree.n_leaves} rows into n_components="
            f"{n_components} groups, which needs at least as many rows (of positive "
            "weight); reduce n_components or use init_params='kmeans'."
        )
    labels = tree.labels(n_components)
    return _hard_stats(
        setup.kernel, X_rows, weight_rows, labels, n_components, setup.model.scatter
    )


def _positive_rows(n_rows: int, sample_weight) -> int:
    return n_rows if sample_weight is None else int(np.count_nonzero(sample_weight))


def _override(
    params: MixtureParams | None,
    model: CovarianceModel,
    weights_init: np.ndarray | None,
    means_init: np.ndarray | None,
    precisions_init: np.ndarray | None,
) -> MixtureParams:
    """Replace initial parameters by those the user gave."""
    if params is not None and weights_init is None and means_init is None:
        if precisions_init is None:
            return params
    weights = weights_init if weights_init is not None else params.weights
    means = means_init if means_init is not None else params.means
    if precisions_init is not None:
        precisions_chol = model.precisions_cholesky_from_precisions(precisions_init)
        covariances = model.covariances_from_precisions(precisions_init)
    else:
        precisions_chol, covariances = params.precisions_chol, params.covariances
    noise_weight = 0.0 if params is None else params.noise_weight
    return MixtureParams(weights, means, covariances, precisions_chol, noise_weight)
