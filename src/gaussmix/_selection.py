"""Model selection over (number of components x covariance model), as mclust does.

Every cell of the grid is one :class:`~gaussmix.GaussianMixture` fit. Work is
shared where it can be: the starting partition for a given number of components
(k-means, or mclust's hierarchical clustering) is computed once and used by every
covariance model. Cells run in parallel with joblib threads (the EM kernels
release the GIL), each on one thread, so there is one level of parallelism.
A cell that fails is recorded with its reason and never stops the sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np
from sklearn.utils import check_array, check_random_state

from ._fit import check_mixture_params, fit_mixture, start_partition
from ._grid import (
    CRITERIA,
    MCLUST_MODELS,
    TABLE_COLUMNS,
    CellFit,
    ModelSelection,
    component_counts,
    model_names,
    run_grid,
    select_best,
)
from ._hc import mclust_start
from ._init import Partition
from ._mixture import GaussianMixture, criteria_terms, n_free_parameters
from ._validation import check_sample_weight
from .backends import DaskRows, checked_weight, dask_rows, is_dask_collection
from .covariance import RIDGE_FRACTION, get_covariance_model
from .exceptions import InvalidParameterError
from .io import DataSource

__all__ = [
    "CRITERIA",
    "MCLUST_MODELS",
    "TABLE_COLUMNS",
    "ModelSelection",
    "SpuriousFitError",
    "select_model",
]

# A component has collapsed onto a point or a flat subset when, in some direction,
# its variance is no more than the regularisation put there (within this factor)
# and is also negligible next to the data's mean variance. The likelihood of such
# a fit is unbounded (only the regularisation keeps it finite), so its BIC means
# nothing. mclust reports such cells as NA; here they fail with the reason.
SPURIOUS_REG_FACTOR = 10.0
SPURIOUS_RTOL = 1e-3


def select_model(
    X,
    n_components: int | Iterable[int] = range(1, 10),
    covariance_types: str | Sequence[str] = "all",
    criterion: Literal["bic", "icl", "aic"] = "bic",
    *,
    sample_weight=None,
    init_params: str = "hc",
    n_init: int = 1,
    random_state=None,
    n_jobs: int | None = None,
    callback: Callable[[dict, int, int], None] | None = None,
    **params,
) -> ModelSelection:
    """Fit every (number of components, covariance model) cell and pick the best.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataSource
    n_components : int or iterable of int, default=range(1, 10)
        Numbers of components to try.
    covariance_types : "all", str or sequence of str, default="all"
        Covariance models, by mclust or scikit-learn name; ``"all"`` is every
        model gaussmix has, in mclust's order.
    criterion : {"bic", "icl", "aic"}, default="bic"
        Chooses the best cell; all three are reported. In scikit-learn's sign
        (lower is better); the table also has mclust's sign.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to every fit and to the criteria; checked once first (finite,
        non-negative, not all zero), as ``GaussianMixture.fit`` checks it.
    init_params : str, default="hc"
        How each number of components starts (see GaussianMixture). The default
        is mclust's: one hierarchical-clustering tree (on a random subset of 2000
        rows when there are more), cut at each number of components. The starting
        partition for a given number of components is computed once and shared
        by all covariance models.
    n_init : int, default=1
        Starts per cell: the shared partition, then ``n_init - 1`` further
        starts drawn by ``init_params`` from a random stream of their own
        (k-means when ``init_params="hc"``); the best is kept.
    random_state : int, RandomState or None
        Seeds every start; the same seed gives the same table.
    n_jobs : int or None, default=None
        Cells fitted at once (joblib threads); ``-1`` uses every core, ``-2``
        all but one, and so on; 0 is refused. With ``None`` or 1, cells run one
        after another, each using every core.
    callback : callable or None, default=None
        Called as ``callback(row, done, total)`` after each cell, in grid order
        and in the calling thread (also with ``n_jobs``): ``row`` is the cell's
        table row as a dict, ``done`` the number of cells finished, ``total`` the
        number in the grid. For progress display; whatever it raises stops the
        sweep.
    **params
        Further GaussianMixture parameters (``tol``, ``max_iter``,
        ``reg_covar``, ...), the same for every cell. Unless given, ``tol=1e-5``
        and ``max_iter=1000``: criteria compare log-likelihoods to a fraction of a
        unit, so each cell is run closer to convergence than GaussianMixture's
        defaults (as mclust's relative tolerance of 1e-5 does).

    Returns
    -------
    ModelSelection
    """
    if criterion not in CRITERIA:
        raise InvalidParameterError(f"criterion must be one of {CRITERIA}; got {criterion!r}.")
    ks = component_counts(n_components)
    models = model_names(covariance_types)
    if n_init < 1:
        raise InvalidParameterError(f"n_init must be >= 1; got {n_init!r}.")
    for banned in ("n_components", "covariance_type", "init_params", "n_init", "random_state"):
        if banned in params:
            raise InvalidParameterError(
                f"{banned} is set by select_model itself; pass it as select_model's own "
                "argument instead."
            )
    if n_jobs is not None and (
        not isinstance(n_jobs, int | np.integer) or isinstance(n_jobs, bool) or n_jobs == 0
    ):
        raise InvalidParameterError(
            "n_jobs must be None, a positive number of cells fitted at once, or negative "
            f"(-1: every core, -2: all but one, ...); got {n_jobs!r}."
        )
    if is_dask_collection(X):
        # The rows stay on the cluster: checked once here (one pass), then every
        # cell's passes are graphs on them.
        X = dask_rows(X).checked()
        if X.n_rows < 2:
            raise ValueError(f"select_model needs at least 2 rows; got {X.n_rows}.")
        sample_weight = checked_weight(sample_weight, X.row_chunks, min(ks))
    else:
        if not isinstance(X, DataSource):
            # Bad data (NaN, text, too few rows) is reported once, here, rather than
            # as the same failure in every cell. X itself goes on to the fits
            # unchanged, so a DataFrame's column names reach the fitted models.
            check_array(X, dtype=(np.float64, np.float32), ensure_min_samples=2)
        # Bad weights too: the check each fit makes, made once.
        check_sample_weight(sample_weight, _shape(X)[0], min(ks))
    params.setdefault("tol", 1e-5)
    params.setdefault("max_iter", 1000)
    rng = check_random_state(random_state)
    # One seed per number of components: every model with K components starts
    # from the same partition, and the table does not depend on n_jobs.
    seeds = {k: int(rng.randint(np.iinfo(np.int32).max)) for k in ks}
    tree_seed = int(rng.randint(np.iinfo(np.int32).max))
    template = GaussianMixture(init_params=init_params, n_init=n_init, **params)
    check_mixture_params(template)
    partitions = _shared_partitions(X, sample_weight, ks, seeds, template, tree_seed)

    cells = [(k, name) for k in ks for name in models]

    def fit_cell(k, name):
        return _fit_cell(X, sample_weight, k, name, seeds[k], partitions.get(k), template)

    table, fits = run_grid(cells, fit_cell, n_jobs=n_jobs, callback=callback)
    return select_best(table, fits, criterion, "cell of the model selection")


def _shared_partitions(X, sample_weight, ks, seeds, template, tree_seed) -> dict:
    """The starting partition for each number of components, shared by all models.

    For ``init_params="hc"`` one tree is built and cut at every K (quantile classes
    for one feature), as mclust does.
    """
    partitions = dict.fromkeys(ks)
    if template.init_params == "hc":
        try:
            tree = mclust_start(X, sample_weight, random_state=tree_seed)
        except Exception:  # each cell then reports its own failure
            return partitions
        for k in ks:
            if k <= tree.n_leaves:
                partitions[k] = Partition(tree.labels(k), tree.rows)
        return partitions
    for k in ks:
        probe = GaussianMixture(
            n_components=k,
            init_params=template.init_params,
            random_state=seeds[k],
            max_iter=0,
            block_size=template.block_size,
            kernel=template.kernel,
        )
        try:
            partitions[k] = start_partition(probe, X, sample_weight)
        except Exception:  # each cell reports its own failure
            partitions[k] = None
    return partitions


def _shape(X) -> tuple[int, int]:
    if isinstance(X, DataSource | DaskRows):
        return X.shape[0], X.shape[1]
    shape = np.shape(X)
    return int(shape[0]), int(shape[1]) if len(shape) > 1 else 1


def _fit_cell(X, sample_weight, k, name, seed, partition, template) -> CellFit:
    """Fit one cell from the shared partition; raise if it fails or is spurious."""
    params = template.get_params()
    params.update(n_components=k, covariance_type=name, random_state=seed)
    if partition is not None and params["n_init"] > 1:
        # The shared partition is the first start. The others must not redraw it:
        # they take a stream of their own, and k-means where the partition came
        # from hc (a tree of every row is the same tree every time).
        params["random_state"] = int(np.random.SeedSequence(seed).generate_state(1)[0])
        if params["init_params"] == "hc":
            params["init_params"] = "kmeans"
    estimator = GaussianMixture(**params)

    def partitions(start, random_state):
        # The shared partition is the first start; the others are init_params'.
        return partition if start == 0 else None

    fit_mixture(estimator, X, sample_weight, partitions=partitions)
    try:
        _check_not_spurious(estimator)
    except SpuriousFitError as collapsed:
        estimator = _fit_without_collapse(X, sample_weight, params, seed, collapsed)
    n, log_likelihood, max_log_resp = criteria_terms(estimator, X, sample_weight)
    return CellFit(estimator, n, log_likelihood, max_log_resp, n_free_parameters(estimator))


class SpuriousFitError(ValueError):
    """A fit whose likelihood is driven by a collapsed component."""


# Further starts of a cell whose fit collapsed: k-means from these many seeds, and
# mclust's start where the cell did not begin from it.
FALLBACK_KMEANS_STARTS = 3


def _fit_without_collapse(X, sample_weight, params, seed, collapsed):
    """The best fit of the cell, from further starts, in which no component collapsed.

    A start that leads a component onto a point (or a flat subset) says nothing about
    the cell's model: other starts often reach a proper maximum (mclust's reports
    them). Each start is fitted and checked on its own, so a collapsed fit with a
    higher likelihood cannot hide a proper one. Raises ``collapsed`` again when every
    start collapses.
    """
    streams = np.random.SeedSequence([seed, 1]).generate_state(FALLBACK_KMEANS_STARTS + 1)
    starts = [("kmeans", int(stream)) for stream in streams[:FALLBACK_KMEANS_STARTS]]
    if params["init_params"] != "hc":
        starts.append(("hc", int(streams[-1])))
    best = None
    for init_params, random_state in starts:
        candidate = GaussianMixture(
            **{**params, "init_params": init_params, "random_state": random_state, "n_init": 1}
        )
        try:
            candidate.fit(X, sample_weight=sample_weight)
            _check_not_spurious(candidate)
        except ValueError:  # collapsed too, or a start that cannot be made
            continue
        if best is None or candidate.lower_bound_ > best.lower_bound_:
            best = candidate
    if best is None:
        raise collapsed
    return best


def _check_not_spurious(estimator) -> None:
    """Raise SpuriousFitError if a component's covariance has collapsed.

    The data's covariance is that of the fitted mixture (EM matches the first two
    moments at convergence), so no pass over the data is needed. Covariances are
    judged with each feature scaled to the data's variance 1: a feature of scale
    1e8 next to one of scale 1 is then no reason to call a component collapsed,
    and the eigenvalues of the scaled matrices keep their digits.
    """
    model = get_covariance_model(estimator.covariance_type)
    weights = estimator.weights_.astype(np.float64)
    means = estimator.means_.astype(np.float64)
    n_features = means.shape[1]
    covariances = [
        model.component_covariance(estimator.covariances_.astype(np.float64), k, n_features)
        for k in range(len(weights))
    ]
    centre = weights @ means
    total = sum(
        w * (c + np.outer(m - centre, m - centre))
        for w, m, c in zip(weights, means, covariances, strict=True)
    )
    inverse_std = 1.0 / np.sqrt(np.diag(total))
    if isinstance(estimator.reg_covar, str):
        reg = RIDGE_FRACTION
    else:
        reg = float(estimator.reg_covar) * float(np.max(inverse_std**2))
    # With reg_covar=0 a collapsed component is repaired with a ridge of this size.
    floor = SPURIOUS_REG_FACTOR * max(reg, RIDGE_FRACTION)
    for k, covariance in enumerate(covariances):
        scaled = covariance * np.outer(inverse_std, inverse_std)
        smallest = float(np.linalg.eigvalsh(scaled)[0])
        if smallest <= floor and smallest <= SPURIOUS_RTOL:
            raise SpuriousFitError(
                f"spurious maximum: component {k} (weight {weights[k]:.3g}) has collapsed, "
                f"its smallest variance is {smallest:.1e} of the data's (each feature "
                "scaled to variance 1); such fits have an unbounded likelihood and are not "
                "compared"
            )
