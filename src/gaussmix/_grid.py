"""The grid runner shared by everything that sweeps (number of components x covariance model).

:func:`run_grid` fits every cell (on joblib threads with ``n_jobs``, each cell on
one thread: one level of parallelism), records each cell's criteria in a table
row, or why it failed, and never lets one cell stop the sweep;
:func:`select_best` picks the best cell by a criterion. Model selection
(:func:`gaussmix.select_model`) and the outlier detector's noise-model search
differ only in how they fit a cell.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import thread_limit
from .covariance import get_covariance_model
from .exceptions import InvalidParameterError

__all__ = [
    "CRITERIA",
    "MCLUST_MODELS",
    "TABLE_COLUMNS",
    "CellFit",
    "ModelSelection",
    "component_counts",
    "model_names",
    "run_grid",
    "select_best",
]

# mclust's 14 models in mclust's own order (its BIC tables list them so).
MCLUST_MODELS: tuple[str, ...] = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip

CRITERIA = ("bic", "icl", "aic")

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
    best_estimator_: Any
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


@dataclass(frozen=True)
class CellFit:
    """What fitting one cell gives the grid.

    Attributes
    ----------
    estimator : GaussianMixture
        The fitted model (with ``converged_`` and ``n_iter_``).
    n : float
        Number of rows (sum of the sample weights).
    log_likelihood : float
        sum_i w_i log p(x_i) under the fitted model.
    max_log_resp : float
        sum_i w_i log max_k r_ik (ICL's penalty, halved and negated).
    n_parameters : int
        Free parameters counted by the criteria.
    extra : object
        Anything else the sweep keeps per cell (the noise weight, say).
    """

    estimator: Any
    n: float
    log_likelihood: float
    max_log_resp: float
    n_parameters: int
    extra: Any = None


def component_counts(n_components) -> list[int]:
    """The sorted distinct numbers of components of a grid, or InvalidParameterError."""
    values = [n_components] if isinstance(n_components, int | np.integer) else list(n_components)
    if not values or any(
        not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1 for k in values
    ):
        raise InvalidParameterError(
            "n_components must be a positive integer or an iterable of positive integers "
            f"(e.g. range(1, 10)); got {n_components!r}."
        )
    return sorted({int(k) for k in values})


def model_names(covariance_types) -> list[str]:
    """mclust's names of a grid's covariance models (``"all"``: every one), deduplicated."""
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


def run_grid(
    cells: Sequence[tuple[int, str]],
    fit_cell: Callable[[int, str], CellFit],
    *,
    n_jobs: int | None = None,
    callback: Callable[[dict, int, int], None] | None = None,
):
    """Fit every ``(n_components, covariance model)`` cell; a table row for each.

    Parameters
    ----------
    cells : sequence of (int, str)
        In the order of the table.
    fit_cell : callable
        ``fit_cell(k, name)`` fits one cell; whatever it raises is recorded as the
        cell's error. Warnings inside it are ignored: convergence is in the table,
        and degenerate components are repaired either way (one warning per cell
        would drown the user).
    n_jobs : int or None
        Cells fitted at once (joblib threads), each on one thread; None or 1: one
        after another, each using every thread.
    callback : callable or None
        ``callback(row, done, total)`` after each cell, in grid order, in the
        calling thread.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``TABLE_COLUMNS``, one row per cell.
    fits : dict
        The :class:`CellFit` of each cell that succeeded, by cell.
    """
    import pandas as pd
    from joblib import Parallel, delayed

    parallel = n_jobs not in (None, 1)

    def run(cell):
        k, name = cell
        start = time.perf_counter()
        try:
            with thread_limit(1 if parallel else None), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_cell(k, name)
        except Exception as exc:
            row = (k, name, *([math.nan] * 7), False, 0, time.perf_counter() - start)
            return (*row, f"{type(exc).__name__}: {exc}"), None
        bic = -2 * fit.log_likelihood + fit.n_parameters * math.log(fit.n)
        icl = bic - 2 * fit.max_log_resp
        aic = -2 * fit.log_likelihood + 2 * fit.n_parameters
        row = (
            k,
            name,
            fit.log_likelihood,
            fit.n_parameters,
            bic,
            -bic,
            icl,
            -icl,
            aic,
            bool(fit.estimator.converged_),
            int(fit.estimator.n_iter_),
            time.perf_counter() - start,
            "",
        )
        return row, fit

    if parallel:
        # A generator hands each outcome back to this thread as it is ready, in order.
        results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
            delayed(run)(cell) for cell in cells
        )
    else:
        results = (run(cell) for cell in cells)
    rows, fits = [], {}
    for done, (cell, (row, fit)) in enumerate(zip(cells, results, strict=True), start=1):
        rows.append(row)
        if fit is not None:
            fits[cell] = fit
        if callback is not None:
            callback(dict(zip(TABLE_COLUMNS, row, strict=True)), done, len(cells))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), fits


def select_best(table, fits: dict, criterion: str, what: str) -> ModelSelection:
    """The :class:`ModelSelection` of a grid: its best cell by ``criterion``.

    Raises
    ------
    ValueError
        If every cell failed: "every {what} failed", with each cell's reason.
    """
    ok = table[table["error"] == ""]
    if ok.empty:
        reasons = "; ".join(
            f"{r.covariance_type},{r.n_components}: {r.error}" for r in table.itertuples()
        )
        raise ValueError(f"every {what} failed: {reasons}")
    best = ok.loc[ok[criterion].idxmin()]
    best_key = (int(best["n_components"]), str(best["covariance_type"]))
    estimators = {cell: fit.estimator for cell, fit in fits.items()}
    return ModelSelection(
        table=table,
        criterion=criterion,
        best_estimator_=estimators[best_key],
        best_params_={"n_components": best_key[0], "covariance_type": best_key[1]},
        estimators_=estimators,
    )
