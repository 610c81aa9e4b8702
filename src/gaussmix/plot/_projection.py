"""The 2-D view of data with more than two features, and of the mixture with it.

Every display draws in the coordinates ``z = (x - offset) @ matrix`` of one affine
map from the data space to the plane. A Gaussian stays Gaussian under a linear
map, so the projected mixture is exact: component k has weight ``w_k``, mean
``(mu_k - offset) @ matrix`` and covariance ``matrix.T @ Sigma_k @ matrix``. Its
ellipses and density are those of the marginal distribution of the projected
data, not a slice through the full-dimensional model.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError
from ._base import MixtureParams2D, mixture_covariances

__all__ = ["Projection", "feature_index", "make_projection"]

_PROJECTION_HELP = (
    'projection must be None, "pca", a pair of feature indices or names such as (0, 2), '
    "or an array of shape (n_features, 2)"
)


@dataclass(frozen=True)
class Projection:
    """An affine map from the data space to the plane: ``z = (x - offset) @ matrix``.

    Attributes
    ----------
    matrix : ndarray of shape (n_features, 2)
        Columns are the directions of the two axes.
    offset : ndarray of shape (n_features,)
        Subtracted before projecting (the data mean for PCA, zero otherwise).
    labels : tuple of str
        Axis labels: feature names, or ``"PC1 (72% var)"`` for principal components.
    kind : {"features", "pca", "matrix"}
        How the map was chosen.
    explained_variance_ratio : ndarray of shape (2,) or None
        For PCA, the fraction of the data's total variance along each axis.
    """

    matrix: np.ndarray
    offset: np.ndarray
    labels: tuple[str, str]
    kind: str
    explained_variance_ratio: np.ndarray | None = None

    def transform(self, X: Any) -> np.ndarray:
        """View coordinates (n_samples, 2) of points ``X`` (n_samples, n_features)."""
        return (np.asarray(X, dtype=np.float64) - self.offset) @ self.matrix

    def project_mixture(self, estimator: Any) -> MixtureParams2D:
        """The fitted mixture's distribution in the view (exact marginal of the linear map).

        Returns weights (K,), means (K, 2) and covariances (K, 2, 2):
        ``(mu_k - offset) @ matrix`` and ``matrix.T @ Sigma_k @ matrix``.
        """
        covariances = mixture_covariances(estimator)
        matrix = self.matrix
        projected = np.einsum("di,kde,ej->kij", matrix, covariances, matrix)
        # Round-off leaves the products a hair off symmetric; eigh and Cholesky want them exact.
        projected = 0.5 * (projected + np.swapaxes(projected, 1, 2))
        return MixtureParams2D(
            weights=np.asarray(estimator.weights_, dtype=np.float64),
            means=self.transform(estimator.means_),
            covariances=projected,
        )

    @property
    def is_identity(self) -> bool:
        """Whether the view is the data's own two features, in order."""
        return self.matrix.shape == (2, 2) and bool(
            np.array_equal(self.matrix, np.eye(2)) and not np.any(self.offset)
        )


