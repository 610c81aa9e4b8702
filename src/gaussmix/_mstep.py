"""The M-step: new parameters from sufficient statistics, and the data's scale it needs.

:func:`m_step` follows scikit-learn's estimator exactly (so that the same start
gives the same numbers) and then repairs what scikit-learn would abort on; the
covariance model does the model-specific part. :class:`DataScale` is each
feature's variance in the data, which judges and regularises degenerate
covariances. Nothing here knows where the rows live: the data scale asks the
backend for the data's moments.
"""

from __future__ import annotations

import math

import numpy as np

from ._params import MixtureParams
from ._suffstats import SuffStats
from ._validation import check_variance_range
from .covariance import CovarianceModel, Repair
from .exceptions import NumericalError

__all__ = ["DataScale", "check_log_likelihood", "m_step"]


class DataScale:
    """Each feature's (weighted) variance in the data, shape (n_features,), positive.

    Used to judge and regularise degenerate covariances and by
    ``reg_covar="auto"``. Statistics whose responsibilities sum to one per row
    (every E-step's) pool to the data's own moments, so :meth:`offer` fills the
    value for free; otherwise the first call makes one pass over the data.
    Data too narrow for a model in ``dtype`` (the fitted parameters' dtype) to
    hold its precisions are refused with a ValueError when the value is first
    known, before any M-step uses it.
    """

    def __init__(self, backend, kernel, dtype=np.float64) -> None:
        self._backend, self._kernel = backend, kernel
        self._dtype = dtype
        self._value: np.ndarray | None = None

    def offer(self, stats: SuffStats) -> None:
        """Take the value from statistics whose responsibilities sum to one per row."""
        if self._value is None:
            n, mean, scatter = stats.total()
            variance = np.diagonal(scatter) if scatter.ndim == 2 else scatter
            value = _positive_scale(variance / n, mean)
            check_variance_range(value, self._dtype)
            self._value = value

    def __call__(self) -> np.ndarray:
        if self._value is None:
            self.offer(self._backend.moments(self._kernel))
        return self._value


# A feature whose variance is below (this x its mean)^2 is constant up to the
# round-off of its mean: 100 copies of 0.1 give a variance of ~1e-33, not zero.
_CONSTANT_RTOL = 1e3 * np.finfo(np.float64).eps


def _positive_scale(variance: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Replace the variance of constant features by a scale that is still positive."""
    varies = variance > (_CONSTANT_RTOL * mean) ** 2
    positive = variance[varies]
    fallback = positive.mean() if positive.size else max(float(np.mean(mean**2)), 1.0)
    return np.where(varies, variance, fallback)


def check_log_likelihood(stats: SuffStats) -> SuffStats:
    """``stats``, or a NumericalError if the E-step's log-likelihood is not finite.

    With finite parameters the kernels give every row a finite log-density, but
    the (weighted) sum of those of rows extremely far out can still overflow.
    """
    if not math.isfinite(stats.log_likelihood):
        raise NumericalError(
            f"The log-likelihood of the data under the current parameters is "
            f"{stats.log_likelihood}: it overflows float64, as it does when rows lie "
            "extremely far outside every component (1e150 standard deviations, say). "
            "Check the data for extreme values, standardise the features, or use "
            "reg_covar='auto'."
        )
    return stats


def m_step(
    stats: SuffStats,
    model: CovarianceModel,
    reg: np.ndarray,
    eps10: float,
    scale: DataScale,
    previous: MixtureParams | None = None,
    weight_total: float | None = None,
    noise: bool = False,
) -> tuple[MixtureParams, list[Repair]]:
    """New parameters from sufficient statistics.

    Follows scikit-learn's estimator exactly (soft counts offset by ``10 * eps``
    of the data's dtype) so that the same start gives the same numbers, and then
    repairs what scikit-learn would abort on.

    Parameters
    ----------
    stats : SuffStats
    model : CovarianceModel
    reg : ndarray of shape (n_features,)
        Added to the diagonal of every covariance.
    eps10 : float
        ``10 * np.finfo(dtype).eps`` for the data's dtype.
    scale : DataScale
        The data's per-feature variance.
    previous : MixtureParams or None
        Parameters going into this M-step. Iterative covariance M-steps start from
        its covariances; an empty component keeps its mean from here (the data's
        overall mean when None) and what the model lets it keep of its covariance.
    weight_total : float or None
        Divide soft counts by this instead of their sum (scikit-learn's
        initialisation divides by the number of samples).
    noise : bool
        The mixture has a uniform noise component whose soft count is what the
        Gaussian counts leave of ``stats.weight_sum``; its weight is set from it.

    Returns
    -------
    params : MixtureParams
    repairs : list of Repair
    """
    n_k = stats.n_k + eps10
    noise_weight = 0.0
    if noise:
        # A difference of sums: it loses digits only when the noise count is a
        # tiny fraction of the total, where its weight is about zero anyway.
        noise_count = max(stats.weight_sum - float(stats.n_k.sum()), 0.0)
        total = float(n_k.sum()) + noise_count
        weights, noise_weight = n_k / total, noise_count / total
    else:
        weights = n_k / (n_k.sum() if weight_total is None else weight_total)
    means = stats.mean_k * (stats.n_k / n_k)[:, None]
    empty = np.flatnonzero(stats.n_k < eps10)
    if empty.size:
        means[empty] = stats.total()[1] if previous is None else previous.means[empty]
    repairs = [Repair(int(k), "kept", float(stats.n_k[k])) for k in empty]
    # The model decides what an empty component keeps of its previous covariance.
    covariances, regularised = model.estimate(
        n_k,
        stats.scatter_k,
        reg,
        scale(),
        previous=None if previous is None else previous.covariances,
        empty=empty,
    )
    repairs.extend(regularised)
    try:
        precisions_chol = model.precisions_cholesky(covariances)
    except np.linalg.LinAlgError:
        precisions_chol = np.full_like(covariances, np.nan)
    params = MixtureParams(weights, means, covariances, precisions_chol, noise_weight)
    _check_finite(params, model)
    return params, repairs


def _check_finite(params: MixtureParams, model: CovarianceModel) -> None:
    """Raise NumericalError unless every parameter of an M-step is finite.

    The covariance models repair what they can; this is the guarantee that no
    NaN or infinite parameter goes on into the next E-step or out of the fit.
    """
    arrays = {
        "weights": params.weights,
        "means": params.means,
        "covariances": params.covariances,
        "precisions": params.precisions_chol,
    }
    bad = [name for name, value in arrays.items() if not np.all(np.isfinite(value))]
    if bad:
        raise NumericalError(
            f"The M-step of covariance_type={model.name!r} gave non-finite "
            f"{' and '.join(bad)}: the statistics of the data overflow or lose all their "
            "digits in float64. Standardise the features (for example with "
            "sklearn.preprocessing.StandardScaler), or use reg_covar='auto'."
        )
