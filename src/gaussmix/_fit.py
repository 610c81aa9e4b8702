"""Fitting a mixture estimator: the one path of every fit in gaussmix.

:func:`fit_mixture` is what :meth:`GaussianMixture.fit`, every cell of
:func:`~gaussmix.select_model` and the noise model of
:class:`~gaussmix.OutlierDetector` run: check the parameters, validate ``X``, build
the :class:`~gaussmix._setup.FitSetup`, run the EM loop from the starts of
:func:`~gaussmix._init.initial_params`, and set the fitted attributes.
:func:`partial_fit_step` is stepwise EM on the same set-up and start.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import TYPE_CHECKING

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import validate_data

from . import _validation as check
from ._em import EMResult, fit_em, warn_repairs
from ._init import INIT_METHODS, Partition, initial_params, kmeans_partition
from ._mstep import check_log_likelihood, m_step
from ._online import OnlineState, step_size
from ._online import update as online_update
from ._params import MixtureParams
from ._setup import FitSetup
from .backends import DaskRows, dask_rows, is_dask_collection, resolve
from .covariance import CovarianceModel, get_covariance_model
from .exceptions import InvalidParameterError, NumericalError
from .io import DataSource
from .kernels import KERNEL_NAMES

if TYPE_CHECKING:
    from ._mixture import GaussianMixture

__all__ = [
    "check_mixture_params",
    "fit_mixture",
    "fitted_params",
    "partial_fit_step",
    "set_dask_features",
    "set_source_features",
    "start_partition",
]


def check_mixture_params(estimator: GaussianMixture) -> CovarianceModel:
    """Raise InvalidParameterError unless the mixture's parameters are valid.

    Parameters
    ----------
    estimator : GaussianMixture

    Returns
    -------
    model : CovarianceModel
        The covariance model ``covariance_type`` names.
    """
    check.check_scalar_param(estimator.n_components, "n_components", Integral, minimum=1)
    model = get_covariance_model(estimator.covariance_type)
    check.check_scalar_param(estimator.tol, "tol", Real, minimum=0)
    check.check_scalar_param(estimator.reg_covar, "reg_covar", Real, minimum=0, options=("auto",))
    check.check_scalar_param(estimator.max_iter, "max_iter", Integral, minimum=0)
    check.check_scalar_param(estimator.n_init, "n_init", Integral, minimum=1)
    check.check_init_params(estimator.init_params, INIT_METHODS)
    check.check_bool_param(estimator.warm_start, "warm_start")
    check.check_scalar_param(estimator.verbose, "verbose", Integral, minimum=0)
    check.check_scalar_param(estimator.verbose_interval, "verbose_interval", Integral, minimum=1)
    check.check_scalar_param(
        estimator.block_size, "block_size", Integral, minimum=1, allow_none=True
    )
    check.check_option(estimator.kernel, "kernel", KERNEL_NAMES)
    check.check_scalar_param(estimator.learning_decay, "learning_decay", Real)
    if not 0.5 < estimator.learning_decay <= 1:
        raise InvalidParameterError(
            f"learning_decay must be in (0.5, 1]; got {estimator.learning_decay!r}."
        )
    check.check_scalar_param(estimator.learning_offset, "learning_offset", Real, minimum=0)
    return model


def fit_mixture(
    estimator: GaussianMixture,
    X,
    sample_weight=None,
    *,
    partitions: Callable[[int, np.random.RandomState], Partition | None] | None = None,
    log_volume: float | None = None,
    quiet: bool = False,
    stacklevel: int = 2,
) -> EMResult:
    """Fit ``estimator`` to ``X`` by EM: the path of every mixture fit in gaussmix.

    :meth:`GaussianMixture.fit`, the cells of :func:`~gaussmix.select_model` and the
    noise model of :class:`~gaussmix.OutlierDetector` all fit through here:
    validate ``X``, build the :class:`~gaussmix._setup.FitSetup`, run the EM loop
    from ``n_init`` starts of each ``init_params`` method (each start from
    :func:`~gaussmix._init.initial_params`), warn about repairs and convergence, and
    set the fitted attributes.

    Parameters
    ----------
    estimator : GaussianMixture
    X : array-like of shape (n_samples, n_features), DataSource or Dask collection
        A Dask array or DataFrame stays on its cluster: every pass is one graph.
    sample_weight : array-like of shape (n_samples,) or None
        For Dask rows also a Dask array or Series aligned with them.
    partitions : callable or None
        ``partitions(start, random_state)`` gives the :class:`~gaussmix._init.Partition`
        start number ``start`` (from 0) begins from, or None for its ``init_params``
        method; it may draw from ``random_state``, the fit's own.
    log_volume : float or None
        Fit mclust's uniform noise component of density ``exp(-log_volume)`` besides
        the Gaussians; its starting weight is what each start's partition leaves.
        The fitted weights are then those of the Gaussian part, renormalised to sum
        to one (the noise weight is in the returned ``params``). Every start is then
        a partition: ``n_init`` of them, whatever ``init_params``.
    quiet : bool
        Do not warn about repaired components or convergence (the caller records
        the outcome).
    stacklevel : int
        Where the warnings point, as for :func:`warnings.warn` but counted from this
        function's caller: the default 2 is the code that called the caller (the
        user's call of ``fit``).

    Returns
    -------
    result : EMResult
        The best start's outcome (its parameters in float64).
    """
    model = check_mixture_params(estimator)
    warm = estimator.warm_start and hasattr(estimator, "converged_")
    X = _validated_rows(estimator, X)
    n_samples, n_features = X.shape
    n_components = estimator.n_components
    if n_samples < n_components:
        raise ValueError(
            f"Expected n_samples >= n_components but got n_components = {n_components}, "
            f"n_samples = {n_samples}; reduce n_components or give more rows."
        )
    if warm and estimator.means_.shape != (n_components, n_features):
        raise ValueError(
            f"warm_start=True but the fitted model has means of shape "
            f"{estimator.means_.shape} and X has {n_features} features with "
            f"n_components={n_components}; set warm_start=False to fit from scratch."
        )
    setup = _fit_setup(estimator, X, sample_weight, model, log_volume)
    estimator.__dict__.pop("_online", None)
    methods = check.check_init_params(estimator.init_params, INIT_METHODS)
    # n_init starts of each method, in the order given.
    schedule = itertools.chain.from_iterable(
        itertools.repeat(method, estimator.n_init) for method in methods
    )
    starts = itertools.count()

    def initialize() -> tuple[MixtureParams, list]:
        if warm:
            return fitted_params(estimator), []
        method, start = next(schedule), next(starts)
        partition = None if partitions is None else partitions(start, setup.random_state)
        return initial_params(setup, method, partition)

    n_starts = estimator.n_init * (len(methods) if log_volume is None else 1)
    result = fit_em(
        setup,
        initialize,
        n_init=1 if warm else n_starts,
        tol=estimator.tol,
        max_iter=estimator.max_iter,
        start_lower_bound=estimator.lower_bound_ if warm else -np.inf,
        verbose=estimator.verbose,
        verbose_interval=estimator.verbose_interval,
    )
    params = result.params
    if log_volume is not None:
        params = MixtureParams(
            params.weights / params.weights.sum(),
            params.means,
            params.covariances,
            params.precisions_chol,
        )
    attributes = _fitted_attributes(params, model, X.dtype)
    if not quiet:
        warn_repairs(result.repairs, model, stacklevel=stacklevel + 1)
    if not (quiet or result.converged) and estimator.max_iter > 0:
        advice = (
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data."
            if log_volume is None
            else "The best initialization of the model with a noise component did not "
            "converge. Increase max_iter or tol, through the mixture parameter "
            "(mixture=GaussianMixture(max_iter=...))."
        )
        warnings.warn(advice, ConvergenceWarning, stacklevel=stacklevel + 1)
    for name, value in attributes.items():
        setattr(estimator, name, value)
    estimator.converged_ = result.converged
    estimator.n_iter_ = result.n_iter
    estimator.lower_bound_ = float(result.lower_bound)
    estimator.lower_bounds_ = [float(b) for b in result.lower_bounds]
    return result


def partial_fit_step(estimator: GaussianMixture, X, sample_weight=None) -> None:
    """One step of stepwise EM on the batch ``X``; see :meth:`GaussianMixture.partial_fit`.

    The first call builds the set-up (regularisation, data scale, kernel) from its
    batch and starts from the fitted model or from ``init_params``; the running
    statistics go from call to call with the estimator.
    """
    model = check_mixture_params(estimator)
    online = getattr(estimator, "_online", None)
    fitted = hasattr(estimator, "converged_")
    X = validate_data(
        estimator, X, dtype=check.float_dtypes(X), reset=not fitted, ensure_min_samples=1
    )
    check.check_magnitude(X)
    if online is None:
        if not fitted and X.shape[0] < estimator.n_components:
            raise ValueError(
                f"The first batch has {X.shape[0]} rows but n_components = "
                f"{estimator.n_components}; it needs at least as many rows as components."
            )
        setup = _fit_setup(estimator, X, sample_weight, model)
        if fitted:
            params, repairs = fitted_params(estimator), []
        else:
            first = check.check_init_params(estimator.init_params, INIT_METHODS)[0]
            params, repairs = initial_params(setup, first)
        # The regularisation and data scale are fixed by the first batch.
        online = OnlineState(reg=setup.reg, scale=setup.scale, kernel=setup.kernel)
        backend = setup.backend
        bounds = []
    else:
        weight = check.check_sample_weight(sample_weight, X.shape[0], 1)
        backend = resolve(
            X, weight, n_components=estimator.n_components, block_size=estimator.block_size
        )
        params, repairs = fitted_params(estimator), []
        bounds = getattr(estimator, "lower_bounds_", [])
    eps10 = 10 * float(np.finfo(X.dtype).eps)
    batch = check_log_likelihood(backend.estep(online.kernel, model, params))
    online.scale.offer(batch)
    steps = online.steps + 1
    stats = online_update(
        online.stats, batch, step_size(steps, estimator.learning_offset, estimator.learning_decay)
    )
    params, step_repairs = m_step(stats, model, online.reg, eps10, online.scale, previous=params)
    attributes = _fitted_attributes(params, model, X.dtype)
    warn_repairs([(steps, r) for r in repairs + step_repairs], model, stacklevel=3)
    # Only a batch that gave a finite model moves the stream's state.
    online.stats, online.steps = stats, steps
    for name, value in attributes.items():
        setattr(estimator, name, value)
    estimator._online = online
    estimator.converged_ = False
    estimator.n_iter_ = steps
    estimator.lower_bound_ = batch.log_likelihood / batch.weight_sum
    estimator.lower_bounds_ = [*bounds, estimator.lower_bound_]


def start_partition(estimator: GaussianMixture, X, sample_weight=None) -> Partition | None:
    """The partition ``estimator``'s first start would begin from, or None.

    Only ``init_params="kmeans"`` starts from a partition (of the start's sample of
    rows). Model selection computes it once per number of components and shares it
    across covariance models through :func:`fit_mixture`'s ``partitions``.
    """
    if estimator.init_params != "kmeans":
        return None
    model = check_mixture_params(estimator)
    X = _validated_rows(estimator, X, values=False)
    return kmeans_partition(_fit_setup(estimator, X, sample_weight, model))


def fitted_params(estimator) -> MixtureParams:
    """The fitted parameters as float64."""
    return MixtureParams(
        np.asarray(estimator.weights_, dtype=np.float64),
        np.asarray(estimator.means_, dtype=np.float64),
        np.asarray(estimator.covariances_, dtype=np.float64),
        np.asarray(estimator.precisions_cholesky_, dtype=np.float64),
    )


def set_source_features(estimator, source: DataSource) -> None:
    """``n_features_in_`` and ``feature_names_in_`` from a data source."""
    if source.n_rows < 2:
        raise ValueError(
            f"Found {source.n_rows} sample(s) in {source.path} while a minimum of 2 is required."
        )
    estimator.n_features_in_ = source.n_features
    if source.feature_names is not None:
        estimator.feature_names_in_ = source.feature_names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def _validated_rows(estimator, X, *, values: bool = True):
    """``X`` validated for a fit, and the estimator's feature attributes set from it.

    In-memory data are validated by scikit-learn's ``validate_data``; a data source
    and the rows of a Dask collection keep their rows where they are. With
    ``values``, the values are checked too (finite, and small enough for their
    squares: a pass over a Dask collection).
    """
    if isinstance(X, DataSource):
        set_source_features(estimator, X)
        return X
    if is_dask_collection(X):
        X = dask_rows(X)
        set_dask_features(estimator, X)
        return X.checked() if values else X
    X = validate_data(estimator, X, dtype=check.float_dtypes(X), ensure_min_samples=2)
    if values:
        check.check_magnitude(X)
    return X


def set_dask_features(estimator, rows: DaskRows) -> None:
    """``n_features_in_`` and ``feature_names_in_`` from the rows of a Dask collection."""
    if rows.n_rows < 2:
        raise ValueError(
            f"Found {rows.n_rows} sample(s) in the Dask collection while a minimum of 2 "
            "is required."
        )
    estimator.n_features_in_ = rows.n_features
    if rows.feature_names is not None:
        estimator.feature_names_in_ = rows.feature_names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def _fit_setup(estimator, X, sample_weight, model, log_volume=None) -> FitSetup:
    return FitSetup.create(
        X,
        sample_weight,
        model=model,
        n_components=estimator.n_components,
        reg_covar=estimator.reg_covar,
        kernel=estimator.kernel,
        block_size=estimator.block_size,
        random_state=estimator.random_state,
        weights_init=estimator.weights_init,
        means_init=estimator.means_init,
        precisions_init=estimator.precisions_init,
        log_volume=log_volume,
    )


def _fitted_attributes(
    params: MixtureParams, model: CovarianceModel, dtype
) -> dict[str, np.ndarray]:
    """The fitted attributes in ``dtype``, or a ValueError naming what overflows it.

    EM runs in float64; a float32 fit casts its parameters at the end, and
    precisions of a very tight component can exceed float32's 3.4e38.
    """
    exact = {
        "weights_": params.weights,
        "means_": params.means,
        "covariances_": params.covariances,
        "precisions_cholesky_": params.precisions_chol,
        "precisions_": model.precisions(params.precisions_chol),
    }
    with np.errstate(over="ignore"):
        fitted = {name: value.astype(dtype) for name, value in exact.items()}
    for name, value in fitted.items():
        if not np.all(np.isfinite(value)):
            largest = float(np.max(np.abs(exact[name])))
            raise NumericalError(
                f"The fitted {name} reach {largest:.3g}, which overflows "
                f"{np.dtype(dtype).name}. Rescale X so that its features have standard "
                "deviations nearer 1, increase reg_covar (or use reg_covar='auto'), or fit "
                "the data as float64."
            )
    return fitted
