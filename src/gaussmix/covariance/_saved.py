"""Checks of a covariance model's saved parameters: symmetric positive definite, consistent.

A model file holds each covariance, its precision and the precision's Cholesky
factor; :meth:`CovarianceModel.check_saved` uses these checks so that a loaded
model predicts from parameters that belong together.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_component", "check_saved_covariances"]

# Round-off allowance for the consistency checks: a multiple of the dtype's
# epsilon times the number of features (entries are sums of D products) times,
# for quantities that go through an inverse, the covariance's condition number:
# a float32 model fitted in float64 and then rounded is consistent only to that.
SLACK = 64
# Asymmetry allowed in a covariance, relative to sqrt(C_ii C_jj): loose, because
# the kernels' scatter is symmetric only to round-off of the statistics,
# which on degenerate components can be large next to the regularised diagonal.
SYMMETRY_TOLERANCE = 1e-3


def check_saved_covariances(
    model,
    covariances: np.ndarray,
    precisions: np.ndarray,
    precisions_chol: np.ndarray,
    n_components: int,
    n_features: int,
    eps: float,
) -> None:
    """Raise ValueError unless the covariances are SPD and the precisions match them."""
    # Values are finite but may be huge: overflow must fail a check, not warn.
    with np.errstate(all="ignore"):
        factors = model.kernel_precisions(precisions_chol, n_components, n_features)
        log_det = model.log_det_cholesky(precisions_chol, n_components, n_features)
        products = model.precisions(precisions_chol)
        for k in range(n_components if model.per_component else 1):
            which = f"component {k}" if model.per_component else "the shared covariance"
            cov = model.component_covariance(covariances, k, n_features)
            factor = factors[k] if model.form == "full" else np.diag(factors[k])
            check_component(
                which,
                cov,
                factor,
                log_det[k],
                model.component_covariance(precisions, k, n_features),
                model.component_covariance(products, k, n_features),
                eps,
            )


def check_component(
    which: str,
    cov: np.ndarray,
    factor: np.ndarray,
    log_det: float,
    precision: np.ndarray,
    product: np.ndarray,
    eps: float,
) -> None:
    """One component's covariance, precision factor, log-det and precision, all (D, D).

    The factor is the reference: predictions use it. The covariance is judged by
    its lower triangle, which is what its Cholesky factor and eigenvalues are
    computed from; the upper triangle must match it only loosely, since the
    scatter statistics are not always exactly symmetric. Rounding a positive
    definite covariance to the dtype moves its eigenvalues by up to
    ``D * eps / 2`` times the largest, so a float32 copy of an ill-conditioned
    float64 covariance may have a slightly negative one; that much is allowed.
    """
    n_features = cov.shape[0]
    allowance = SLACK * n_features * eps
    diag = np.sqrt(np.abs(np.diag(cov)))
    if not np.all(np.abs(cov - cov.T) <= SYMMETRY_TOLERANCE * np.outer(diag, diag)):
        raise ValueError(f"covariances_ of {which} is not symmetric.")
    cov = np.tril(cov) + np.tril(cov, -1).T
    eigenvalues = np.linalg.eigvalsh(cov)
    if not (eigenvalues[-1] > 0 and eigenvalues[0] >= -allowance * eigenvalues[-1]):
        raise ValueError(
            f"covariances_ of {which} is not positive definite (eigenvalues from "
            f"{eigenvalues[0]:.3g} to {eigenvalues[-1]:.3g})."
        )
    # The log-det is computed from the factor's diagonal, which gives det(factor)
    # only for a triangular factor with a positive diagonal.
    sign, log_abs_det = np.linalg.slogdet(factor)
    if not (sign > 0 and abs(log_det - log_abs_det) <= allowance * max(1.0, abs(log_abs_det))):
        raise ValueError(
            f"precisions_cholesky_ of {which} is not triangular with a positive diagonal."
        )
    singular = np.linalg.svd(factor, compute_uv=False)
    condition = (singular[0] / singular[-1]) ** 2  # of the covariance
    residual = np.abs(factor.T @ cov @ factor - np.eye(n_features)).max()
    if not residual <= allowance * condition:
        raise ValueError(
            f"precisions_cholesky_ of {which} is not a Cholesky factor of the inverse of its "
            f"covariance (max |P^T C P - I| = {residual:.3g}, allowed "
            f"{allowance * condition:.3g})."
        )
    scale = np.sqrt(np.outer(np.diag(product), np.diag(product)))
    if not np.all(np.abs(precision - product) <= allowance * scale):
        raise ValueError(
            f"precisions_ of {which} is not the product of precisions_cholesky_ with its "
            "transpose."
        )
