"""Diagonal-family covariances: per-component variances (mclust VVI and VII)."""

from __future__ import annotations

import numpy as np

from ._base import PIVOT_TOL, RIDGE_FRACTION, CovarianceModel, Repair


class DiagonalFamily(CovarianceModel):
    """Shared by models whose covariances are variances: precisions are reciprocals.

    Subclasses set ``shape`` and ``m_step``, and say against which data variance
    each stored variance is judged (:meth:`_reference_scale`).
    """

    scatter = "diag"
    per_component = True
    form = "diag"

    def _reference_scale(self, scale: np.ndarray) -> np.ndarray:
        """The data variance(s) matching one row of ``covariances``."""
        return scale

    def repair(self, covariances, scale):
        # Non-finite or vanishing variances are replaced by a ridge of the data's scale.
        rows = covariances.reshape(covariances.shape[0], -1).copy()
        reference = self._reference_scale(scale)
        ridge = RIDGE_FRACTION * reference
        repairs = []
        for k, row in enumerate(rows):
            bad = ~np.isfinite(row) | (row <= PIVOT_TOL * reference)
            if np.any(bad):
                rows[k] = np.where(bad, ridge, row)
                repairs.append(Repair(k, "regularised", float(ridge[bad].max())))
        return rows.reshape(covariances.shape), repairs

    def precisions_cholesky(self, covariances):
        return 1.0 / np.sqrt(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def precisions(self, precisions_chol):
        return precisions_chol**2

    def covariances_from_precisions(self, precisions):
        return 1.0 / precisions

    def check_precisions(self, precisions, n_components, n_features):
        self._check_shape(precisions, n_components, n_features)
        if np.any(precisions <= 0):
            raise ValueError(f"'{self.name} precision' should be positive, but has a value <= 0.")

    def sample(self, rng, means, covariances, counts):
        # Same draws as scikit-learn: standard normals scaled per component.
        n_features = means.shape[1]
        return np.vstack(
            [
                mean + rng.standard_normal(size=(int(n), n_features)) * np.sqrt(variances)
                for mean, variances, n in zip(means, covariances, counts, strict=True)
            ]
        )


class DiagCovariance(DiagonalFamily):
    """Each component has its own diagonal covariance, stored as variances (K, D)."""

    name = "diag"
    mclust_name = "VVI"
    shape_doc = "(n_components, n_features)"

    def shape(self, n_components, n_features):
        return (n_components, n_features)

    def m_step(self, n_k, scatter_k, reg):
        return scatter_k / n_k[:, None] + reg

    def kernel_precisions(self, precisions_chol, n_components, n_features):
        return precisions_chol

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return np.sum(np.log(precisions_chol), axis=1)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features

    def component_covariance(self, covariances, k, n_features):
        return np.diag(covariances[k])
