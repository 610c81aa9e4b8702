"""Full covariance: one unconstrained covariance matrix per component (mclust VVV)."""

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


class FullCovariance(CovarianceModel):
    """Each component has its own general covariance matrix, shape (K, D, D)."""

    name = "full"
    mclust_name = "VVV"
    scatter = "full"
    per_component = True
    form = "full"
    shape_doc = "(n_components, n_features, n_features)"

    def shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def m_step(self, n_k, scatter_k, reg):
        covariances = scatter_k / n_k[:, None, None]
        covariances += np.diag(reg)[None]
        return covariances

    def repair(self, covariances, scale):
        repairs = []
        covariances = covariances.copy()
        for k, covariance in enumerate(covariances):
            if cholesky_or_none(covariance, scale) is None:
                covariances[k], amount = repair_matrix(covariance, scale)
                repairs.append(Repair(k, "regularised", amount))
        return covariances, repairs

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

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def component_covariance(self, covariances, k, n_features):
        return covariances[k]

    def check_precisions(self, precisions, n_components, n_features):
        self._check_shape(precisions, n_components, n_features)
        for k, precision in enumerate(precisions):
            check_spd(precision, f"'full precision' of component {k}")
