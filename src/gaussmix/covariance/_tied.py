"""Tied covariance: one covariance matrix shared by all components (mclust EEE)."""

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


class TiedCovariance(CovarianceModel):
    """All components share one general covariance matrix, shape (D, D)."""

    name = "tied"
    mclust_name = "EEE"
    scatter = "full"
    per_component = False
    form = "full"
    shape_doc = "(n_features, n_features)"

    def shape(self, n_components, n_features):
        return (n_features, n_features)

    def m_step(self, n_k, scatter_k, reg, previous=None):
        # sum_k (W_k + n_k diag(reg)) / n, in scikit-learn's order of operations.
        return scatter_k.sum(axis=0) / n_k.sum() + np.diag(reg)

    def repair(self, covariances, scale, refit=None):
        if cholesky_or_none(covariances, scale) is not None:
            return covariances, []
        repaired, amount = repair_matrix(covariances, scale)
        return repaired, [Repair(None, "regularised", amount)]

    def precisions_cholesky(self, covariances):
        return precision_cholesky_from_covariance(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return precision_cholesky_from_precision(precisions)

    def precisions(self, precisions_chol):
        return precisions_chol @ precisions_chol.T

    def covariances_from_precisions(self, precisions):
        covariance = np.linalg.inv(precisions)
        return (covariance + covariance.T) / 2

    def kernel_precisions(self, precisions_chol, n_components, n_features):
        return np.broadcast_to(precisions_chol, (n_components, *precisions_chol.shape))

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return np.full(n_components, np.sum(np.log(np.diag(precisions_chol))))

    def n_covariance_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def component_covariance(self, covariances, k, n_features):
        return covariances

    def check_precisions(self, precisions, n_components, n_features):
        self._check_shape(precisions, n_components, n_features)
        check_spd(precisions, "'tied precision'")
