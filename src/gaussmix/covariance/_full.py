"""Full covariance matrices per component: mclust VVV, and the storage its relatives share."""

from __future__ import annotations

import numpy as np

from ._base import (
    CovarianceModel,
    Repair,
    check_spd,
    cholesky_or_none,
    precision_cholesky_from_covariance,
    precision_cholesky_from_precision,
    repair_matrix,
)


class FullFamily(CovarianceModel):
    """Models storing one (D, D) matrix per component, shape (K, D, D).

    Subclasses set the names, ``m_step``, ``repair`` and the parameter count.
    """

    scatter = "full"
    form = "full"
    per_component = True
    shape_doc = "(n_components, n_features, n_features)"

    def shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def singular_components(self, covariances: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Indices of the covariances that are numerically singular (see ``PIVOT_TOL``)."""
        return np.array(
            [k for k, c in enumerate(covariances) if cholesky_or_none(c, scale) is None],
            dtype=int,
        )

    def precisions_cholesky(self, covariances):
        return precision_cholesky_from_covariance(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return precision_cholesky_from_precision(precisions)

    def precisions(self, precisions_chol):
        return precisions_chol @ np.swapaxes(precisions_chol, 1, 2)

    def covariances_from_precisions(self, precisions):
        covariances = np.linalg.inv(precisions)
        return (covariances + np.swapaxes(covariances, 1, 2)) / 2

    def kernel_precisions(self, precisions_chol, n_components, n_features):
        return precisions_chol

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return np.sum(np.log(np.diagonal(precisions_chol, axis1=1, axis2=2)), axis=1)

    def component_covariance(self, covariances, k, n_features):
        return covariances[k]

    def check_precisions(self, precisions, n_components, n_features):
        self._check_shape(precisions, n_components, n_features)
        for k, precision in enumerate(precisions):
            check_spd(precision, f"'{self.name} precision' of component {k}")


class FullCovariance(FullFamily):
    """Each component has its own general covariance matrix, shape (K, D, D)."""

    name = "full"
    mclust_name = "VVV"

    def m_step(self, n_k, scatter_k, reg, previous=None):
        # W_k / n_k + diag(reg), in scikit-learn's order of operations.
        covariances = scatter_k / n_k[:, None, None]
        covariances += np.diag(reg)[None]
        return covariances

    def repair(self, covariances, scale, refit=None):
        repairs = []
        covariances = covariances.copy()
        for k, covariance in enumerate(covariances):
            if cholesky_or_none(covariance, scale) is None:
                covariances[k], amount = repair_matrix(covariance, scale)
                repairs.append(Repair(k, "regularised", amount))
        return covariances, repairs

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2
