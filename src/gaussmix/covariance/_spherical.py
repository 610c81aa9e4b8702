"""Spherical covariance: one variance per component (mclust VII)."""

from __future__ import annotations

import numpy as np

from ._diag import DiagonalFamily


class SphericalCovariance(DiagonalFamily):
    """Each component has a single variance, shape (K,)."""

    name = "spherical"
    mclust_name = "VII"
    shape_doc = "(n_components,)"

    def shape(self, n_components, n_features):
        return (n_components,)

    def _reference_scale(self, scale):
        # One variance stands for all features: judge it against their mean.
        return np.array([scale.mean()])

    def m_step(self, n_k, scatter_k, reg):
        return np.mean(scatter_k / n_k[:, None] + reg, axis=1)

    def kernel_precisions(self, precisions_chol, n_components, n_features):
        return np.repeat(precisions_chol[:, None], n_features, axis=1)

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return n_features * np.log(precisions_chol)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components

    def component_covariance(self, covariances, k, n_features):
        return covariances[k] * np.eye(n_features)
