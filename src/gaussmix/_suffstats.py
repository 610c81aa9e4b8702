"""Additive sufficient statistics of a Gaussian mixture and their centred merge."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["SuffStats"]


@dataclass(frozen=True)
class SuffStats:
    """Per-component statistics of a set of rows, for fixed responsibilities.

    Attributes
    ----------
    n_k : ndarray of shape (n_components,)
        Soft counts, sum_i w_i r_ik.
    mean_k : ndarray of shape (n_components, n_features)
        Weighted means, sum_i w_i r_ik x_i / n_k (zero where ``n_k`` is zero).
    scatter_k : ndarray of shape (n_components, n_features[, n_features])
        Centred scatter sum_i w_i r_ik (x_i - mean_k)(x_i - mean_k)^T, or its diagonal.
    log_likelihood : float
        sum_i w_i log p(x_i) under the parameters of the E-step (0 when the
        statistics come from given responsibilities).
    weight_sum : float
        sum_i w_i (the number of rows when unweighted).
    n_rows : int
        Number of rows seen, whatever their weights.
    """

    n_k: np.ndarray
    mean_k: np.ndarray
    scatter_k: np.ndarray
    log_likelihood: float
    weight_sum: float
    n_rows: int

    @property
    def full_scatter(self) -> bool:
        """Whether ``scatter_k`` holds full matrices (else only their diagonals)."""
        return self.scatter_k.ndim == 3

    def merge(self, other: SuffStats) -> SuffStats:
        """Combine the statistics of two disjoint sets of rows.

        Uses the pairwise update of Chan, Golub & LeVeque: with
        ``delta = mean_b - mean_a`` and ``n = n_a + n_b``, the mean moves by
        ``delta * n_b / n`` and the scatter gains ``delta delta^T n_a n_b / n``.
        Raw second moments are never summed, so no digits are lost on data far
        from the origin.
        """
        n_a, n_b = self.n_k, other.n_k
        n = n_a + n_b
        safe_n = np.where(n > 0, n, 1.0)
        frac_b = (n_b / safe_n)[:, None]
        delta = other.mean_k - self.mean_k
        mean_k = self.mean_k + delta * frac_b
        coef = (n_a * n_b / safe_n)[:, None]
        if self.full_scatter:
            between = coef[:, :, None] * delta[:, :, None] * delta[:, None, :]
        else:
            between = coef * delta * delta
        return SuffStats(
            n_k=n,
            mean_k=mean_k,
            scatter_k=self.scatter_k + other.scatter_k + between,
            log_likelihood=self.log_likelihood + other.log_likelihood,
            weight_sum=self.weight_sum + other.weight_sum,
            n_rows=self.n_rows + other.n_rows,
        )

    @staticmethod
    def merge_all(parts: Iterable[SuffStats]) -> SuffStats:
        """Merge statistics in the order given (deterministic whatever the backend).

        ``parts`` may be a generator: statistics are folded in as they come.
        """
        total = None
        for part in parts:
            total = part if total is None else total.merge(part)
        if total is None:
            raise ValueError("cannot merge an empty sequence of statistics")
        return total

    def total(self) -> tuple[float, np.ndarray, np.ndarray]:
        """Statistics of all rows pooled over components: (n, mean, scatter).

        Valid when each row's responsibilities sum to one; the pooled scatter
        then equals the data's own weighted scatter about its mean.
        """
        n = float(self.n_k.sum())
        weights = self.n_k / n
        mean = weights @ self.mean_k
        delta = self.mean_k - mean
        if self.full_scatter:
            scatter = self.scatter_k.sum(axis=0) + np.einsum("k,ki,kj->ij", self.n_k, delta, delta)
        else:
            scatter = self.scatter_k.sum(axis=0) + self.n_k @ (delta * delta)
        return n, mean, scatter
