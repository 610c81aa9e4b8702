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
    "eigenvalues",
    "eigenvalues_along",
    "filled_components",
    "geometric_mean",
    "jacobi_eigh",
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
        Column ``j`` belongs to ``eigenvalues[..., j]``. Both are NaN for a
        matrix with a non-finite entry or whose eigenvalues LAPACK could not
        find (left to the model's repair).
    """
    values, vectors = _guarded(np.linalg.eigh, matrices)
    values, vectors = values[..., ::-1], vectors[..., ::-1]
    n = matrices.shape[-1]
    # eigh finds every eigenvalue to about eps * the largest, so small ones lose
    # their digits when the features' variances differ by orders of magnitude.
    # Positive-definite matrices are then decomposed again by one-sided Jacobi on
    # their Cholesky factor, which keeps the small eigenvalues' relative accuracy.
    with np.errstate(invalid="ignore"):
        ill = values[..., -1] < _EIGH_RESOLVES * values[..., 0]
    if np.any(ill):
        stack = matrices.reshape(-1, n, n)
        flat_values, flat_vectors = values.reshape(-1, n), vectors.reshape(-1, n, n)
        chosen, factors = [], []
        for i in np.flatnonzero(ill.reshape(-1)):
            try:
                factors.append(np.linalg.cholesky(stack[i]).T)
            except np.linalg.LinAlgError:
                continue  # singular: the model's repair regularises it
            chosen.append(i)
        if chosen:
            flat_values[chosen], flat_vectors[chosen] = jacobi_eigh(np.stack(factors))
    return np.maximum(values, 0.0), vectors


# Below this ratio of the smallest to the largest eigenvalue, eigh's smallest
# eigenvalues keep fewer than ~6 significant digits (its error is ~n eps times
# the largest).
_EIGH_RESOLVES = 1e-8


def jacobi_eigh(factors: np.ndarray, max_sweeps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of ``G^T G`` for each ``G`` of a stack, by one-sided Jacobi.

    Rotations of pairs of columns make the columns of ``G V`` orthogonal; their
    squared norms are the eigenvalues and ``V`` holds the eigenvectors (Hestenes'
    method). With ``G`` the transposed Cholesky factor of a positive-definite
    matrix ``A = S H S`` (``S`` diagonal), ``G`` is a column scaling of a factor
    of ``H``, and the eigenvalues come out with a relative accuracy set by the
    conditioning of ``H`` alone, however different the scales in ``S``
    (Demmel & Veselic, 1992). Disjoint pairs are rotated together (round-robin
    order), over the whole stack at once.

    Parameters
    ----------
    factors : ndarray of shape (n_matrices, n_features, n_features)
    max_sweeps : int
        Jacobi converges quadratically; a few sweeps suffice for any size met here.

    Returns
    -------
    eigenvalues : ndarray of shape (n_matrices, n_features)
        In decreasing order.
    eigenvectors : ndarray of shape (n_matrices, n_features, n_features)
        Column ``j`` belongs to ``eigenvalues[:, j]``.
    """
    columns = np.array(factors, dtype=np.float64)
    n = columns.shape[-1]
    vectors = np.broadcast_to(np.eye(n), columns.shape).copy()
    tol = n * np.finfo(np.float64).eps
    rounds = _round_robin(n)
    for _ in range(max_sweeps):
        rotated = False
        for p, q in rounds:
            col_p, col_q = columns[:, :, p], columns[:, :, q]
            alpha = np.einsum("mir,mir->mr", col_p, col_p)
            beta = np.einsum("mir,mir->mr", col_q, col_q)
            gamma = np.einsum("mir,mir->mr", col_p, col_q)
            active = np.abs(gamma) > tol * np.sqrt(alpha) * np.sqrt(beta)
            if not np.any(active):
                continue
            rotated = True
            safe_gamma = np.where(active, gamma, 1.0)
            zeta = (beta - alpha) / (2.0 * safe_gamma)
            t = np.sign(zeta) / (np.abs(zeta) + np.hypot(1.0, zeta))
            t = np.where(zeta == 0, 1.0, t)
            c = np.where(active, 1.0 / np.hypot(1.0, t), 1.0)[:, None, :]
            s = np.where(active, t, 0.0)[:, None, :] * c
            for array in (columns, vectors):
                a_p, a_q = array[:, :, p], array[:, :, q]
                array[:, :, p], array[:, :, q] = c * a_p - s * a_q, s * a_p + c * a_q
        if not rotated:
            break
    values = np.einsum("mij,mij->mj", columns, columns)
    order = np.argsort(-values, axis=1, kind="stable")
    values = np.take_along_axis(values, order, axis=1)
    vectors = np.take_along_axis(vectors, order[:, None, :], axis=2)
    return values, vectors


def _round_robin(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rounds of disjoint column pairs (p, q) that together cover every pair once."""
    players = list(range(n + n % 2))
    rounds = []
    for _ in range(len(players) - 1):
        half = len(players) // 2
        pairs = [
            (min(a, b), max(a, b))
            for a, b in zip(players[:half], players[::-1][:half], strict=True)
            if max(a, b) < n
        ]
        if pairs:
            rounds.append((np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])))
        players = [players[0], players[-1], *players[1:-1]]
    return rounds


def eigenvalues(matrices: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending) of each symmetric matrix of a stack, NaN where LAPACK fails.

    Parameters
    ----------
    matrices : ndarray of shape (..., n_features, n_features)

    Returns
    -------
    ndarray of shape (..., n_features)
    """
    return _guarded(np.linalg.eigvalsh, matrices, vectors=False)[0]


def _guarded(decompose, matrices: np.ndarray, vectors: bool = True) -> tuple:
    """``decompose`` (eigh or eigvalsh) of a stack, NaN for the matrices it cannot do.

    Degenerate data give M-steps with infinite or NaN entries, on which LAPACK
    raises ("Eigenvalues did not converge") or returns garbage depending on the
    BLAS build; here they give NaN, which the repair then handles.
    """
    n = matrices.shape[-1]
    stack = matrices.reshape(-1, n, n)
    values = np.full(stack.shape[:-1], np.nan)
    out = [values, np.full(stack.shape, np.nan)] if vectors else [values]
    finite = np.flatnonzero(np.all(np.isfinite(stack), axis=(1, 2)))
    try:
        result = decompose(stack[finite])
        for array, part in zip(out, result if vectors else [result], strict=True):
            array[finite] = part
    except np.linalg.LinAlgError:
        for i in finite:
            try:
                result = decompose(stack[i])
            except np.linalg.LinAlgError:
                continue
            for array, part in zip(out, result if vectors else [result], strict=True):
                array[i] = part
    shapes = (matrices.shape[:-1], matrices.shape)
    return tuple(array.reshape(shape) for array, shape in zip(out, shapes, strict=False))


def volumes(covariances: np.ndarray) -> np.ndarray:
    """``det(Sigma)^(1/d)`` of each matrix in a stack (..., D, D), 0 if singular.

    From the Cholesky factor where the matrix is positive definite: its pivots
    keep their relative accuracy when the features' variances differ by many
    orders of magnitude, where the smallest eigenvalue is lost to round-off of
    the largest. NaN for a matrix with a non-finite entry.
    """
    n = covariances.shape[-1]
    stack = covariances.reshape(-1, n, n)
    out = np.full(len(stack), np.nan)
    finite = np.flatnonzero(np.all(np.isfinite(stack), axis=(1, 2)))
    try:
        pivots = np.diagonal(np.linalg.cholesky(stack[finite]), axis1=-2, axis2=-1)
        positive = finite
    except np.linalg.LinAlgError:
        pivots, positive = [], []
        for i in finite:
            try:
                pivots.append(np.diagonal(np.linalg.cholesky(stack[i])))
                positive.append(i)
            except np.linalg.LinAlgError:
                # Not positive definite: singular, or indefinite from round-off.
                out[i] = geometric_mean(eigenvalues(stack[i]))
        pivots = np.reshape(pivots, (len(positive), n))
    with np.errstate(divide="ignore"):
        out[positive] = np.exp(2.0 * np.mean(np.log(pivots), axis=-1))
    return out.reshape(covariances.shape[:-2])


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
    return sorted_eigh(combination)[1]


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