def make_projection(
    projection: Any, X: np.ndarray, feature_names: list[str] | None = None
) -> Projection:
    """Build the view for data ``X`` (n_samples, n_features) from a ``projection`` spec.

    Parameters
    ----------
    projection : None, "pca", pair of int or str, or array-like of shape (n_features, 2)
        ``None``: the two features themselves when there are two, else ``"pca"``.
        ``"pca"``: the first two principal axes of ``X`` (centred, not scaled;
        standardise features of different units first). A pair picks two features
        by index or by name. A matrix gives the two axes directly.
    X : ndarray of shape (n_samples, n_features)
        The data the principal axes are computed from.
    feature_names : list of str or None
        Names of the features, for labels and for picking features by name.

    Returns
    -------
    Projection
    """
    n_features = X.shape[1]
    names = feature_names or [f"feature {i}" for i in range(n_features)]
    if projection is None:
        projection = (0, 1) if n_features == 2 else "pca"
    if isinstance(projection, str):
        if projection != "pca":
            raise InvalidParameterError(f"{_PROJECTION_HELP}; got {projection!r}.")
        return _pca(X)
    spec = np.asarray(projection, dtype=object)
    if spec.ndim == 1 and spec.shape[0] == 2:
        i, j = (feature_index(item, names, feature_names is not None) for item in spec)
        if i == j:
            raise InvalidParameterError(
                f"projection must pick two different features; got {projection!r}."
            )
        matrix = np.zeros((n_features, 2))
        matrix[i, 0] = matrix[j, 1] = 1.0
        return Projection(matrix, np.zeros(n_features), (names[i], names[j]), "features")
    if spec.ndim == 2:
        try:
            matrix = np.array(projection, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"{_PROJECTION_HELP}; got a matrix with non-numeric entries."
            ) from None
        if matrix.shape != (n_features, 2):
            raise InvalidParameterError(
                f"a projection matrix must have shape (n_features, 2) = ({n_features}, 2); "
                f"got {matrix.shape}."
            )
        if not np.all(np.isfinite(matrix)):
            raise InvalidParameterError("the projection matrix contains NaN or infinity.")
        singular = np.linalg.svd(matrix, compute_uv=False)
        if singular[1] <= 1e-12 * max(singular[0], np.finfo(np.float64).tiny):
            raise InvalidParameterError(
                "the projection matrix must have two independent columns (rank 2); its "
                "columns are parallel or zero, so the view would collapse to a line."
            )
        return Projection(matrix, np.zeros(n_features), ("axis 1", "axis 2"), "matrix")
    raise InvalidParameterError(f"{_PROJECTION_HELP}; got {projection!r}.")


def feature_index(item: Any, names: list[str], named: bool) -> int:
    """The column of a feature given by index or name, or InvalidParameterError.

    ``names`` are the model's feature names (or ``x0``, ``x1``, ...), ``named``
    whether the model has names of its own (only then may ``item`` be a name).
    """
    if isinstance(item, Integral) and not isinstance(item, bool | np.bool_):
        index = int(item)
        if not 0 <= index < len(names):
            raise InvalidParameterError(
                f"projection feature index {index} is out of range for {len(names)} features "
                f"(valid: 0 to {len(names) - 1})."
            )
        return index
    if isinstance(item, str):
        if not named:
            raise InvalidParameterError(
                f"projection names feature {item!r}, but the model has no feature names "
                "(it was fitted on an array, not a DataFrame); use feature indices."
            )
        if item not in names:
            raise InvalidParameterError(
                f"projection names feature {item!r}, which is not one of the model's "
                f"features: {', '.join(names)}."
            )
        return names.index(item)
    raise InvalidParameterError(
        f"projection features must be integers or names; got {item!r} of type "
        f"{type(item).__name__}."
    )


def _pca(X: np.ndarray) -> Projection:
    """First two principal axes of ``X``, each signed so its largest entry is positive."""
    offset = X.mean(axis=0)
    centred = X - offset
    # The covariance eigenproblem is D x D whatever the number of rows.
    scatter = centred.T @ centred / max(X.shape[0] - 1, 1)
    eigvals, eigvecs = np.linalg.eigh(scatter)
    order = np.argsort(eigvals)[::-1][:2]
    matrix = eigvecs[:, order]
    # Eigenvector signs are arbitrary; fix them so the same data give the same picture.
    signs = np.sign(matrix[np.argmax(np.abs(matrix), axis=0), [0, 1]])
    matrix = matrix * np.where(signs == 0, 1.0, signs)
    total = float(np.clip(eigvals, 0.0, None).sum())
    ratio = np.clip(eigvals[order], 0.0, None) / total if total > 0 else np.zeros(2)
    labels = tuple(f"PC{i + 1} ({100 * r:.0f}% var)" for i, r in enumerate(ratio))
    return Projection(matrix, offset, labels, "pca", ratio)  # type: ignore[arg-type]
