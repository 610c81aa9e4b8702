"""BLAS block kernel: the fast path for full precisions at larger dimension.

Same signature and results as :func:`gaussmix.kernels._numpy.estep_stats`, with
about half the floating-point work of two general matrix products per component:

- the whitening ``(x - mean_k) P_k`` is a triangular product (``dtrmm``), since
  ``P_k`` is upper triangular;
- the scatter is a symmetric rank-k update (``dsyrk``) of the rows shifted by the
  current mean ``mean_k``, then re-centred at the block's own mean:
  ``W = S - n m m^T`` with ``m`` the mean shift. The current mean is close to the
  block's mean for the component, so the re-centring loses no digits in practice
  (its error is ``eps * |m|^2 / variance``).

Arithmetic is float64 whatever the input dtype.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

from ._numpy import QUAD_MAX, _log_resp

__all__ = ["estep_stats"]


def _whitened_t(diff: np.ndarray, precision_chol: np.ndarray) -> np.ndarray:
    """``(diff @ precision_chol).T`` as a (D, Nb) Fortran array, via ``dtrmm``."""
    # diff is C-ordered (Nb, D), so diff.T is a Fortran (D, Nb) array that dtrmm can
    # overwrite in place: P^T diff^T = (diff P)^T.
    return blas.dtrmm(1.0, precision_chol, diff.T, side=0, lower=0, trans_a=1, overwrite_b=1)


def estep_stats(X, sample_weight, means, precisions_chol, log_norm, form, scatter):
    """BLAS twin of :func:`gaussmix.kernels._numpy.estep_stats` (same signature)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n_rows, n_features = X.shape
    n_components = means.shape[0]
    quad = np.empty((n_rows, n_components))
    for k in range(n_components):
        diff = X - means[k]
        if form == "full":
            y_t = _whitened_t(diff, np.asfortranarray(precisions_chol[k]))
            quad[:, k] = np.einsum("ji,ji->i", y_t, y_t)
        else:
            y = diff * precisions_chol[k]
            quad[:, k] = np.einsum("ij,ij->i", y, y)
    np.minimum(quad, QUAD_MAX, out=quad)
    log_prob_norm, log_resp = _log_resp(log_norm - 0.5 * quad)
    with np.errstate(under="ignore"):
        wresp = np.exp(log_resp)
    if sample_weight is not None:
        weight = np.asarray(sample_weight, dtype=np.float64)
        wresp *= weight[:, None]
        log_likelihood = float(weight @ log_prob_norm)
    else:
        log_likelihood = float(np.sum(log_prob_norm))
    n_k = wresp.sum(axis=0)
    mean_k = np.zeros((n_components, n_features))
    if scatter == "full":
        scatter_k = np.empty((n_components, n_features, n_features))
    else:
        scatter_k = np.empty((n_components, n_features))
    for k in range(n_components):
        r = wresp[:, k]
        diff = X - means[k]
        shift = (r @ diff) / n_k[k] if n_k[k] > 0 else np.zeros(n_features)
        if scatter == "full":
            scaled = diff * np.sqrt(r)[:, None]
            # syrk on the transposed (Fortran) view: C = A^T A, upper triangle only.
            upper = blas.dsyrk(1.0, scaled.T, trans=0, lower=0)
            second = np.triu(upper) + np.triu(upper, 1).T
            scatter_k[k] = second - n_k[k] * np.outer(shift, shift)
        else:
            scatter_k[k] = r @ (diff * diff) - n_k[k] * shift * shift
        if n_k[k] > 0:
            mean_k[k] = means[k] + shift
    return n_k, mean_k, scatter_k, log_likelihood
