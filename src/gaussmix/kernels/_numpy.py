"""NumPy reference kernels: the test oracle for every fast path.

Every function here is a pure function of arrays and works on one row block.
Arithmetic is carried out in float64 whatever the input dtype, so float32 data
lose no digits in the accumulated statistics.

Shapes used throughout (``Nb`` rows in the block, ``K`` components, ``D`` features):

- ``X``: (Nb, D); ``sample_weight``: (Nb,) or None (unit weights);
- ``means``: (K, D);
- ``precisions_chol``: (K, D, D) upper-triangular factors for ``form="full"``,
  (K, D) for ``form="diag"`` (the square roots of the diagonal precisions);
- ``log_norm``: (K,) = log weight_k + log det(precisions_chol_k) - D/2 log(2 pi);
- ``scatter="full"`` gives (K, D, D) centred scatter matrices, ``"diag"`` gives (K, D).
"""

from __future__ import annotations

import numpy as np

__all__ = ["QUAD_MAX", "estep_stats", "resp_stats", "weighted_log_prob"]

# Squared Mahalanobis distances are capped here: a point far outside the model
# (say at 1e200) would otherwise overflow to inf and give NaN responsibilities.
# The cap keeps log-densities finite (about -5e299).
QUAD_MAX = 1e300


def weighted_log_prob(
    X: np.ndarray, means: np.ndarray, precisions_chol: np.ndarray, log_norm: np.ndarray, form: str
) -> np.ndarray:
    """Return log(weight_k) + log N(x_i | mean_k, cov_k), shape (Nb, K), float64."""
    X = np.asarray(X, dtype=np.float64)
    n_rows = X.shape[0]
    n_components = means.shape[0]
    # Centre before projecting: the expanded forms (x P - mu P, or x^2 p - 2 x mu p
    # + mu^2 p) lose digits on data far from the origin.
    quad = np.empty((n_rows, n_components))
    if form == "full":
        for k in range(n_components):
            y = (X - means[k]) @ precisions_chol[k]
            quad[:, k] = np.einsum("ij,ij->i", y, y)
    elif form == "diag":
        for k in range(n_components):
            y = (X - means[k]) * precisions_chol[k]
            quad[:, k] = np.einsum("ij,ij->i", y, y)
    else:
        raise ValueError(f"unknown precision form {form!r}; expected 'full' or 'diag'")
    np.minimum(quad, QUAD_MAX, out=quad)
    return log_norm - 0.5 * quad


