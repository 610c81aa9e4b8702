"""Model selection over (number of components x covariance model), as mclust does.

Every cell of the grid is one :class:`~gaussmix.GaussianMixture` fit. Work is
shared where it can be: the starting partition for a given number of components
(k-means, or mclust's hierarchical clustering) is computed once and used by every
covariance model. Cells run in parallel with joblib threads (the EM kernels
release the GIL), each on one thread, so there is one level of parallelism.
A cell that fails is recorded with its reason and never stops the sweep.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.utils import check_array, check_random_state

from ._hc import mclust_start
from ._mixture import GaussianMixture
from ._validation import check_sample_weight
from .backends import thread_limit
from .covariance import get_covariance_model
from .covariance._base import RIDGE_FRACTION
from .exceptions import InvalidParameterError
from .io import DataSource

__all__ = ["MCLUST_MODELS", "ModelSelection", "select_model"]

# mclust's 14 models in mclust's own order (its BIC tables list them so).
MCLUST_MODELS: tuple[str, ...] = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip

CRITERIA = ("bic", "icl", "aic")

# A component has collapsed onto a point or a flat subset when, in some direction,
# its variance is no more than the regularisation put there (within this factor)
# and is also negligible next to the data's mean variance. The likelihood of such
# a fit is unbounded (only the regularisation keeps it finite), so its BIC means
# nothing. mclust reports such cells as NA; here they fail with the reason.
SPURIOUS_REG_FACTOR = 10.0
SPURIOUS_RTOL = 1e-3

TABLE_COLUMNS = (
    "n_components",
    "covariance_type",
    "log_likelihood",
    "n_parameters",
    "bic",
    "bic_mclust",
    "icl",
    "icl_mclust",
    "aic",
    "converged",
    "n_iter",
    "seconds",
    "error",
)


@dataclass
class ModelSelection:
    """The outcome of :func:`select_model`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (n_components, covariance_type) cell, in grid order, with
        columns ``n_components``, ``covariance_type`` (mclust's name),
        ``log_likelihood`` (total, weighted), ``n_parameters``, ``bic`` and
        ``aic`` and ``icl`` (scikit-learn's sign: lower is better),
        ``bic_mclust`` and ``icl_mclust`` (mclust's sign, ``-bic`` and ``-icl``:
        higher is better), ``converged``, ``n_iter``, ``seconds`` and ``error``
        (empty, or why the cell failed; its numbers are then NaN).
    criterion : {"bic", "icl", "aic"}
        The criterion that chose the best cell.
    best_estimator_ : GaussianMixture
        The fitted model of the best cell.
    best_params_ : dict
        ``{"n_components": K, "covariance_type": name}`` of the best cell.
    estimators_ : dict
        Fitted model of every cell that succeeded, keyed by ``(K, name)``.
    """

    table: Any
    criterion: str
    best_estimator_: GaussianMixture
    best_params_: dict
    estimators_: dict = field(repr=False)

    def top(self, n: int = 5):
        """The ``n`` best cells by the selection criterion, best first (a DataFrame)."""
        ok = self.table[self.table["error"] == ""]
        return ok.sort_values(self.criterion, kind="stable").head(n)

    def summary(self, n: int = 3) -> str:
        """A readable summary: the chosen model and the ``n`` best cells."""
        best = self.best_params_
        mclust_column = {"bic": "bic_mclust", "icl": "icl_mclust", "aic": "aic"}[self.criterion]
        lines = [
            f"Best model by {self.criterion.upper()}: {best['covariance_type']} with "
            f"{best['n_components']} component(s).",
            f"Top {n} of {len(self.table)} cells ({self.criterion}: lower is better; "
            f"{mclust_column}: mclust's sign):",
        ]
        top = self.top(n)
        for rank, row in enumerate(top.itertuples(index=False), start=1):
            lines.append(
                f"  {rank}. {row.covariance_type},{row.n_components}: "
                f"{self.criterion}={getattr(row, self.criterion):.2f}  "
                f"bic_mclust={row.bic_mclust:.2f}  log-likelihood={row.log_likelihood:.2f}  "
                f"parameters={row.n_parameters}"
            )
        failed = int((self.table["error"] != "").sum())
        if failed:
            lines.append(f"{failed} cell(s) failed; see the 'error' column of .table.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


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
    import pandas as pd
    from joblib import Parallel, delayed

    if criterion not in CRITERIA:
        raise InvalidParameterError(f"criterion must be one of {CRITERIA}; got {criterion!r}.")
    ks = _component_counts(n_components)
    models = _model_names(covariance_types)
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
    if not isinstance(X, DataSource):
        # Bad data (NaN, text, too few rows) is reported once, here, rather than as
        # the same failure in every cell. X itself goes on to the fits unchanged,
        # so a DataFrame's column names reach the fitted models.
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
    template._check_params()
    partitions = _shared_partitions(X, sample_weight, ks, seeds, template, tree_seed)

    cells = [(k, name) for k in ks for name in models]
    parallel = n_jobs not in (None, 1)

    def run(cell):
        k, name = cell
        with thread_limit(1 if parallel else None):
            return _fit_cell(X, sample_weight, k, name, seeds[k], partitions.get(k), template)

    if parallel:
        # A generator hands each outcome back to this thread as it is ready, in order.
        results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
            delayed(run)(c) for c in cells
        )
    else:
        results = (run(c) for c in cells)
    outcomes = []
    for done, outcome in enumerate(results, start=1):
        outcomes.append(outcome)
        if callback is not None:
            callback(dict(zip(TABLE_COLUMNS, outcome[0], strict=True)), done, len(cells))
    rows = [row for row, _ in outcomes]
    estimators = {cell: est for cell, (_, est) in zip(cells, outcomes, strict=True) if est}
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    ok = table[table["error"] == ""]
    if ok.empty:
        reasons = "; ".join(
            f"{r.covariance_type},{r.n_components}: {r.error}" for r in table.itertuples()
        )
        raise ValueError(f"every cell of the model selection failed: {reasons}")
    best = ok.loc[ok[criterion].idxmin()]
    best_key = (int(best["n_components"]), str(best["covariance_type"]))
    return ModelSelection(
        table=table,
        criterion=criterion,
        best_estimator_=estimators[best_key],
        best_params_={"n_components": best_key[0], "covariance_type": best_key[1]},
        estimators_=estimators,
    )


def _component_counts(n_components) -> list[int]:
    values = [n_components] if isinstance(n_components, int | np.integer) else list(n_components)
    if not values or any(
        not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1 for k in values
    ):
        raise InvalidParameterError(
            "n_components must be a positive integer or an iterable of positive integers "
            f"(e.g. range(1, 10)); got {n_components!r}."
        )
    return sorted({int(k) for k in values})


def _model_names(covariance_types) -> list[str]:
    if isinstance(covariance_types, str):
        if covariance_types == "all":
            names = []
            for name in MCLUST_MODELS:
                try:
                    names.append(get_covariance_model(name).mclust_name)
                except InvalidParameterError:
                    continue
            return names
        covariance_types = [covariance_types]
    names = [get_covariance_model(name).mclust_name for name in covariance_types]
    if not names:
        raise InvalidParameterError("covariance_types is empty; give at least one model.")
    return list(dict.fromkeys(names))


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
                partitions[k] = (tree.rows, tree.labels(k))
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
            partitions[k] = probe._start_labels(X, sample_weight)
        except Exception:  # each cell reports its own failure
            partitions[k] = None
    return partitions


def _shape(X) -> tuple[int, int]:
    if isinstance(X, DataSource):
        return X.n_rows, X.n_features
    shape = np.shape(X)
    return int(shape[0]), int(shape[1]) if len(shape) > 1 else 1


def _fit_cell(X, sample_weight, k, name, seed, partition, template):
    """Fit one cell; return its table row and the fitted model (None on failure)."""
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
    if partition is not None:
        estimator._start_partition = partition
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # Convergence is reported in the table, and degenerate components are
            # regularised either way: one warning per cell would drown the user.
            warnings.simplefilter("ignore")
            estimator.fit(X, sample_weight=sample_weight)
            try:
                _check_not_spurious(estimator)
            except SpuriousFitError as collapsed:
                estimator = _fit_without_collapse(X, sample_weight, params, seed, collapsed)
            n, log_likelihood, max_log_resp = estimator._criteria_terms(X, sample_weight)
    except Exception as exc:
        row = (k, name, *([math.nan] * 7), False, 0, time.perf_counter() - start)
        return (*row, f"{type(exc).__name__}: {exc}"), None
    finally:
        estimator.__dict__.pop("_start_partition", None)
    n_parameters = estimator._n_parameters()
    bic = -2 * log_likelihood + n_parameters * math.log(n)
    icl = bic - 2 * max_log_resp
    aic = -2 * log_likelihood + 2 * n_parameters
    row = (
        k,
        name,
        log_likelihood,
        n_parameters,
        bic,
        -bic,
        icl,
        -icl,
        aic,
        bool(estimator.converged_),
        int(estimator.n_iter_),
        time.perf_counter() - start,
        "",
    )
    return row, estimator


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
