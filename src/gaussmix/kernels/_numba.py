"""Fused numba kernels, the fast twins of :mod:`gaussmix.kernels._numpy`.

One call handles one row block in two sweeps over rows that are already in
cache: the first computes each row's component log-densities, its log-sum-exp
and weighted responsibilities, the soft counts and weighted sums; the second
accumulates the scatter about the block's own means (centring at the block
mean keeps float32 data and data far from the origin exact). Arithmetic and
accumulators are float64 for either input dtype.

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
def _quad_full(X, i, mean, prec_chol, buf):
    # (x - mu)^T P with P upper triangular: y_j = sum_{l <= j} (x_l - mu_l) P[l, j].
    n_features = X.shape[1]
    for l in range(n_features):
        buf[l] = X[i, l] - mean[l]
    quad = 0.0
    for j in range(n_features):
        acc = 0.0
        for l in range(j + 1):
            acc += buf[l] * prec_chol[l, j]
        quad += acc * acc
    return quad


@numba.jit(**_JIT)
def _quad_diag(X, i, mean, prec_chol_diag):
    quad = 0.0
    for j in range(X.shape[1]):
        d = (X[i, j] - mean[j]) * prec_chol_diag[j]
        quad += d * d
    return quad


@numba.jit(**_JIT)
def _estep_rows(
    X, sample_weight, has_weight, means, prec_chol, log_norm, full, wresp, log_prob_norm
):
    """First sweep: fill ``wresp`` (weighted responsibilities) and per-row log p(x)."""
    n_rows, n_features = X.shape
    n_components = means.shape[0]
    log_prob = np.empty(n_components)
    shifted_prob = np.empty(n_components)
    buf = np.empty(n_features)
    n_k = np.zeros(n_components)
    sums = np.zeros((n_components, n_features))
    log_likelihood = 0.0
    for i in range(n_rows):
        row_max = -np.inf
        for k in range(n_components):
            if full:
                quad = _quad_full(X, i, means[k], prec_chol[k], buf)
            else:
                quad = _quad_diag(X, i, means[k], prec_chol[k, 0])
            log_prob[k] = log_norm[k] - 0.5 * min(quad, _QUAD_MAX)
            if log_prob[k] > row_max:
                row_max = log_prob[k]
        total = 0.0
        for k in range(n_components):
            shifted_prob[k] = math.exp(log_prob[k] - row_max)
            total += shifted_prob[k]
        norm = math.log(total) + row_max
        log_prob_norm[i] = norm
        weight = sample_weight[i] if has_weight else 1.0
        if weight != 0.0:
            log_likelihood += weight * norm
        # Divide by the total rather than subtract the log-sum-exp (see _numpy._log_resp).
        scale = weight / total
        for k in range(n_components):
            r = scale * shifted_prob[k]
            wresp[i, k] = r
            n_k[k] += r
            for j in range(n_features):
                sums[k, j] += r * X[i, j]
    return n_k, sums, log_likelihood


@numba.jit(**_JIT)
def _scatter_full(X, wresp, mean_k, out):
    n_rows, n_features = X.shape
    n_components = mean_k.shape[0]
    diff = np.empty(n_features)
    for i in range(n_rows):
        for k in range(n_components):
            r = wresp[i, k]
            if r == 0.0:
                continue
            for j in range(n_features):
                diff[j] = X[i, j] - mean_k[k, j]
            for a in range(n_features):
                ra = r * diff[a]
                for b in range(a, n_features):
                    out[k, a, b] += ra * diff[b]
    for k in range(n_components):
        for a in range(n_features):
            for b in range(a + 1, n_features):
                out[k, b, a] = out[k, a, b]


@numba.jit(**_JIT)
def _scatter_diag(X, wresp, mean_k, out):
    n_rows, n_features = X.shape
    n_components = mean_k.shape[0]
    for i in range(n_rows):
        for k in range(n_components):
            r = wresp[i, k]
            if r == 0.0:
                continue
            for j in range(n_features):
                d = X[i, j] - mean_k[k, j]
                out[k, j] += r * d * d


def _as_kernel_precisions(precisions_chol: np.ndarray, form: str) -> tuple[np.ndarray, bool]:
    # One jitted signature serves both forms: diag factors travel as (K, 1, D).
    if form == "full":
        return np.ascontiguousarray(precisions_chol, dtype=np.float64), True
    if form == "diag":
        return np.ascontiguousarray(precisions_chol, dtype=np.float64)[:, None, :], False
    raise ValueError(f"unknown precision form {form!r}; expected 'full' or 'diag'")


def _first_sweep(X, sample_weight, means, precisions_chol, log_norm, form):
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    prec, full = _as_kernel_precisions(precisions_chol, form)
    has_weight = sample_weight is not None
    weight = np.ascontiguousarray(sample_weight, dtype=np.float64) if has_weight else np.empty(0)
    n_rows = X.shape[0]
    wresp = np.empty((n_rows, means.shape[0]))
    log_prob_norm = np.empty(n_rows)
    n_k, sums, log_likelihood = _estep_rows(
        X,
        weight,
        has_weight,
        np.ascontiguousarray(means, dtype=np.float64),
        prec,
        np.ascontiguousarray(log_norm, dtype=np.float64),
        full,
        wresp,
        log_prob_norm,
    )
    return X, wresp, log_prob_norm, n_k, sums, log_likelihood


def estep_stats(X, sample_weight, means, precisions_chol, log_norm, form, scatter):
    """Fused twin of :func:`gaussmix.kernels._numpy.estep_stats` (same signature)."""
    X, wresp, _, n_k, sums, log_likelihood = _first_sweep(
        X, sample_weight, means, precisions_chol, log_norm, form
    )
    mean_k = np.divide(sums, n_k[:, None], out=np.zeros_like(sums), where=n_k[:, None] > 0)
    n_components, n_features = mean_k.shape
    if scatter == "full":
        scatter_k = np.zeros((n_components, n_features, n_features))
        _scatter_full(X, wresp, mean_k, scatter_k)
    elif scatter == "diag":
        scatter_k = np.zeros((n_components, n_features))
        _scatter_diag(X, wresp, mean_k, scatter_k)
    else:
        raise ValueError(f"unknown scatter kind {scatter!r}; expected 'full' or 'diag'")
    return n_k, mean_k, scatter_k, float(log_likelihood)
