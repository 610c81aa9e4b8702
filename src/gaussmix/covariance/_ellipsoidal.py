"""Ellipsoidal models with constraints, stored as (K, D, D): mclust VEE, EVE, VVE, EEV, VEV, EVV.

``Sigma_k = lambda_k D_k A_k D_k^T`` (volume, shape, orientation; see
``_decomposition``). EEV and EVV have closed-form M-steps; VEE, VEV, EVE and VVE
iterate (``_solvers``), warm-started from the previous covariances.
"""

from __future__ import annotations

import numpy as np

from ._constrained import ConstrainedMixin
from ._decomposition import (
    common_orientation,
    compose,
    eigenvalues_along,
    filled_components,
    regularised_scatter,
    sorted_eigh,
    unit_determinant,
    volumes,
)
from ._full import FullFamily
from ._solvers import common_orientation_mm, shared_shape, shared_shape_matrix

__all__ = [
    "EEVCovariance",
    "EVECovariance",
    "EVVCovariance",
    "VEECovariance",
    "VEVCovariance",
    "VVECovariance",
]


def _orientations(n_features: int) -> int:
    """Free parameters of one orientation: d (d - 1) / 2."""
    return n_features * (n_features - 1) // 2


class _Constrained(ConstrainedMixin, FullFamily):
    per_component = False


class VEECovariance(_Constrained):
    """Variable volume, equal shape and orientation (VEE): ``lambda_k C``, det C = 1.

    The M-step alternates ``C`` and the volumes (Celeux & Govaert, 1995; mclust's
    ``msvee``), starting from the previous volumes.
    """

    name = mclust_name = "VEE"

    def m_step(self, n_k, scatter_k, reg, previous=None):
        scatter = regularised_scatter(n_k, scatter_k, reg)
        start = None if previous is None else volumes(previous)
        volume, shared, _, self.m_step_converged = shared_shape_matrix(
            n_k, scatter, start, self.tol, self.max_iter
        )
        return volume[:, None, None] * shared

    def keep_empty(self, covariances, previous, empty):
        # Own volume, shared C.
        filled = filled_components(covariances, empty)
        if filled.size:
            donor = covariances[filled[0]]
            with np.errstate(divide="ignore", invalid="ignore"):
                # A singular donor gives NaN, which the repair then regularises.
                shared = donor / volumes(donor)
            covariances[empty] = volumes(previous[empty])[:, None, None] * shared
        return covariances

    def n_covariance_parameters(self, n_components, n_features):
        return n_components + (n_features - 1) + _orientations(n_features)


class _CommonOrientation(_Constrained):
    """EVE and VVE: one orientation, found by the MM algorithm of Browne & McNicholas."""

    equal_volume: bool

    def m_step(self, n_k, scatter_k, reg, previous=None):
        scatter = regularised_scatter(n_k, scatter_k, reg)
        if previous is None:
            # The pooled scatter's eigenvectors: EEE's orientation.
            start = sorted_eigh(scatter.sum(axis=0))[1]
        else:
            start = common_orientation(previous)
        orientation, eigenvalues, _, self.m_step_converged = common_orientation_mm(
            n_k, scatter, start, self.equal_volume, self.tol, self.max_iter
        )
        return compose(orientation, eigenvalues)

    def keep_empty(self, covariances, previous, empty):
        # The new shared orientation (and volume, for EVE); its own eigenvalues
        # (shape, and volume for VVE), each along the closest new axis.
        filled = filled_components(covariances, empty)
        if filled.size == 0:
            return covariances
        orientation = common_orientation(covariances[filled])
        own = eigenvalues_along(orientation, previous[empty])
        if self.equal_volume:
            own = unit_determinant(own)[0] * volumes(covariances[filled[0]])
        covariances[empty] = compose(orientation, own)
        return covariances


class EVECovariance(_CommonOrientation):
    """Equal volume and orientation, variable shape (EVE): ``lambda D A_k D^T``."""

    name = mclust_name = "EVE"
    equal_volume = True

    def n_covariance_parameters(self, n_components, n_features):
        return 1 + n_components * (n_features - 1) + _orientations(n_features)


