"""Iterative M-steps of the models whose covariances have no closed form.

Each solver minimises, over the model's constrained covariances,

    Q = sum_k [ n_k log det(Sigma_k) + tr(S_k Sigma_k^-1) ]

(minus twice the expected complete-data log-likelihood, up to a constant) for
regularised scatters ``S_k``. Every update is an exact minimisation over one
block of parameters with the others fixed, or a majorise-minimise step, so ``Q``
never increases from the starting point. Started from the previous EM iterate,
the M-step is then a generalised EM step, however few iterations are run: the
likelihood never decreases (without regularisation; with it, EM follows the
regularised objective, as scikit-learn's does). In round-off, a step that would
raise ``Q`` ends the iterations at the previous iterate.

Iterations stop when ``Q`` changes by less than ``tol * (1 + |Q|)`` (mclust's
criterion) or after ``max_iter`` updates. When the data are degenerate (a zero
variance, say, with no regularisation) the solvers stop and return non-finite
values rather than raise; the model's repair then regularises.
"""

from __future__ import annotations

import numpy as np

from ._base import triangular_inverse
from ._decomposition import eigenvalues as eigenvalues_of
from ._decomposition import unit_determinant, volumes

__all__ = ["common_orientation_mm", "shared_shape", "shared_shape_matrix"]


def _converged(q: float, q_previous: float, tol: float) -> bool:
    # Also stops on a non-finite Q: degenerate data, left to the repair.
    return not np.isfinite(q) or abs(q - q_previous) <= tol * (1.0 + abs(q))


def _went_up(q: float, q_previous: float) -> bool:
    """Whether Q rose beyond round-off: every update lowers it in exact arithmetic.

    On near-singular scatters (no regularisation) the updates lose their digits;
    the solvers then keep the previous iterate, so the step stays monotone.
    """
    return q > q_previous + 1e-12 * (1.0 + abs(q_previous))


def _log_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """sum(weights * log(values)) over the positive values.

    A component (or axis) without any spread has a zero variance: it takes no
    part in the shared estimates, is left out of the stopping rule, and is
    regularised by the model's repair afterwards.
    """
    positive = values > 0
    logs = np.where(positive, np.log(np.where(positive, values, 1.0)), 0.0)
    # NaN (degenerate data) propagates and stops the iterations.
    return float(np.sum(weights * np.where(np.isnan(values), np.nan, logs)))


def _start_volumes(volumes0: np.ndarray | None, trace: np.ndarray, n_k: np.ndarray) -> np.ndarray:
    """Previous volumes where usable, else the spherical estimate tr(S_k) / (d n_k)."""
    fallback = trace / n_k
    if volumes0 is None:
        return fallback
    usable = np.isfinite(volumes0) & (volumes0 > 0)
    return np.where(usable, volumes0, fallback)


def _safe_inverse(values: np.ndarray) -> np.ndarray:
    """1 / values where positive, 0 where 0 (no spread weighs nothing), NaN where NaN.

    A subnormal value has an infinite inverse, which stops the iterations.
    """
    positive = values > 0
    with np.errstate(over="ignore"):
        return np.where(positive, 1.0 / np.where(positive, values, 1.0), values * 0.0)


