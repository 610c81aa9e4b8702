"""The set-up of one fit: everything EM needs besides the parameters, built once.

:meth:`FitSetup.create` validates the user's initial arrays, picks the backend and
the kernel, and fixes the regularisation; the start (:mod:`gaussmix._init`) and the
EM loop (:mod:`gaussmix._em`) read it and never change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
from sklearn.utils import check_random_state

from . import _validation as check
from ._mstep import DataScale
from .backends import Backend, DaskRows, checked_weight, resolve
from .covariance import RIDGE_FRACTION, CovarianceModel
from .kernels import get_kernel

__all__ = ["FitSetup"]


@dataclass(frozen=True)
class FitSetup:
    """Everything one EM fit on validated data needs besides the parameters.

    Attributes
    ----------
    backend : Backend
        Where the rows live; every pass over them goes through it.
    kernel : namespace
        From :func:`gaussmix.kernels.get_kernel`.
    model : CovarianceModel
    n_components : int
    reg : ndarray of shape (n_features,)
        Added to the diagonal of every covariance by the M-step.
    eps10 : float
        ``10 * np.finfo(dtype).eps`` for the data's dtype (scikit-learn's offset of
        the soft counts).
    scale : DataScale
        The data's per-feature variance (computed when first needed).
    random_state : RandomState
        Every random draw of the starts.
    weights_init, means_init, precisions_init : ndarray or None
        The user's initial parameters, validated; None where the start draws them.
    log_volume : float or None
        log V of a uniform noise component of density ``1/V`` fitted with the
        Gaussians (mclust's noise model); None without one.
    start_cache : dict
        What one start leaves for the next (the ``"hc"`` tree when it covers every
        row, so it does not depend on the random state).
    """

    backend: Backend
    kernel: SimpleNamespace
    model: CovarianceModel
    n_components: int
    reg: np.ndarray
    eps10: float
    scale: DataScale
    random_state: np.random.RandomState
    weights_init: np.ndarray | None = None
    means_init: np.ndarray | None = None
    precisions_init: np.ndarray | None = None
    log_volume: float | None = None
    start_cache: dict = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        X,
        sample_weight,
        *,
        model: CovarianceModel,
        n_components: int,
        reg_covar: float | str,
        kernel: str,
        block_size: int | None,
        random_state,
        weights_init=None,
        means_init=None,
        precisions_init=None,
        log_volume: float | None = None,
    ) -> FitSetup:
        """The set-up for validated data ``X`` and a mixture's (validated) parameters.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features), DataSource or DaskRows
        sample_weight : array-like of shape (n_samples,) or None
            Checked here (for Dask rows: a Dask array, or an array-like, aligned
            with the rows' chunks).
        model : CovarianceModel
        n_components : int
        reg_covar : float or "auto"
            ``"auto"`` regularises by ``RIDGE_FRACTION`` of each feature's variance
            (one pass over the data, here).
        kernel : {"auto", "numpy", "compiled", "numba"}
        block_size : int or None
        random_state : int, RandomState or None
        weights_init, means_init, precisions_init : array-like or None
            Checked against ``n_components``, the features and ``model``.
        log_volume : float or None
            See the class attributes.
        """
        n_samples, n_features = X.shape
        if isinstance(X, DaskRows):
            weight = checked_weight(sample_weight, X.row_chunks, n_components)
        else:
            weight = check.check_sample_weight(sample_weight, n_samples, n_components)
        if weights_init is not None:
            weights_init = check.check_init_weights(weights_init, n_components)
        if means_init is not None:
            means_init = check.check_init_means(means_init, n_components, n_features)
        if precisions_init is not None:
            precisions_init = check.check_init_precisions(
                precisions_init, model, n_components, n_features
            )
        kernels = get_kernel(kernel)
        backend = resolve(X, weight, n_components=n_components, block_size=block_size)
        scale = DataScale(backend, kernels, X.dtype)
        reg = (
            RIDGE_FRACTION * scale()
            if isinstance(reg_covar, str)
            else np.full(n_features, float(reg_covar))
        )
        return cls(
            backend=backend,
            kernel=kernels,
            model=model,
            n_components=n_components,
            reg=reg,
            eps10=10 * float(np.finfo(X.dtype).eps),
            scale=scale,
            random_state=check_random_state(random_state),
            weights_init=weights_init,
            means_init=means_init,
            precisions_init=precisions_init,
            log_volume=log_volume,
        )
