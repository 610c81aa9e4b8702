"""mclust's start for one feature: quantile classes (``qclass``).

With one feature ``mclustBIC`` does not build a hierarchical clustering: each
number of groups ``k`` starts from ``qclass(x, k)``, which splits the sorted values
at ``k + 1`` distinct sample quantiles (R's default, type 7) of equally spaced
probabilities, taking more probabilities while ties leave fewer than ``k + 1``
distinct quantiles, and dropping the lower end of the narrowest gaps when there are
more. Classes are the half-open intervals ``[q_i, q_(i+1))``, the outer ends moved
out by ``sd(x) sqrt(eps)``. The arithmetic is R's, so the classes are mclust's (a
value that falls on a quantile goes to the class above it).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from ._validation import check_scalar_param

__all__ = ["QuantileClasses", "quantile_classes"]

_SQRT_EPS = float(np.sqrt(np.finfo(np.float64).eps))


def _r_probabilities(n: int) -> np.ndarray:
    """R's ``seq(0, 1, length = n)``: ``c(0, (1:(n - 2)) * (1 / (n - 1)), 1)``."""
    if n < 2:
        return np.zeros(max(n, 0))
    return np.concatenate([[0.0], np.arange(1, n - 1) * (1.0 / (n - 1)), [1.0]])


def _r_quantiles(sorted_values: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7)`` of sorted values, in R's arithmetic."""
    index = (sorted_values.size - 1) * probabilities  # 0-based
    lo = np.floor(index).astype(np.intp)
    hi = np.ceil(index).astype(np.intp)
    quantiles = sorted_values[lo].copy()
    between = (index > lo) & (sorted_values[hi] != quantiles)
    h = (index - lo)[between]
    quantiles[between] = (1 - h) * quantiles[between] + h * sorted_values[hi[between]]
    return quantiles


def quantile_classes(x, n_classes: int) -> np.ndarray:
    """mclust's ``qclass(x, k)``, numbered from 0.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
    n_classes : int
        At least 1; from 2 on, ``x`` needs two distinct values.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
        The class of each value, ``0 .. n_classes - 1`` from the lowest values up.
        As in mclust, a class can be empty: when there are fewer distinct values
        than classes, or when two quantiles fall between the same two neighbouring
        values.
    """
    values = np.asarray(x, dtype=np.float64).reshape(-1)
    check_scalar_param(n_classes, "n_classes", Integral, minimum=1)
    if n_classes == 1:
        return np.zeros(values.size, dtype=np.intp)
    sorted_values = np.sort(values)
    if values.size == 0 or sorted_values[0] == sorted_values[-1]:
        # mclust's loop would never end: every quantile is the same value.
        raise ValueError(
            f"quantile classes of a constant feature: {n_classes} classes need at least "
            "two distinct values."
        )
    margin = float(np.std(values, ddof=1)) * _SQRT_EPS
    # With two distinct values the quantiles that fall between them are distinct, so
    # (k + 1) (n - 1) + 1 probabilities always give k + 1 of them.
    most = (n_classes + 1) * values.size + 2
    n_probabilities = n_classes
    quantiles = np.empty(0)
    while quantiles.size < n_classes + 1 and n_probabilities < most:
        n_probabilities += 1
        quantiles = _unique_in_order(
            _r_quantiles(sorted_values, _r_probabilities(n_probabilities))
        )
    extra = quantiles.size - n_classes - 1
    if extra > 0:
        # The lower ends of the narrowest gaps go (R's order: stable, first gap first).
        narrowest = np.argsort(np.diff(quantiles), kind="stable")[:extra]
        quantiles = np.delete(quantiles, narrowest)
    quantiles[0] = sorted_values[0] - margin
    quantiles[-1] = sorted_values[-1] + margin
    labels = np.full(values.size, -1, dtype=np.intp)
    for i in range(n_classes):
        labels[(values >= quantiles[i]) & (values < quantiles[i + 1])] = i
    return labels


def _unique_in_order(values: np.ndarray) -> np.ndarray:
    """R's ``unique``: first occurrences, in order (the quantiles are sorted already)."""
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


@dataclass(frozen=True, repr=False, eq=False)
class QuantileClasses:
    """mclust's starting partitions of one feature, cut like an :class:`HCTree`.

    Attributes
    ----------
    rows : ndarray of shape (n_leaves,)
        Sorted indices of the rows partitioned.
    values : ndarray of shape (n_leaves,)
        Their values.
    n_samples : int
        Number of rows of the data.
    """

    rows: np.ndarray
    values: np.ndarray
    n_samples: int

    @property
    def n_leaves(self) -> int:
        """Number of rows partitioned."""
        return int(self.rows.shape[0])

    @property
    def n_groups(self) -> int:
        """The most classes there can be: the number of distinct values."""
        return int(np.unique(self.values).size)

    def labels(self, n_clusters: int) -> np.ndarray:
        """``quantile_classes(values, n_clusters)``: the class of each row in ``rows``."""
        return quantile_classes(self.values, n_clusters)

    def __repr__(self) -> str:
        return f"QuantileClasses(n_leaves={self.n_leaves}, n_samples={self.n_samples})"
