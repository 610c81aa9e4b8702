"""Stepwise (online) EM: running sufficient statistics updated batch by batch.

Cappé & Moulines (2009): after the E-step on batch t, the running statistics
move towards the batch's, ``s_t = (1 - step_t) s_{t-1} + step_t s_hat(batch_t)``,
and the M-step maps ``s_t`` to parameters. Statistics are kept per unit of
weight (soft counts sum to one), and with centred statistics the convex
combination is exactly a centred merge of the two sets with their counts scaled
by ``1 - step_t`` and ``step_t``.

Step sizes follow ``step_t = (learning_offset + t) ** -learning_decay``, the
schedule scikit-learn uses for its online LDA: any ``learning_decay`` in
(0.5, 1] satisfies the Robbins-Monro conditions under which stepwise EM
converges to a stationary point of the likelihood of the stream's distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np

from ._mstep import DataScale
from ._suffstats import SuffStats

__all__ = ["OnlineState", "step_size", "update"]


@dataclass
class OnlineState:
    """What stepwise EM carries from one batch to the next.

    Attributes
    ----------
    reg : ndarray of shape (n_features,)
        The regularisation, fixed by the first batch.
    scale : DataScale
        The data's per-feature variance, taken from the first batch.
    kernel : namespace
        From :func:`gaussmix.kernels.get_kernel`.
    stats : SuffStats or None
        The running statistics (unit mass); None before the first batch.
    steps : int
        Batches taken so far.
    """

    reg: np.ndarray
    scale: DataScale
    kernel: SimpleNamespace
    stats: SuffStats | None = None
    steps: int = 0


def step_size(t: int, learning_offset: float, learning_decay: float) -> float:
    """Step for the t-th batch (t = 1, 2, ...): ``(learning_offset + t) ** -learning_decay``."""
    return float((learning_offset + t) ** -learning_decay)


def _scaled(stats: SuffStats, factor: float) -> SuffStats:
    """Statistics of the same rows with every weight multiplied by ``factor``."""
    return replace(
        stats,
        n_k=stats.n_k * factor,
        scatter_k=stats.scatter_k * factor,
        log_likelihood=stats.log_likelihood * factor,
        weight_sum=stats.weight_sum * factor,
    )


def update(running: SuffStats | None, batch: SuffStats, step: float) -> SuffStats:
    """Move the running statistics (unit mass) a ``step`` towards the batch's.

    Parameters
    ----------
    running : SuffStats or None
        Running statistics with ``weight_sum == 1``; None on the first batch.
    batch : SuffStats
        The batch's statistics, any total weight.
    step : float
        In (0, 1].

    Returns
    -------
    SuffStats
        With ``weight_sum == 1``.
    """
    normalised = _scaled(batch, 1.0 / batch.weight_sum)
    if running is None or step >= 1.0:
        return normalised
    return _scaled(running, 1.0 - step).merge(_scaled(normalised, step))
