"""The outlier threshold of scores held by Dask: exact, without gathering the scores.

:func:`dask_weighted_threshold` gives what
:func:`~gaussmix.anomaly._detector.weighted_threshold` gives for the same scores and
weights (to the rounding of the weights' sums). It narrows a bracket of scores that
holds the lowest kept score: a weighted histogram of the bracket per pass, computed
on the workers and summed by a tree reduction, picks the bin where the cumulative
weight crosses the target; when at most ``max_gather`` rows remain in the bracket,
they are gathered with the nearest scores outside it and the threshold is taken
exactly. The client receives bin totals and at most ``max_gather`` scores.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dask_weighted_threshold"]

# Rows gathered to the client at the end, at most; bins of each narrowing pass.
MAX_GATHER = 100_000
N_BINS = 1024
# Narrowing passes before gathering whatever is left: each divides the bracket
# by N_BINS, so float64's whole range is covered long before.
_MAX_PASSES = 120


def _inside(scores, lo, hi, upper_closed):
    upper = scores <= hi if upper_closed else scores < hi
    return (scores >= lo) & upper


def _bin_block(scores, weight, edges, upper_closed):
    """Weights and row counts of a block's scores in the bins ``edges`` (2 * n_bins values)."""
    n_bins = edges.size - 1
    inside = _inside(scores, edges[0], edges[-1], upper_closed) & (weight > 0)
    index = np.clip(np.searchsorted(edges, scores[inside], side="right") - 1, 0, n_bins - 1)
    weights = np.bincount(index, weights=weight[inside], minlength=n_bins)
    counts = np.bincount(index, minlength=n_bins).astype(np.float64)
    return np.concatenate([weights, counts])


def dask_weighted_threshold(
    scores, weight, fraction: float, *, max_gather: int = MAX_GATHER, n_bins: int = N_BINS
) -> float:
    """A threshold that leaves at most ``fraction`` of the weight strictly below it.

    Parameters
    ----------
    scores : dask.array.Array of shape (n_samples,)
    weight : dask.array.Array of shape (n_samples,) or None
        Chunked like ``scores``; rows of zero weight are left out.
    fraction : float in (0, 1)
    max_gather : int
        The most rows gathered to the client.
    n_bins : int
        Bins of each narrowing pass.

    Returns
    -------
    threshold : float
        As :func:`~gaussmix.anomaly._detector.weighted_threshold` defines it.
    """
    import dask
    import dask.array as da

    scores = scores.astype(np.float64)
    weight = da.ones_like(scores) if weight is None else weight.astype(np.float64)
    present = weight > 0
    lo, hi, total = dask.compute(
        da.where(present, scores, np.inf).min(),
        da.where(present, scores, -np.inf).max(),
        weight.sum(),
    )
    target = fraction * total * (1 + 1e-9)
    weight_below, upper_closed = 0.0, True
    n_blocks = scores.numblocks[0]
    for _ in range(_MAX_PASSES):
        if lo == hi:
            break
        edges = np.linspace(lo, hi, n_bins + 1)
        binned = da.map_blocks(
            _bin_block,
            scores,
            weight,
            edges,
            upper_closed,
            dtype=np.float64,
            chunks=((2 * n_bins,) * n_blocks,),
        )
        sums = binned.reshape(n_blocks, 2 * n_bins).sum(axis=0).compute()
        bin_weight, bin_count = sums[:n_bins], sums[n_bins:]
        if bin_count.sum() <= max_gather:
            break
        crossing = weight_below + np.cumsum(bin_weight) > target
        b = int(np.argmax(crossing)) if crossing.any() else int(np.flatnonzero(bin_weight)[-1])
        new = (edges[b], edges[b + 1], upper_closed and b == n_bins - 1)
        if new == (lo, hi, upper_closed):
            break
        weight_below += float(bin_weight[:b].sum())
        lo, hi, upper_closed = new
    inside = _inside(scores, lo, hi, upper_closed) & present
    outside_below = da.where(present & (scores < lo), scores, -np.inf).max()
    above = scores > hi if upper_closed else scores >= hi
    outside_above = da.where(present & above, scores, np.inf).min()
    if lo == hi:
        gathered, gathered_weight = np.array([lo]), None
        inside_weight, below_max, above_min = dask.compute(
            da.where(inside, weight, 0).sum(), outside_below, outside_above
        )
        gathered_weight = np.array([inside_weight])
    else:
        gathered, gathered_weight, below_max, above_min = dask.compute(
            scores[inside], weight[inside], outside_below, outside_above
        )
    order = np.argsort(gathered, kind="stable")
    ranked = gathered[order]
    cumulative = weight_below + np.cumsum(gathered_weight[order])
    crossing = cumulative > target
    lowest_kept = ranked[int(np.argmax(crossing))] if crossing.any() else ranked[-1]
    below = ranked[ranked < lowest_kept]
    below_score = below[-1] if below.size else below_max
    if np.isfinite(below_score):
        return float(below_score + (lowest_kept - below_score) / 2)
    above_ranked = ranked[ranked > lowest_kept]
    above_score = above_ranked[0] if above_ranked.size else above_min
    gap = above_score - lowest_kept if np.isfinite(above_score) else 1.0
    return float(lowest_kept - gap / 2)
