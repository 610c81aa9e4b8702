"""The parameters of a Gaussian mixture, as EM passes them between the M-step and the data.

Backends turn them into the kernels' arguments (:meth:`MixtureParams.log_norm`,
:meth:`MixtureParams.log_background` and the covariance model's
``kernel_precisions``); the M-step makes new ones from sufficient statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MixtureParams"]


@dataclass(frozen=True)
class MixtureParams:
    """Parameters of a Gaussian mixture, float64, shapes as in scikit-learn.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray, shape given by the covariance model
    precisions_chol : ndarray, same shape as ``covariances``
    noise_weight : float
        Weight of a uniform noise component (mclust's), 0 without one; the
        Gaussian ``weights`` then sum to ``1 - noise_weight``.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_chol: np.ndarray
    noise_weight: float = 0.0

    def log_norm(self, model) -> np.ndarray:
        """``log weight_k + log det(precision_chol_k) - D/2 log(2 pi)``, shape (n_components,).

        Parameters
        ----------
        model : CovarianceModel
            The covariance model the parameters belong to.
        """
        n_components, n_features = self.means.shape
        with np.errstate(divide="ignore"):
            log_weights = np.log(self.weights)
        log_det = model.log_det_cholesky(self.precisions_chol, n_components, n_features)
        return log_weights + log_det - 0.5 * n_features * math.log(2 * math.pi)

    def log_background(self, log_volume: float | None) -> float | None:
        """Log of the noise component's weighted density, ``log noise_weight - log V``.

        Parameters
        ----------
        log_volume : float or None
            log V of the uniform noise density; None when the mixture has no noise
            component (then None is returned).
        """
        if log_volume is None:
            return None
        with np.errstate(divide="ignore"):
            return float(np.log(self.noise_weight)) - log_volume
