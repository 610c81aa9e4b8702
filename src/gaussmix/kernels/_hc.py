"""Agglomeration for model-based hierarchical clustering (mclust's hcVVV, hcEII).

Every row starts as its own group; each step merges the pair of groups whose merge
increases the criterion least (Fraley, 1998). A group is kept as its weight ``n``,
row count, mean, centred scatter ``W`` (lower triangle) and ``tr W``, and the cost of
a merge is recomputed from those statistics (the Chan-Golub-LeVeque update of the
mean and scatter), never from the rows.

- ``"VVV"``: a group's term is ``n log(det(W / n) + beta (tr W + alpha) / n)``;
  ``det`` counts as 0 while the group has no more rows than features (``W`` is
  singular). The cost of a merge is the merged group's term minus the two terms.
  (mclust prices a pair of single rows by the trace alone even when that pair has
  more rows than features, which only differs for one feature, where mclust's own
  initialisation does not use this criterion; here the rule is the same for all.)
- ``"EII"``: Ward's cost ``n_a n_b / (n_a + n_b) |mean_a - mean_b|^2``.

Group bookkeeping follows mclust's Fortran so that ties are broken the same way:
groups live in slots ``0..g-1``; the costs of all pairs are stored packed,
pair ``(i, j)`` with ``i < j`` at ``j (j - 1) / 2 + i``; the merged group takes the
lower slot ``i`` and the group in the last slot moves into slot ``j``. mclust picks
the *last* minimum in packed order (its scan keeps a cost ``<=`` the best so far).

Costs tied in real arithmetic (translated or duplicated configurations, data on a
grid) come out a few ulps apart, and which is lower then depends on how the data
were transformed and rounded (the CPU, the BLAS). So a merge counts as tied with the
cheapest when its cost exceeds the cheapest by at most ``tie_rtol`` times the
cheapest merge's magnitude, the scale of its rounding error: for VVV
``|merged term| + |term_a| + |term_b| + n_a + n_b``; for EII, with ``r = max_i |z_i|``
(means are known to about ``eps r``), ``n_a n_b / (n_a + n_b) r (2 |mean_a - mean_b|
+ eps r)``. The chosen pair is the last of the tied pairs in packed order: mclust's
rule applied to the tie.

mclust scans all pairs at every step (O(n^3) in all); here each slot ``j`` keeps
the minimum of its pairs ``(., j)`` (or, once that pair's cost went up, a lower
bound, refreshed only if the row is needed), which picks the same pair in O(n^2)
typical time.

The agglomeration is compiled (``native/hc.cpp``) once, for the baseline instruction
set: every sum runs in a fixed order (no fast-math, no fused multiply-adds), so the
rounding of the costs does not depend on the CPU's SIMD width; and the arithmetic is
symmetric, to the last bit, under a change of sign of a column of ``Z`` (the sign of
an SVD's singular vectors is arbitrary).
"""

from __future__ import annotations

import numpy as np

from . import _gaussmix

__all__ = ["MODEL_CODES", "agglomerate"]

MODEL_CODES = {"VVV": 0, "EII": 1}


def agglomerate(Z, sample_weight, model, alpha, beta, tie_rtol):
    """Merge the rows of ``Z`` into one group, cheapest merge first.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_features), float64
        The (transformed) data.
    sample_weight : ndarray of shape (n_rows,), float64
        Positive weights; all ones gives mclust's unweighted criterion.
    model : int
        ``MODEL_CODES["VVV"]`` or ``MODEL_CODES["EII"]``.
    alpha, beta : float
        The regularisation of the VVV criterion (ignored by EII).
    tie_rtol : float
        Merges whose costs exceed the cheapest by at most this times its magnitude
        are tied, and go to mclust's rule; 0 ties only equal costs.

    Returns
    -------
    merges : ndarray of shape (n_rows - 1, 2), int64
        Merge ``s`` joins the groups whose smallest row indices are
        ``merges[s, 0] < merges[s, 1]`` (mclust's ``hcPairs``, 0-based).
    costs : ndarray of shape (n_rows - 1,)
        The increase of the criterion made by each merge.
    """
    if model not in MODEL_CODES.values():
        raise ValueError(f"model must be one of {sorted(MODEL_CODES.values())}; got {model!r}")
    return _gaussmix.agglomerate(
        np.ascontiguousarray(Z, dtype=np.float64),
        np.ascontiguousarray(sample_weight, dtype=np.float64),
        model == MODEL_CODES["VVV"],
        float(alpha),
        float(beta),
        float(tie_rtol),
    )