class VVECovariance(_CommonOrientation):
    """Equal orientation, variable volume and shape (VVE): ``lambda_k D A_k D^T``."""

    name = mclust_name = "VVE"
    equal_volume = False

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features + _orientations(n_features)


class EEVCovariance(_Constrained):
    """Equal volume and shape, variable orientation (EEV): ``lambda D_k A D_k^T``.

    Closed form (Celeux & Govaert, 1995): ``D_k`` are the eigenvectors of ``S_k``
    and ``lambda A = sum_k Omega_k / n`` for their eigenvalues ``Omega_k``, both in
    decreasing order.
    """

    name = mclust_name = "EEV"

    def m_step(self, n_k, scatter_k, reg, previous=None):
        eigenvalues, orientations = sorted_eigh(regularised_scatter(n_k, scatter_k, reg))
        shared = eigenvalues.sum(axis=0) / n_k.sum()
        return compose(orientations, np.tile(shared, (len(n_k), 1)))

    def keep_empty(self, covariances, previous, empty):
        # Shared eigenvalues, own orientation.
        filled = filled_components(covariances, empty)
        if filled.size:
            shared = sorted_eigh(covariances[filled[0]])[0]
            orientations = sorted_eigh(previous[empty])[1]
            covariances[empty] = compose(orientations, np.tile(shared, (len(empty), 1)))
        return covariances

    def n_covariance_parameters(self, n_components, n_features):
        return 1 + (n_features - 1) + n_components * _orientations(n_features)


class VEVCovariance(_Constrained):
    """Equal shape, variable volume and orientation (VEV): ``lambda_k D_k A D_k^T``.

    ``D_k`` are the eigenvectors of ``S_k`` whatever the volumes and the shape
    (sorted alike), so the M-step alternates volumes and shape on the
    eigenvalues alone (Celeux & Govaert, 1995), starting from the previous volumes.
    """

    name = mclust_name = "VEV"

    def m_step(self, n_k, scatter_k, reg, previous=None):
        eigenvalues, orientations = sorted_eigh(regularised_scatter(n_k, scatter_k, reg))
        start = None if previous is None else volumes(previous)
        volume, shape, _, self.m_step_converged = shared_shape(
            n_k, eigenvalues, start, self.tol, self.max_iter
        )
        return compose(orientations, volume[:, None] * shape)

    def keep_empty(self, covariances, previous, empty):
        # Shared shape, own volume and orientation.
        filled = filled_components(covariances, empty)
        if filled.size:
            shape = unit_determinant(sorted_eigh(covariances[filled[0]])[0])[0]
            eigenvalues, orientations = sorted_eigh(previous[empty])
            own_volume = unit_determinant(eigenvalues)[1]
            covariances[empty] = compose(orientations, own_volume[:, None] * shape)
        return covariances

    def n_covariance_parameters(self, n_components, n_features):
        return n_components + (n_features - 1) + n_components * _orientations(n_features)


class EVVCovariance(_Constrained):
    """Equal volume, variable shape and orientation (EVV): ``lambda C_k``, det C_k = 1.

    Closed form: ``C_k = S_k / det(S_k)^(1/d)``, ``lambda = sum_k det(S_k)^(1/d) / n``
    (mclust's ``msevv``).
    """

    name = mclust_name = "EVV"

    def m_step(self, n_k, scatter_k, reg, previous=None):
        scatter = regularised_scatter(n_k, scatter_k, reg)
        root = volumes(scatter)
        positive = root > 0
        # A component without spread fits any C_k (take I); a singular one none.
        spreadless = ~np.any(scatter, axis=(1, 2))
        fallback = np.where(spreadless[:, None, None], np.eye(scatter.shape[-1]), np.nan)
        safe = np.where(positive, root, 1.0)[:, None, None]
        shapes = np.where(positive[:, None, None], scatter / safe, fallback)
        return shapes * (root.sum() / n_k.sum())

    def keep_empty(self, covariances, previous, empty):
        # Shared volume, own shape and orientation.
        filled = filled_components(covariances, empty)
        if filled.size:
            volume = volumes(covariances[filled[0]])
            own = previous[empty] / volumes(previous[empty])[:, None, None]
            covariances[empty] = own * volume
        return covariances

    def n_covariance_parameters(self, n_components, n_features):
        return 1 - n_components + n_components * n_features * (n_features + 1) // 2
