"""Fused numba kernels, the fast twins of :mod:`gaussmix.kernels._numpy`.

One call handles one row block in a single sweep over its rows. For each row the
differences ``d_k = x - mean_k`` to every component's current mean are formed
once and used twice: for the quadratic forms of the E-step and, once the row's
responsibilities are known, for the statistics, accumulated about the current
means (``sum r d`` and ``sum r d d^T``). At the end of the block they are
re-centred at the block's own means, ``W = S - m m^T / n``; the current mean is
close to the block's mean for its component, so no digits are lost in practice.
Arithmetic and accumulators are float64 for either input dtype.

All jitted functions are ``nogil`` so blocks can run on threads, and ``cache``
so a second process pays no compile time. ``fastmath`` is not used: the
log-sum-exp relies on IEEE semantics for -inf.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._numpy import QUAD_MAX

__all__ = ["estep_stats"]

_JIT = {"nogil": True, "cache": True, "nopython": True}
_QUAD_MAX = QUAD_MAX


@numba.jit(**_JIT)
def _estep_block(X, sample_weight, has_weight, means, prec_chol, log_norm, full, full_scatter):
    """One sweep: per-component n, sum r d, sum r d d^T (about the current means)."""
    n_rows, n_features = X.shape
    n_components = means.shape[0]
    diff = np.empty((n_components, n_features))
    log_prob = np.empty(n_components)
    n_k = np.zeros(n_components)
    shift_sums = np.zeros((n_components, n_features))
    if full_scatter:
        second = np.zeros((n_components, n_features, n_features))
    else:
        second = np.zeros((n_components, 1, n_features))
    log_likelihood = 0.0
    for i in range(n_rows):
        row_max = -np.inf
        for k in range(n_components):
            for j in range(n_features):
                diff[k, j] = X[i, j] - means[k, j]
            quad = 0.0
            if full:
                # y_j = sum_{l <= j} d_l P[l, j], P upper triangular.
                for j in range(n_features):
                    acc = 0.0
                    for l in range(j + 1):
                        acc += diff[k, l] * prec_chol[k, l, j]
                    quad += acc * acc
            else:
                for j in range(n_features):
                    t = diff[k, j] * prec_chol[k, 0, j]
                    quad += t * t
            log_prob[k] = log_norm[k] - 0.5 * min(quad, _QUAD_MAX)
            if log_prob[k] > row_max:
                row_max = log_prob[k]
        total = 0.0
        for k in range(n_components):
            log_prob[k] = math.exp(log_prob[k] - row_max)
            total += log_prob[k]
        weight = sample_weight[i] if has_weight else 1.0
        if weight != 0.0:
            log_likelihood += weight * (math.log(total) + row_max)
        # Divide by the total rather than subtract the log-sum-exp (see _numpy._log_resp).
        scale = weight / total
        for k in range(n_components):
            r = scale * log_prob[k]
            if r == 0.0:
                continue
            n_k[k] += r
            for a in range(n_features):
                rd = r * diff[k, a]
                shift_sums[k, a] += rd
                if full_scatter:
                    for b in range(a, n_features):
                        second[k, a, b] += rd * diff[k, b]
                else:
                    second[k, 0, a] += rd * diff[k, a]
    return n_k, shift_sums, second, log_likelihood


def _as_kernel_precisions(precisions_chol: np.ndarray, form: str) -> tuple[np.ndarray, bool]:
    # One jitted signature serves both forms: diag factors travel as (K, 1, D).
    if form == "full":
        return np.ascontiguousarray(precisions_chol, dtype=np.float64), True
    if form == "diag":
        return np.ascontiguousarray(precisions_chol, dtype=np.float64)[:, None, :], False
    raise ValueError(f"unknown precision form {form!r}; expected 'full' or 'diag'")


def estep_stats(X, sample_weight, means, precisions_chol, log_norm, form, scatter):
    """Fused twin of :func:`gaussmix.kernels._numpy.estep_stats` (same signature)."""
    if scatter not in ("full", "diag"):
        raise ValueError(f"unknown scatter kind {scatter!r}; expected 'full' or 'diag'")
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    means = np.ascontiguousarray(means, dtype=np.float64)
    prec, full = _as_kernel_precisions(precisions_chol, form)
    has_weight = sample_weight is not None
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64) if has_weight else np.empty(0)
    n_k, shift_sums, second, log_likelihood = _estep_block(
        X,
        weight,
        has_weight,
        means,
        prec,
        np.ascontiguousarray(log_norm, dtype=np.float64),
        full,
        scatter == "full",
    )
    # Re-centre at the block's means: shift m = sum r d / n, W = S - n m m^T.
    nonzero = n_k > 0
    shift = np.divide(
        shift_sums, n_k[:, None], out=np.zeros_like(shift_sums), where=nonzero[:, None]
    )
    mean_k = np.where(nonzero[:, None], means + shift, 0.0)
    if scatter == "full":
        # Only a <= b was accumulated: mirror the strict upper triangle below.
        scatter_k = second + np.swapaxes(np.triu(second, 1), 1, 2)
        scatter_k -= n_k[:, None, None] * shift[:, :, None] * shift[:, None, :]
    else:
        scatter_k = second[:, 0, :] - n_k[:, None] * shift * shift
    return n_k, mean_k, scatter_k, float(log_likelihood)