def shared_shape(
    n_k: np.ndarray,
    values: np.ndarray,
    volumes0: np.ndarray | None,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Volumes and one shared shape for variances along fixed axes (mclust VEI, VEV).

    Minimises ``sum_k [n_k d log lambda_k + sum_j values_kj / (lambda_k a_j)]``
    over volumes ``lambda_k > 0`` and a shape ``a`` with ``prod(a) = 1``,
    alternating the exact updates of Celeux & Govaert (1995):
    ``a ~ sum_k values_k / lambda_k`` and ``lambda_k = sum_j values_kj / a_j / (d n_k)``.

    Parameters
    ----------
    n_k : ndarray of shape (n_components,)
    values : ndarray of shape (n_components, n_features)
        Regularised scatter along each axis: the diagonal of ``S_k`` (VEI), or
        its eigenvalues in decreasing order (VEV).
    volumes0 : ndarray of shape (n_components,) or None
        Starting volumes (the previous iterate's); None starts from the
        spherical estimate.
    tol, max_iter
        Stopping rule (see the module docstring).

    Returns
    -------
    volumes : ndarray of shape (n_components,)
    shape : ndarray of shape (n_features,)
    n_iter : int
    converged : bool
        False when the iterations stopped at ``max_iter`` rather than on the
        tolerance (or on round-off, or degenerate data: nothing more to gain).
    """
    n_features = values.shape[1]
    volume = _start_volumes(volumes0, values.sum(axis=1) / n_features, n_k)
    q_previous = np.inf
    shape = np.ones(n_features)
    n_iter = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while n_iter < max_iter:
            n_iter += 1
            last = volume, shape
            shape = unit_determinant(_safe_inverse(volume) @ values)[0]
            volume = (values / shape).sum(axis=1) / (n_features * n_k)
            # After the volume update the trace term is n d, a constant.
            q = n_features * _log_sum(n_k, volume)
            if _went_up(q, q_previous):
                volume, shape = last
                break
            if _converged(q, q_previous, tol):
                break
            q_previous = q
        else:
            return volume, shape, n_iter, False
    return volume, shape, n_iter, True


def shared_shape_matrix(
    n_k: np.ndarray,
    scatter: np.ndarray,
    volumes0: np.ndarray | None,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Volumes and one shared matrix of determinant 1 (mclust VEE).

    ``Sigma_k = lambda_k C``: alternates ``C ~ sum_k S_k / lambda_k`` (scaled to
    determinant 1) and ``lambda_k = tr(S_k C^-1) / (d n_k)`` (Celeux & Govaert
    1995, as in mclust's ``msvee``).

    Parameters
    ----------
    n_k : ndarray of shape (n_components,)
    scatter : ndarray of shape (n_components, n_features, n_features)
    volumes0 : ndarray of shape (n_components,) or None
    tol, max_iter
        Stopping rule.

    Returns
    -------
    volumes : ndarray of shape (n_components,)
    shared : ndarray of shape (n_features, n_features)
        ``C``, determinant 1 (NaN when the data are degenerate).
    n_iter : int
    converged : bool
        False when the iterations stopped at ``max_iter`` rather than on the
        tolerance (or on round-off, or degenerate data: nothing more to gain).
    """
    n_features = scatter.shape[-1]
    trace = np.trace(scatter, axis1=1, axis2=2)
    volume = _start_volumes(volumes0, trace / n_features, n_k)
    shared = np.full((n_features, n_features), np.nan)
    q_previous = np.inf
    n_iter = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while n_iter < max_iter:
            n_iter += 1
            last = volume, shared
            combined = np.einsum("k,kij->ij", _safe_inverse(volume), scatter)
            if not np.all(np.isfinite(combined)):
                break
            determinant_root = volumes(combined)
            if not determinant_root > 0:
                shared = np.full_like(combined, np.nan)
                break
            shared = combined / determinant_root
            try:
                inverse_chol = triangular_inverse(np.linalg.cholesky(shared))
            except np.linalg.LinAlgError:
                shared = np.full_like(combined, np.nan)
                break
            inverse = inverse_chol.T @ inverse_chol
            volume = np.einsum("kij,ji->k", scatter, inverse) / (n_features * n_k)
            q = n_features * _log_sum(n_k, volume)
            if _went_up(q, q_previous):
                volume, shared = last
                break
            if _converged(q, q_previous, tol):
                break
            q_previous = q
        else:
            return volume, shared, n_iter, False
    return volume, shared, n_iter, True


def _eigenvalues_along(
    n_k: np.ndarray, scatter: np.ndarray, orientation: np.ndarray, equal_volume: bool
) -> tuple[np.ndarray, float]:
    """Best eigenvalues for a fixed shared orientation, and the objective Q there.

    ``b_k = diag(D^T S_k D)``. With variable volumes and shapes (VVE) each
    component's eigenvalues are ``b_k / n_k``; with one volume (EVE) the shapes
    are ``b_k`` scaled to determinant 1 and the volume is
    ``sum_k det(diag(b_k))^(1/d) / n``.
    """
    along = np.einsum("ij,kil,lj->kj", orientation, scatter, orientation)
    if equal_volume:
        shapes, root = unit_determinant(along)
        eigenvalues = shapes * (root.sum() / n_k.sum())
    else:
        eigenvalues = along / n_k[:, None]
    q = _log_sum(n_k[:, None], eigenvalues) + float(np.sum(along * _safe_inverse(eigenvalues)))
    return eigenvalues, q


def _nearest_orthogonal_minimiser(gradient: np.ndarray) -> np.ndarray:
    """The orthogonal X minimising tr(X^T G): ``-U V^T`` for ``G = U S V^T``.

    NaN when ``G`` is not finite (eigenvalues overflowing on degenerate data).
    """
    if not np.all(np.isfinite(gradient)):
        return np.full_like(gradient, np.nan)
    try:
        left, _, right = np.linalg.svd(gradient)
    except np.linalg.LinAlgError:  # "SVD did not converge": entries of wild range
        return np.full_like(gradient, np.nan)
    return -(left @ right)


def common_orientation_mm(
    n_k: np.ndarray,
    scatter: np.ndarray,
    orientation0: np.ndarray,
    equal_volume: bool,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One orientation shared by all components (mclust EVE and VVE).

    ``Sigma_k = D diag(e_k) D^T`` with ``e_k`` free (VVE) or of equal products
    (EVE). Alternates the exact eigenvalues for the current ``D`` with the two
    majorise-minimise updates of ``D`` of Browne & McNicholas (2014), as mclust
    does: with ``f(D) = sum_k tr(D^T S_k D L_k)``, ``L_k = diag(1 / e_k)``,

    - MM1 bounds ``S_k`` by its largest eigenvalue ``w_k``:
      ``D = argmin tr(D^T F)``, ``F = sum_k (S_k - w_k I) D_old L_k``;
    - MM2 bounds ``L_k`` by its largest entry ``m_k``, on ``Y = D^T``:
      ``Y = argmin tr(Y^T H)``, ``H = sum_k (L_k - m_k I) D_old^T S_k``.

    Each minimiser over orthogonal matrices comes from one SVD.

    Parameters
    ----------
    n_k : ndarray of shape (n_components,)
    scatter : ndarray of shape (n_components, n_features, n_features)
    orientation0 : ndarray of shape (n_features, n_features)
        Starting orientation (the previous iterate's).
    equal_volume : bool
        EVE (True) or VVE (False).
    tol, max_iter
        Stopping rule.

    Returns
    -------
    orientation : ndarray of shape (n_features, n_features)
    eigenvalues : ndarray of shape (n_components, n_features)
        ``e_k``, in the order of the orientation's columns.
    n_iter : int
    converged : bool
        False when the iterations stopped at ``max_iter`` rather than on the
        tolerance (or on round-off, or degenerate data: nothing more to gain).
    """
    orientation = orientation0
    eigenvalues, q = _eigenvalues_along(n_k, scatter, orientation, equal_volume)
    largest = eigenvalues_of(scatter)[:, -1]
    n_iter = 0
    if not np.all(np.isfinite(eigenvalues)):
        return orientation, eigenvalues, n_iter, True
    # Overflow on degenerate data gives a non-finite step, which is not taken.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while n_iter < max_iter:
            n_iter += 1
            last = orientation, eigenvalues
            inverse = _safe_inverse(eigenvalues)
            # MM1: sum_k S_k D L_k - w_k D L_k; D L_k scales D's columns.
            product = scatter @ orientation
            gradient = np.einsum("kij,kj->ij", product, inverse) - orientation * (
                largest @ inverse
            )
            orientation = _nearest_orthogonal_minimiser(gradient)
            # MM2: sum_k (L_k - m_k I) D^T S_k, with D the MM1 update.
            projected = np.swapaxes(scatter @ orientation, 1, 2)  # D^T S_k (S_k symmetric)
            excess = inverse - inverse.max(axis=1, keepdims=True)
            gradient = np.einsum("ki,kij->ij", excess, projected)
            orientation = _nearest_orthogonal_minimiser(gradient).T
            q_previous = q
            eigenvalues, q = _eigenvalues_along(n_k, scatter, orientation, equal_volume)
            if not np.all(np.isfinite(eigenvalues)) or _went_up(q, q_previous):
                orientation, eigenvalues = last
                break
            if _converged(q, q_previous, tol):
                break
        else:
            return orientation, eigenvalues, n_iter, False
    return orientation, eigenvalues, n_iter, True
