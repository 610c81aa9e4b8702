"""Diagonal covariances, stored as variances (K, D): mclust EEI, VEI, EVI and VVI."""

from __future__ import annotations

import numpy as np

from ._base import PIVOT_TOL, RIDGE_FRACTION, CovarianceModel, Repair
from ._constrained import ConstrainedMixin
from ._decomposition import filled_components, regularised_scatter, unit_determinant
from ._solvers import shared_shape


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

    def _bad_entries(self, covariances: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """(K, entries) mask of variances that are non-finite or numerically zero."""
        rows = covariances.reshape(covariances.shape[0], -1)
        return ~np.isfinite(rows) | (rows <= PIVOT_TOL * self._reference_scale(scale))

    def singular_components(self, covariances: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Indices of the components with a numerically zero or non-finite variance."""
        return np.flatnonzero(self._bad_entries(covariances, scale).any(axis=1))

    def repair(self, covariances, scale, refit=None):
        # Non-finite or vanishing variances are replaced by a ridge of the data's scale.
        rows = covariances.reshape(covariances.shape[0], -1).copy()
        ridge = RIDGE_FRACTION * self._reference_scale(scale)
        bad_entries = self._bad_entries(covariances, scale)
        repairs = []
        for k in np.flatnonzero(bad_entries.any(axis=1)):
            bad = bad_entries[k]
            rows[k] = np.where(bad, ridge, rows[k])
            repairs.append(Repair(int(k), "regularised", float(ridge[bad].max())))
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


class _AxisAligned(DiagonalFamily):
    """One row of variances per component, shape (K, D)."""

    shape_doc = "(n_components, n_features)"

    def shape(self, n_components, n_features):
        return (n_components, n_features)

    def kernel_precisions(self, precisions_chol, n_components, n_features):
        return precisions_chol

    def log_det_cholesky(self, precisions_chol, n_components, n_features):
        return np.sum(np.log(precisions_chol), axis=1)

    def component_covariance(self, covariances, k, n_features):
        return np.diag(covariances[k])


class DiagCovariance(_AxisAligned):
    """Each component has its own diagonal covariance, stored as variances (K, D)."""

    name = "diag"
    mclust_name = "VVI"

    def m_step(self, n_k, scatter_k, reg, previous=None):
        # W_k / n_k + reg, in scikit-learn's order of operations.
        return scatter_k / n_k[:, None] + reg

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features


class EEICovariance(ConstrainedMixin, _AxisAligned):
    """One diagonal covariance shared by all components (EEI): ``lambda A``.

    Stored as (K, D) with equal rows.
    """

    name = mclust_name = "EEI"
    per_component = False
    fully_shared = True

    def m_step(self, n_k, scatter_k, reg, previous=None):
        pooled = regularised_scatter(n_k, scatter_k, reg).sum(axis=0) / n_k.sum()
        return np.tile(pooled, (len(n_k), 1))

    def n_covariance_parameters(self, n_components, n_features):
        return n_features


class VEICovariance(ConstrainedMixin, _AxisAligned):
    """Diagonal covariances of one shape and variable volumes (VEI): ``lambda_k A``.

    The M-step alternates the volumes and the shape (Celeux & Govaert, 1995),
    starting from the previous volumes.
    """

    name = mclust_name = "VEI"
    per_component = False

    def m_step(self, n_k, scatter_k, reg, previous=None):
        values = regularised_scatter(n_k, scatter_k, reg)
        start = None if previous is None else unit_determinant(previous)[1]
        volume, shape, _, self.m_step_converged = shared_shape(
            n_k, values, start, self.tol, self.max_iter
        )
        return volume[:, None] * shape

    def keep_empty(self, covariances, previous, empty):
        # Own volume, shared shape.
        filled = filled_components(covariances, empty)
        if filled.size:
            shape = unit_determinant(covariances[filled[0]])[0]
            covariances[empty] = unit_determinant(previous[empty])[1][:, None] * shape
        return covariances

    def n_covariance_parameters(self, n_components, n_features):
        return n_components + n_features - 1


class EVICovariance(ConstrainedMixin, _AxisAligned):
    """Diagonal covariances of one volume and variable shapes (EVI): ``lambda A_k``.

    Closed form: ``A_k ~ diag(S_k)``, ``lambda = sum_k det(diag(S_k))^(1/d) / n``.
    """

    name = mclust_name = "EVI"
    per_component = False

    def m_step(self, n_k, scatter_k, reg, previous=None):
        shapes, root = unit_determinant(regularised_scatter(n_k, scatter_k, reg))
        return shapes * (root.sum() / n_k.sum())

    def keep_empty(self, covariances, previous, empty):
        # Shared volume, own shape.
        filled = filled_components(covariances, empty)
        if filled.size:
            volume = unit_determinant(covariances[filled[0]])[1]
            covariances[empty] = volume * unit_determinant(previous[empty])[0]
        return covariances

    def n_covariance_parameters(self, n_components, n_features):
        return 1 + n_components * (n_features - 1)
