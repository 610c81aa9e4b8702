"""Diagonal covariance: per-component variances, axis-aligned (mclust VVI)."""

from __future__ import annotations

import numpy as np

from ._base import PIVOT_TOL, RIDGE_FRACTION, CovarianceModel, Repair


def _repair_variances(
    variances: np.ndarray, scale: np.ndarray, component: int | None
) -> tuple[np.ndarray, Repair | None]:
    """Replace non-finite or vanishing variances by a ridge scaled to the data's variance."""
    bad = ~np.isfinite(variances) | (variances <= PIVOT_TOL * scale)
    if not np.any(bad):
        return variances, None
    ridge = RIDGE_FRACTION * scale
    fixed = np.where(bad, ridge, variances)
    return fixed, Repair(component, "regularised", float(ridge[bad].max()))


class DiagCovariance(CovarianceModel):
    """Each component has its own diagonal covariance, stored as variances (K, D)."""

    name = "diag"
    mclust_name = "VVI"
    scatter = "diag"
    per_component = True
    form = "diag"
    shape_doc = "(n_components, n_features)"

    def shape(self, n_components, n_features):
        return (n_components, n_features)

    def m_step(self, n_k, scatter_k, reg):
        return scatter_k / n_k[:, None] + reg

    def repair(self, covariances, scale):
        covariances = covariances.copy()
        repairs = []
        for k in range(covariances.shape[0]):
            covariances[k], repair = _repair_variances(covariances[k], scale, k)
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
        return precisions_chol

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return np.sum(np.log(precisions_chol), axis=1)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features

    def component_covariance(self, covariances, k, n_features):
        return np.diag(covariances[k])

    def check_precisions(self, precisions, n_components, n_features):
        self._check_shape(precisions, n_components, n_features)
        if np.any(precisions <= 0):
            raise ValueError("'diag precision' should be positive, but has a value <= 0.")

    def sample(self, rng, means, covariances, counts):
        # Same draws as scikit-learn: standard normals scaled per component.
        n_features = means.shape[1]
        return np.vstack(
            [
                mean + rng.standard_normal(size=(int(n), n_features)) * np.sqrt(variances)
                for mean, variances, n in zip(means, covariances, counts, strict=True)
            ]
        )
