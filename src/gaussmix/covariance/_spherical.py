"""Spherical covariances, one variance per component (K,): mclust EII and VII."""

from __future__ import annotations

import numpy as np

from ._constrained import ConstrainedMixin
from ._decomposition import regularised_scatter
from ._diag import DiagonalFamily


class _Spherical(DiagonalFamily):
    """A single variance per component, shape (K,)."""

    shape_doc = "(n_components,)"

    def shape(self, n_components, n_features):
        return (n_components,)

    def _reference_scale(self, scale):
        # One variance stands for all features: judge it against their mean.
        return np.array([scale.mean()])

    def kernel_precisions(self, precisions_chol, n_components, n_features):
        return np.repeat(precisions_chol[:, None], n_features, axis=1)

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return n_features * np.log(precisions_chol)

    def component_covariance(self, covariances, k, n_features):
        return covariances[k] * np.eye(n_features)


class SphericalCovariance(_Spherical):
    """Each component has a single variance, shape (K,)."""

    name = "spherical"
    mclust_name = "VII"

    def m_step(self, n_k, scatter_k, reg, previous=None):
        # mean_j(W_kj / n_k + reg_j), in scikit-learn's order of operations.
        return np.mean(scatter_k / n_k[:, None] + reg, axis=1)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components


class EIICovariance(ConstrainedMixin, _Spherical):
    """One variance shared by all components and features (EII), stored as (K,)."""

    name = mclust_name = "EII"
    per_component = False
    fully_shared = True

    def m_step(self, n_k, scatter_k, reg, previous=None):
        total = regularised_scatter(n_k, scatter_k, reg).sum()
        return np.full(len(n_k), total / (n_k.sum() * scatter_k.shape[1]))

    def n_covariance_parameters(self, n_components, n_features):
        return 1