def _log_resp(
    log_prob: np.ndarray, log_background: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise log-sum-exp and log responsibilities of a (Nb, K) block.

    Responsibilities come from the max-shifted values, not from
    ``log_prob - logsumexp``: far from the data the log-sum-exp absorbs ``log K``
    and the difference would give rows that do not sum to one.

    ``log_background`` is the log-density of one more component, the same for
    every row (a uniform noise component): it joins the sum, and the returned
    responsibilities of the K components then sum to one minus its own.
    """
    row_max = np.max(log_prob, axis=1, keepdims=True)
    if log_background is not None:
        # The background joins the shift too: far from every Gaussian it is the
        # largest term, and exp(log_background - row_max) would overflow.
        row_max = np.maximum(row_max, log_background)
    with np.errstate(under="ignore", divide="ignore", invalid="ignore"):
        shifted = log_prob - row_max
        total = np.sum(np.exp(shifted), axis=1, keepdims=True)
        if log_background is not None:
            total += np.exp(log_background - row_max)
        log_total = np.log(total)
    return (row_max + log_total)[:, 0], shifted - log_total


def resp_stats(
    X: np.ndarray, sample_weight: np.ndarray | None, resp: np.ndarray, scatter: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred sufficient statistics of one block for given responsibilities.

    Parameters
    ----------
    X : ndarray of shape (Nb, D)
    sample_weight : ndarray of shape (Nb,) or None
    resp : ndarray of shape (Nb, K)
        Responsibilities (rows need not sum to one).
    scatter : {"full", "diag"}

    Returns
    -------
    n_k : ndarray of shape (K,)
        Weighted soft counts.
    mean_k : ndarray of shape (K, D)
        Weighted means of the block (zero where ``n_k`` is zero).
    scatter_k : ndarray of shape (K, D, D) or (K, D)
        Weighted scatter about ``mean_k``.
    """
    X = np.asarray(X, dtype=np.float64)
    wresp = np.asarray(resp, dtype=np.float64)
    if sample_weight is not None:
        wresp = wresp * np.asarray(sample_weight, dtype=np.float64)[:, None]
    n_k = wresp.sum(axis=0)
    sums = wresp.T @ X
    mean_k = np.divide(sums, n_k[:, None], out=np.zeros_like(sums), where=n_k[:, None] > 0)
    n_components, n_features = mean_k.shape
    if scatter == "full":
        scatter_k = np.empty((n_components, n_features, n_features))
        for k in range(n_components):
            diff = X - mean_k[k]
            scatter_k[k] = (wresp[:, k, None] * diff).T @ diff
    elif scatter == "diag":
        scatter_k = np.empty((n_components, n_features))
        for k in range(n_components):
            diff = X - mean_k[k]
            scatter_k[k] = wresp[:, k] @ (diff * diff)
    else:
        raise ValueError(f"unknown scatter kind {scatter!r}; expected 'full' or 'diag'")
    return n_k, mean_k, scatter_k


def estep_stats(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    means: np.ndarray,
    precisions_chol: np.ndarray,
    log_norm: np.ndarray,
    form: str,
    scatter: str,
    log_background: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """E-step and centred statistics for one row block.

    Returns ``(n_k, mean_k, scatter_k, log_likelihood)`` where the first three are
    as in :func:`resp_stats` for the responsibilities under the given parameters and
    ``log_likelihood`` is the weighted sum over the block of log p(x_i).

    ``log_background``, when given, is log(weight_0 * density_0) of an extra
    component whose density is the same at every row (mclust's uniform noise
    component): p(x_i) includes it, and the statistics are those of the K
    Gaussian components, whose responsibilities sum to one minus the extra one's.
    """
    log_prob_norm, log_resp = _log_resp(
        weighted_log_prob(X, means, precisions_chol, log_norm, form), log_background
    )
    with np.errstate(under="ignore"):
        resp = np.exp(log_resp)
    n_k, mean_k, scatter_k = resp_stats(X, sample_weight, resp, scatter)
    if sample_weight is None:
        log_likelihood = float(np.sum(log_prob_norm))
    else:
        log_likelihood = float(np.asarray(sample_weight, dtype=np.float64) @ log_prob_norm)
    return n_k, mean_k, scatter_k, log_likelihood


def log_prob_resp(
    X: np.ndarray, means: np.ndarray, precisions_chol: np.ndarray, log_norm: np.ndarray, form: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log p(x_i), shape (Nb,), and log responsibilities, shape (Nb, K)."""
    return _log_resp(weighted_log_prob(X, means, precisions_chol, log_norm, form))


def lloyd_step(
    X: np.ndarray, sample_weight: np.ndarray | None, centers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One k-means assignment of a block and the weighted sums per cluster.

    Parameters
    ----------
    X : ndarray of shape (Nb, D)
    sample_weight : ndarray of shape (Nb,) or None
    centers : ndarray of shape (K, D)

    Returns
    -------
    labels : ndarray of shape (Nb,), int32
        Index of the nearest centre (the first one on ties).
    sums : ndarray of shape (K, D)
        sum of w_i x_i over the rows of each cluster.
    weights : ndarray of shape (K,)
        sum of w_i over the rows of each cluster.
    """
    X = np.asarray(X, dtype=np.float64)
    dist = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    labels = np.argmin(dist, axis=1).astype(np.int32)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    n_clusters = centers.shape[0]
    weights = np.bincount(labels, weights=w, minlength=n_clusters)
    sums = np.zeros((n_clusters, X.shape[1]))
    np.add.at(sums, labels, w[:, None] * X)
    return labels, sums, weights


def label_stats(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    labels: np.ndarray,
    n_components: int,
    scatter: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`resp_stats` for hard labels (responsibility 1 for ``labels[i]``)."""
    resp = np.zeros((X.shape[0], n_components))
    resp[np.arange(X.shape[0]), labels] = 1.0
    return resp_stats(X, sample_weight, resp, scatter)


def candidate_distances(
    X: np.ndarray, sample_weight: np.ndarray | None, closest: np.ndarray, candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances to the nearest centre if each candidate were added (k-means++).

    Parameters
    ----------
    X : ndarray of shape (N, D)
    sample_weight : ndarray of shape (N,) or None
    closest : ndarray of shape (N,)
        Squared distance of each row to its nearest centre so far.
    candidates : ndarray of shape (T, D)

    Returns
    -------
    distances : ndarray of shape (T, N)
        ``min(closest, |x - candidate|^2)`` per candidate.
    potentials : ndarray of shape (T,)
        Their weighted sums.
    """
    diff = np.asarray(X, np.float64)[None, :, :] - np.asarray(candidates, np.float64)[:, None, :]
    distances = np.minimum((diff * diff).sum(axis=2), closest[None, :])
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    return distances, distances @ w


def column_variances(X: np.ndarray) -> np.ndarray:
    """Unweighted variance of each feature (``np.var(X, axis=0)``).

    Parameters
    ----------
    X : ndarray of shape (N, D)

    Returns
    -------
    variances : ndarray of shape (D,), float64
    """
    return np.var(np.asarray(X, np.float64), axis=0)


def cumulative_sum(values: np.ndarray) -> np.ndarray:
    """Running sums of a 1-D array (``np.cumsum``, float64).

    Parameters
    ----------
    values : ndarray of shape (N,)

    Returns
    -------
    cumulative : ndarray of shape (N,)
    """
    return np.cumsum(np.asarray(values, dtype=np.float64))
