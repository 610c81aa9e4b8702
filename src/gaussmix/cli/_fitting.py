"""``gaussmix fit``: one model, or the best of a selection, with progress and a summary."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..covariance import get_covariance_model
from ..exceptions import InvalidParameterError
from ._errors import InputError
from ._progress import EMBar, SelectionBar

if TYPE_CHECKING:
    from .._mixture import GaussianMixture
    from .._selection import ModelSelection

__all__ = [
    "DEFAULT_MAX_ITER",
    "DEFAULT_TOL",
    "FitOutcome",
    "covariance_label",
    "fit_model",
    "fit_summary",
]

#: ``fit``'s defaults, those of :func:`gaussmix.select_model`: criteria compare
#: log-likelihoods to a fraction of a unit, so each fit runs closer to
#: convergence than GaussianMixture's own defaults (1e-3, 100).
DEFAULT_TOL = 1e-5
DEFAULT_MAX_ITER = 1000


@dataclass
class FitOutcome:
    """What :func:`fit_model` gives back.

    Attributes
    ----------
    estimator : GaussianMixture
        The fitted model (the best one of a selection).
    selection : ModelSelection or None
        The selection, when more than one (components, covariance) cell was fitted.
    warnings : list of str
        Warnings raised during a direct fit (a selection records them in its table).
    """

    estimator: GaussianMixture
    selection: ModelSelection | None = None
    warnings: list[str] = field(default_factory=list)


def fit_model(
    X: Any,
    *,
    components: Sequence[int],
    covariance: Sequence[str] | Literal["all"] = "all",
    criterion: Literal["bic", "icl", "aic"] = "bic",
    init: str = "hc",
    n_init: int = 1,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> FitOutcome:
    """Fit one model, or select the best of several by ``criterion``.

    One number of components and one covariance model fit a
    :class:`~gaussmix.GaussianMixture` directly; anything more runs
    :func:`gaussmix.select_model` over every cell.

    Parameters
    ----------
    X : array-like or DataSource
        Checked data, from :func:`read_data`.
    components : sequence of int
        Numbers of components to try.
    covariance : "all" or sequence of str
        Covariance models to try.
    criterion : {"bic", "icl", "aic"}
        Chooses among several cells.
    init, n_init, max_iter, tol
        GaussianMixture's ``init_params``, ``n_init``, ``max_iter`` and ``tol``.
    seed : int or None
        ``random_state``.
    n_jobs : int or None
        Cells fitted at once by a selection.
    progress : bool or None
        Progress bar on standard error (None: when it is a terminal).

    Returns
    -------
    FitOutcome

    Raises
    ------
    InputError
        For an invalid ``init`` (or other parameter), or more components than rows.
    RuntimeError
        If the fit, or every cell of a selection, failed.
    """
    from .._fit import check_mixture_params
    from .._mixture import GaussianMixture

    params = dict(init_params=init, n_init=n_init, max_iter=max_iter, tol=tol)
    try:
        # Checked before anything touches the data.
        check_mixture_params(GaussianMixture(**params))
    except InvalidParameterError as exc:
        raise InputError(str(exc).replace("init_params", "--init")) from None
    n_rows = np.shape(X)[0]
    if max(components) > n_rows:
        raise InputError(
            f"cannot fit {max(components)} components to {n_rows} rows; ask for at most "
            f"{n_rows} with --components."
        )
    try:
        return _fit(X, components, covariance, criterion, params, seed, n_jobs, progress)
    except (InputError, InvalidParameterError):
        raise
    except (ValueError, ArithmeticError) as exc:
        raise RuntimeError(f"fitting failed: {exc}") from exc


def _fit(X, components, covariance, criterion, params, seed, n_jobs, progress) -> FitOutcome:
    from .._em import em_progress
    from .._grid import model_names
    from .._mixture import GaussianMixture
    from .._selection import select_model

    if len(components) == 1 and covariance != "all" and len(covariance) == 1:
        estimator = GaussianMixture(
            n_components=components[0],
            covariance_type=covariance[0],
            random_state=seed,
            **params,
        )
        with warnings.catch_warnings(record=True) as caught, EMBar(progress) as bar:
            # Recorded and shown as one line each, rather than with file and line.
            warnings.simplefilter("always")
            with em_progress(bar):
                estimator.fit(X)
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        return FitOutcome(estimator, None, messages)
    total = len(components) * len(model_names(covariance))
    with SelectionBar(total, criterion, progress) as bar:
        selection = select_model(
            X,
            n_components=list(components),
            covariance_types=covariance,
            criterion=criterion,
            random_state=seed,
            n_jobs=n_jobs,
            callback=bar,
            **params,
        )
    return FitOutcome(selection.best_estimator_, selection)


def covariance_label(name: str) -> str:
    """mclust's name, and scikit-learn's where it has one: ``"VVV (full)"``."""
    model = get_covariance_model(name)
    if model.name == model.mclust_name:
        return model.mclust_name
    return f"{model.mclust_name} ({model.name})"


def fit_summary(outcome: FitOutcome, X: Any, criterion: str = "bic") -> str:
    """A few lines on the fitted model (and the selection) for the terminal."""
    if outcome.selection is not None:
        return outcome.selection.summary()
    gm = outcome.estimator
    n_rows, n_features = np.shape(X)
    label = covariance_label(gm.covariance_type)
    log_likelihood = gm.score(X) * n_rows
    converged = (
        f"converged in {gm.n_iter_} iterations"
        if gm.converged_
        else f"did NOT converge in {gm.n_iter_} iterations (raise --max-iter or --tol)"
    )
    values = [f"log-likelihood {log_likelihood:.2f}", f"BIC {gm.bic(X):.2f}"]
    if criterion != "bic":
        values.append(f"{criterion.upper()} {getattr(gm, criterion)(X):.2f}")
    return (
        f"{label} with {gm.n_components} component(s) on {n_rows} rows x {n_features} "
        f"features: {converged}; {', '.join(values)} (lower is better)."
    )
