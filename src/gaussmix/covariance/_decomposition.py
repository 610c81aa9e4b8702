"""Volumes, shapes and orientations: the algebra shared by the constrained models.

Celeux & Govaert (1995) write a covariance as ``Sigma_k = lambda_k D_k A_k D_k^T``:
a volume ``lambda_k = det(Sigma_k)^(1/d)``, a shape ``A_k`` (diagonal, determinant
1) and an orientation ``D_k`` (orthogonal). mclust's three letters say whether
each part is Equal across components, Variable, or the Identity. The helpers here
take covariances apart and put them together; all of them are batched over
components and use numpy.linalg only (see ``_base``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "common_orientation",
    "compose",
    "eigenvalues_along",
    "filled_components",
    "geometric_mean",
    "regularised_scatter",
    "sorted_eigh",
    "unit_determinant",
    "volumes",
]

# Weights of the components in the combination whose eigenvectors give a shared
# orientation: distinct and irrational, so that two directions along which the
# components' variances differ are never tied in the combination by accident.
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def regularised_scatter(n_k: np.ndarray, scatter_k: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """``W_k + n_k diag(reg)``: the scatter with the regularisation as a prior.

    Parameters
    ----------
    n_k : ndarray of shape (n_components,)
    scatter_k : ndarray of shape (n_components, n_features[, n_features])
    reg : ndarray of shape (n_features,)

    Returns
    -------
    ndarray, same shape as ``scatter_k`` (a new array).
    """
    if scatter_k.ndim == 2:
        return scatter_k + n_k[:, None] * reg
    scatter = scatter_k.copy()
    diagonal = np.arange(scatter.shape[-1])
    scatter[:, diagonal, diagonal] += n_k[:, None] * reg
    return scatter


def geometric_mean(values: np.ndarray) -> np.ndarray:
    """Geometric mean over the last axis of non-negative values (0 where one is 0)."""
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(np.maximum(values, 0.0)), axis=-1))


def unit_determinant(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split positive values (last axis) into a product-1 shape and a volume.

    Returns ``(shape, volume)`` with ``values = volume[..., None] * shape``. Where
    all values are 0 the shape is ones, as good as any for something without
    spread; where only some are, no shape of determinant 1 fits and it is NaN
    (left to the model's repair).
    """
    volume = geometric_mean(values)
    positive = volume > 0
    safe = np.where(positive, volume, 1.0)[..., None]
    spreadless = np.all(values <= 0, axis=-1, keepdims=True)
    shape = np.where(positive[..., None], values / safe, np.where(spreadless, 1.0, np.nan))
    return shape, volume


def sorted_eigh(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues in decreasing order (clipped at 0) and the matching eigenvectors.

    Parameters
    ----------
    matrices : ndarray of shape (..., n_features, n_features)
        Symmetric positive semi-definite.

    Returns
    -------
    eigenvalues : ndarray of shape (..., n_features)
    eigenvectors : ndarray of shape (..., n_features, n_features)
        Column ``j`` belongs to ``eigenvalues[..., j]``.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrices)
    return np.maximum(eigenvalues[..., ::-1], 0.0), eigenvectors[..., ::-1]


def volumes(covariances: np.ndarray) -> np.ndarray:
    """``det(Sigma)^(1/d)`` of each matrix in a stack (..., D, D), 0 if singular."""
    return geometric_mean(np.linalg.eigvalsh(covariances))


def compose(orientations: np.ndarray, eigenvalues: np.ndarray) -> np.ndarray:
    """``D diag(e) D^T`` for each component.

    Parameters
    ----------
    orientations : ndarray of shape (n_components, D, D) or (D, D)
    eigenvalues : ndarray of shape (n_components, D)

    Returns
    -------
    ndarray of shape (n_components, D, D), exactly symmetric.
    """
    scaled = orientations * eigenvalues[:, None, :]
    matrices = scaled @ np.swapaxes(np.broadcast_to(orientations, scaled.shape), -1, -2)
    return (matrices + np.swapaxes(matrices, -1, -2)) / 2


def common_orientation(covariances: np.ndarray) -> np.ndarray:
    """An orthogonal matrix that diagonalises every covariance of a stack, if one does.

    Covariances with a shared orientation commute, and the eigenvectors of a
    generic combination of them are their common eigenvectors. Each covariance is
    scaled to volume 1 so that none dominates. When the covariances do not share
    an orientation (user-given initial precisions, say) this is a compromise: the
    orientation of their weighted average.

    Parameters
    ----------
    covariances : ndarray of shape (n_components, D, D)

    Returns
    -------
    ndarray of shape (D, D)
    """
    n_components = covariances.shape[0]
    weights = 1.0 + (_GOLDEN * np.arange(1, n_components + 1)) % 1.0
    volume = volumes(covariances)
    weights = weights / np.where(volume > 0, volume, 1.0)
    combination = np.einsum("k,kij->ij", weights, covariances)
    return np.linalg.eigh(combination)[1][:, ::-1]


def eigenvalues_along(orientation: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Each covariance's eigenvalues, each paired with the closest column of ``orientation``.

    A covariance that keeps its own eigenvalues under a new shared orientation
    (an empty component under EVE or VVE) needs to know which eigenvalue goes
    along which axis: pairs are taken greedily by the largest squared cosine
    between an eigenvector and a column.

    Parameters
    ----------
    orientation : ndarray of shape (D, D)
    covariances : ndarray of shape (n, D, D)

    Returns
    -------
    ndarray of shape (n, D)
        Column ``j`` holds the eigenvalue whose eigenvector is paired with
        ``orientation[:, j]``.
    """
    eigenvalues, eigenvectors = sorted_eigh(covariances)
    paired = np.empty_like(eigenvalues)
    for out, values, vectors in zip(paired, eigenvalues, eigenvectors, strict=True):
        overlap = (orientation.T @ vectors) ** 2
        for _ in range(len(values)):
            column, eigen = np.unravel_index(np.argmax(overlap), overlap.shape)
            out[column] = values[eigen]
            overlap[column, :] = -1.0
            overlap[:, eigen] = -1.0
    return paired


def filled_components(covariances: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Indices of the components not in ``empty`` whose new covariance is finite.

    Their covariances carry the shared parts an empty component takes on (an
    M-step on degenerate data may leave NaN, which the repair then handles).
    """
    rows = covariances.reshape(len(covariances), -1)
    finite = np.flatnonzero(np.all(np.isfinite(rows), axis=1))
    return np.setdiff1d(finite, empty)
