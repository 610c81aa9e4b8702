"""mclust's noise component: a uniform density joined to the Gaussians, and its fits.

The noise component is mclust's (Banfield & Raftery 1993; Fraley & Raftery
1998): a uniform density ``1/V`` over the data's hypervolume ``V`` joins the
Gaussians as one more mixture component with its own weight. Its fit is the
ordinary mixture fit (:func:`gaussmix._fit.fit_mixture` with ``log_volume``):
the kernels add the constant density to each row's sum and the Gaussian statistics
leave out each row's noise share, so nothing else changes. As mclust, the fit
starts from an initial guess of which points are noise: here Byers & Raftery's
nearest-neighbour clutter removal (:func:`~gaussmix.anomaly.nn_clean`); every start
is a partition of the rows it did not call noise. A search over (K, covariance
model) runs on the grid runner that model selection uses.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._fit import fit_mixture
from .._grid import CellFit, run_grid, select_best
from .._init import Partition
from .._kmeans import kmeans_labels
from .._mixture import GaussianMixture, n_free_parameters, row_criteria_terms
from .._threads import get_num_threads
from ..kernels import get_kernel
from ._nnclean import log_hypervolume, nn_clean

__all__ = [
    "MIN_INITIAL_NOISE",
    "NN_CLEAN_MAX_ROWS",
    "NoiseProblem",
    "fit_noise_model",
    "noise_boundary",
    "select_noise_model",
]

# The noise fit's initial labelling looks at no more than this many rows (a
# uniform random sample of them): nearest-neighbour distances cost O(n^2 D) in
# high dimension, and a sample of this size tells scattered points from
# clusters as well as all rows would (every distance scales alike).
NN_CLEAN_MAX_ROWS = 20_000

# The noise component starts with at least this weight, so that EM can grow it
# when the initial labelling finds no noise (a weight of zero would stay zero).
MIN_INITIAL_NOISE = 0.01


def noise_boundary(noise_weight: float, log_volume: float) -> float:
    """Score at which a point is as likely noise as cluster: log(p0 / (1 - p0)) - log V."""
    with np.errstate(divide="ignore"):
        return float(np.log(noise_weight) - np.log1p(-noise_weight) - log_volume)


@dataclasses.dataclass(frozen=True)
class NoiseProblem:
    """Everything the fits with a noise component share.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
    weight : ndarray of shape (n_samples,) or None
    log_volume : float
        log V of the uniform noise density.
    settings : dict
        GaussianMixture parameters of every fit.
    clean_rows : ndarray of int
        Sorted rows that start in the Gaussian components (those the initial
        labelling did not call noise, among the rows it looked at).
    start_total : float
        Weight of the rows looked at, clean and noise: the noise component starts
        with weight ``1 - weight(clean_rows) / start_total``.
    """

    X: np.ndarray
    weight: np.ndarray | None
    log_volume: float
    settings: dict
    clean_rows: np.ndarray
    start_total: float

    @classmethod
    def from_data(cls, X, weight, settings, rng) -> NoiseProblem:
        """Label the initial noise (on a sample of rows when there are many)."""
        n_rows = X.shape[0]
        if n_rows > NN_CLEAN_MAX_ROWS:
            rows = np.sort(rng.choice(n_rows, size=NN_CLEAN_MAX_ROWS, replace=False))
        else:
            rows = np.arange(n_rows)
        looked_at = None if weight is None else weight[rows]
        clean_rows = rows[~nn_clean(X[rows], looked_at)]
        if weight is None:
            clean, total = float(clean_rows.size), float(rows.size)
        else:
            clean, total = float(weight[clean_rows].sum()), float(looked_at.sum())
        total = max(total, clean / (1 - MIN_INITIAL_NOISE))
        return cls(X, weight, log_hypervolume(X, weight), settings, clean_rows, total)

    def start_labels(self, k: int, random_state: np.random.RandomState) -> np.ndarray:
        """k-means labels of the clean rows, drawing from ``random_state``."""
        if self.clean_rows.size < k:
            raise ValueError(
                f"Only {self.clean_rows.size} rows are not initially labelled noise, fewer "
                f"than n_components = {k}; reduce n_components or give more rows."
            )
        weight = None if self.weight is None else self.weight[self.clean_rows]
        kernel = get_kernel(self.settings.get("kernel", "auto"))
        return kmeans_labels(
            self.X[self.clean_rows], weight, k, random_state, kernel, get_num_threads()
        )


def fit_noise_model(problem: NoiseProblem, k, name, seed, shared=None, *, quiet=False):
    """Fit K Gaussians plus the uniform noise component by EM.

    Parameters
    ----------
    problem : NoiseProblem
    k : int
    name : str
        Covariance model.
    seed : int
        Seeds the starts: k-means on the clean rows.
    shared : (labels, state) or None
        The first start's labels, already computed from ``RandomState(seed)``, and
        that random state after computing them: the fit is then the same as
        without them.
    quiet : bool
        Do not warn about degenerate components or convergence.

    Returns
    -------
    mixture : GaussianMixture
        The Gaussian part, fitted, with weights renormalised to sum to one.
    noise_weight : float
    """
    gm = GaussianMixture(
        n_components=k, covariance_type=name, random_state=seed, **problem.settings
    )

    def partitions(start, random_state):
        if shared is not None and start == 0:
            labels, state = shared
            random_state.set_state(state)
        else:
            labels = problem.start_labels(k, random_state)
        return Partition(labels, problem.clean_rows, problem.start_total)

    result = fit_mixture(
        gm,
        problem.X,
        problem.weight,
        partitions=partitions,
        log_volume=problem.log_volume,
        quiet=quiet,
        stacklevel=4,
    )
    return gm, float(result.params.noise_weight)


def _noise_criteria_terms(problem: NoiseProblem, gm, noise_weight: float):
    """(n, sum w log p(x), sum w log max posterior) of a mixture with noise."""
    with np.errstate(divide="ignore"):
        log_noise = math.log(noise_weight) if noise_weight > 0 else -math.inf
    log_noise -= problem.log_volume
    log_gauss_weight = math.log1p(-noise_weight)
    gauss_log_prob, gauss_max_log_resp = row_criteria_terms(gm, problem.X)
    gauss = log_gauss_weight + gauss_log_prob
    log_prob = np.logaddexp(gauss, log_noise)
    max_log_resp = np.maximum(gauss + gauss_max_log_resp, log_noise) - log_prob
    weight = problem.weight
    if weight is None:
        return float(log_prob.shape[0]), float(log_prob.sum()), float(max_log_resp.sum())
    return float(weight.sum()), float(weight @ log_prob), float(weight @ max_log_resp)


def select_noise_model(problem: NoiseProblem, ks, models, criterion, seeds, n_jobs):
    """Every (K, covariance model) cell with the noise component, as mclust does.

    Returns the selection (criteria with the noise component included; its
    weight is one more parameter) and the noise weight of each cell.
    """
    # One starting partition per number of components, shared by the covariance
    # models: the one each cell would draw first from its own seed.
    shared = {}
    for k in ks:
        if problem.clean_rows.size >= k:
            random_state = np.random.RandomState(seeds[k])
            shared[k] = (problem.start_labels(k, random_state), random_state.get_state())

    def fit_cell(k, name):
        gm, noise_weight = fit_noise_model(problem, k, name, seeds[k], shared.get(k), quiet=True)
        n, log_likelihood, max_log_resp = _noise_criteria_terms(problem, gm, noise_weight)
        # The noise weight is one more parameter.
        n_parameters = n_free_parameters(gm) + 1
        return CellFit(gm, n, log_likelihood, max_log_resp, n_parameters, noise_weight)

    cells = [(k, name) for k in ks for name in models]
    table, fits = run_grid(cells, fit_cell, n_jobs=n_jobs)
    selection = select_best(table, fits, criterion, "model with a noise component")
    return selection, {cell: fit.extra for cell, fit in fits.items()}
