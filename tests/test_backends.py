"""The backend seam: the EM loop and the start reach the data only through ``Backend``.

A backend of a third kind (row chunks merged by a tree reduction, as a cluster
backend would run them) plugs in without any change to the loop or the start,
and gives the in-memory backend's fit to rounding.
"""

from __future__ import annotations

import ast
import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from conftest import mixture_data
from gaussmix import GaussianMixture
from gaussmix._em import fit_em
from gaussmix._init import initial_params
from gaussmix._mstep import DataScale
from gaussmix._params import MixtureParams
from gaussmix._setup import FitSetup
from gaussmix._suffstats import SuffStats
from gaussmix.backends import Backend, InMemoryBackend
from gaussmix.covariance import get_covariance_model
from gaussmix.kernels import get_kernel

SOURCE = Path(__file__).resolve().parents[1] / "src" / "gaussmix"


def tree_merge(parts: list[SuffStats]) -> SuffStats:
    """Merge pairwise, level by level: the reduction a cluster scheduler runs."""
    while len(parts) > 1:
        parts = [
            parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


class ChunkBackend(Backend):
    """Rows held as chunks of uneven sizes; every pass maps chunks and tree-reduces."""

    def __init__(self, X, sample_weight, chunk_rows):
        bounds = [*range(0, X.shape[0], chunk_rows), X.shape[0]]
        self.chunks = [X[a:b] for a, b in itertools.pairwise(bounds)]
        self.weights = (
            None
            if sample_weight is None
            else [sample_weight[a:b] for a, b in itertools.pairwise(bounds)]
        )
        self.sample_weight = sample_weight
        self.block_size = chunk_rows
        self.n_threads = 1
        self.passes = 0

    @property
    def n_rows(self):
        return sum(chunk.shape[0] for chunk in self.chunks)

    @property
    def n_features(self):
        return self.chunks[0].shape[1]

    def _pairs(self):
        weights = self.weights or [None] * len(self.chunks)
        return zip(self.chunks, weights, strict=True)

    def _stats(self, kernel_stats, *args, **kwargs):
        self.passes += 1
        parts = []
        for X, w in self._pairs():
            n_k, mean_k, scatter_k, *log_likelihood = kernel_stats(X, w, *args, **kwargs)
            weight_sum = float(X.shape[0] if w is None else w.sum())
            ll = log_likelihood[0] if log_likelihood else 0.0
            parts.append(SuffStats(n_k, mean_k, scatter_k, ll, weight_sum, X.shape[0]))
        return tree_merge(parts)

    def estep(self, kernel, model, params, *, log_volume=None):
        n_components, n_features = params.means.shape
        precisions = model.kernel_precisions(params.precisions_chol, n_components, n_features)
        extra = {}
        if log_volume is not None:
            extra["log_background"] = params.log_background(log_volume)
        return self._stats(
            kernel.estep_stats,
            params.means,
            precisions,
            params.log_norm(model),
            model.form,
            model.scatter,
            **extra,
        )

    def label_stats(self, kernel, labels, n_components, scatter):
        self.passes += 1
        parts, start = [], 0
        for X, w in self._pairs():
            stop = start + X.shape[0]
            n_k, mean_k, scatter_k = kernel.label_stats(
                X, w, labels[start:stop], n_components, scatter
            )
            weight_sum = float(X.shape[0] if w is None else w.sum())
            parts.append(SuffStats(n_k, mean_k, scatter_k, 0.0, weight_sum, X.shape[0]))
            start = stop
        return tree_merge(parts)

    def moments(self, kernel):
        def stats(X, w, *_):
            n_k, mean_k, scatter_k = kernel.resp_stats(X, w, np.ones((X.shape[0], 1)), "diag")
            return n_k, mean_k, scatter_k

        return self._stats(stats)

    def take(self, rows):
        X = np.concatenate(self.chunks)
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        return X[rows], weight

    def map_rows(self, fn, *, dtype=None):
        return np.concatenate([fn(X) for X in self.chunks]).astype(dtype or float, copy=False)


def start_for(X, n_components, covariance_type, noise_weight=0.0):
    """Parameters after two EM iterations from gaussmix's default start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=2, random_state=0
        ).fit(X)
    return MixtureParams(
        gm.weights_ * (1 - noise_weight),
        gm.means_,
        gm.covariances_,
        gm.precisions_cholesky_,
        noise_weight=noise_weight,
    )


def setup_for(backend, model, n_components, seed=0, **kwargs):
    kernel = get_kernel("numpy")
    return FitSetup(
        backend=backend,
        kernel=kernel,
        model=model,
        n_components=n_components,
        reg=np.full(backend.n_features, 1e-6),
        eps10=10 * float(np.finfo(np.float64).eps),
        scale=DataScale(backend, kernel),
        random_state=np.random.RandomState(seed),
        **kwargs,
    )


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical", "VEV"])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_third_backend_gives_the_in_memory_fit(covariance_type, weighted):
    X, _ = mixture_data(1500, 3, 3, seed=4)
    weight = np.random.default_rng(1).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    model = get_covariance_model(covariance_type)
    start = start_for(X, 3, covariance_type)
    results = []
    for backend in (InMemoryBackend(X, weight, 400), ChunkBackend(X, weight, 173)):
        setup = setup_for(backend, model, 3)
        results.append(fit_em(setup, lambda: (start, []), n_init=1, tol=0.0, max_iter=15))
    expected, actual = results
    assert actual.n_iter == expected.n_iter == 15
    np.testing.assert_allclose(actual.lower_bounds, expected.lower_bounds, rtol=1e-10)
    for name in ("weights", "means", "covariances", "precisions_chol"):
        np.testing.assert_allclose(
            getattr(actual.params, name), getattr(expected.params, name), rtol=1e-7, atol=1e-9
        )


def test_the_start_runs_on_a_third_backend_as_on_the_in_memory_one():
    # Rows that are not one in-memory array are gathered (take) into the start's
    # sample, on which k-means runs; the data's scale is the backend's own pass.
    X, _ = mixture_data(900, 2, 3, seed=6)
    model = get_covariance_model("full")
    chunked = ChunkBackend(X, None, 250)
    params = [
        initial_params(setup_for(backend, model, 3, seed=7), "kmeans")[0]
        for backend in (InMemoryBackend(X, None, 900), chunked)
    ]
    assert chunked.passes == 1  # moments(): the data's scale
    np.testing.assert_allclose(params[1].means, params[0].means, rtol=1e-10)
    np.testing.assert_allclose(params[1].covariances, params[0].covariances, rtol=1e-9)


def test_the_noise_term_goes_through_the_backend():
    X, _ = mixture_data(600, 2, 2, seed=2)
    model = get_covariance_model("diag")
    start = start_for(X, 2, "diag", noise_weight=0.1)
    log_volume = float(np.sum(np.log(np.ptp(X, axis=0))))
    kernel = get_kernel("numpy")
    expected = InMemoryBackend(X, None, 600).estep(kernel, model, start, log_volume=log_volume)
    actual = ChunkBackend(X, None, 97).estep(kernel, model, start, log_volume=log_volume)
    np.testing.assert_allclose(actual.n_k, expected.n_k, rtol=1e-12)
    assert actual.n_k.sum() < 0.999 * actual.weight_sum  # the noise share is left out
    assert actual.log_likelihood == pytest.approx(expected.log_likelihood, rel=1e-12)


LOOP_MUST_NOT_NAME = {
    "block_size",
    "auto_block_size",
    "blocks",
    "n_threads",
    "thread_limit",
    "shared_rows",
    "estep_tasks",
    "task_rows_for",
    "run_tasks",
    "map_reduce",
    "ordered_results",
    "run_everywhere",
}


@pytest.mark.parametrize("module", ["_em.py", "_mstep.py"])
def test_the_loop_knows_nothing_of_threads_tasks_or_blocks(module):
    tree = ast.parse((SOURCE / module).read_text())
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert names & LOOP_MUST_NOT_NAME == set()
