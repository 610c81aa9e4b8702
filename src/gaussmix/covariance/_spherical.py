"""Spherical covariance: one variance per component (mclust VII)."""

from __future__ import annotations

import numpy as np

from ._base import CovarianceModel
from ._diag import DiagCovariance, _repair_variances


class SphericalCovariance(CovarianceModel):
    """Each component has a single variance, shape (K,)."""

    name = "spherical"
    mclust_name = "VII"
    scatter = "diag"
    per_component = True
    form = "diag"
    shape_doc = "(n_components,)"

    def shape(self, n_components, n_features):
        return (n_components,)

    def m_step(self, n_k, scatter_k, reg):
        return np.mean(scatter_k / n_k[:, None] + reg, axis=1)

    def repair(self, covariances, scale):
        # One variance per component: compare it with the mean feature variance.
        covariances = covariances.copy()
        repairs = []

        mean_scale = np.array([scale.mean()])
        for k in range(covariances.shape[0]):
            fixed, repair = _repair_variances(covariances[k : k + 1], mean_scale, k)
            covariances[k] = fixed[0]
            if repair is not None:
                repairs.append(repair)
        return covariances, repairs

    def precisions_cholesky(self, covariances):
        return 1.0 / np.sqrt(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def precisions(self, precisions_chol):
        return precisions_chol**2

    def covariances_from_precisions(self, precisions):
        return 1.0 / precisions

    def kernel_precisions(self, precisions_chol, n_components, n_features):
        return np.repeat(precisions_chol[:, None], n_features, axis=1)

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return n_features * np.log(precisions_chol)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components

    def component_covariance(self, covariances, k, n_features):
        return covariances[k] * np.eye(n_features)

    def check_precisions(self, precisions, n_components, n_features):
        self._check_shape(precisions, n_components, n_features)
        if np.any(precisions <= 0):
            raise ValueError("'spherical precision' should be positive, but has a value <= 0.")

    def sample(self, rng, means, covariances, counts):
        return DiagCovariance.sample(self, rng, means, covariances, counts)
