"""Shared fixtures: mixture data and a common start for gaussmix and scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import settings
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("deterministic")

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _simd_targets():
    from gaussmix.kernels import _gaussmix

    return _gaussmix.simd_targets()


@pytest.fixture(params=_simd_targets())
def simd_target(request):
    """Each SIMD target of the compiled kernels that this CPU runs, in turn."""
    from gaussmix.kernels import _gaussmix

    previous = _gaussmix.simd_target()
    assert _gaussmix.set_simd_target(request.param)
    yield request.param
    _gaussmix.set_simd_target(previous)


def mixture_data(n_samples, n_features, n_components, seed=0, dtype=np.float64, offset=0.0):
    """Rows from ``n_components`` Gaussians with random means and correlated covariances."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(n_components, size=n_samples)
    centres = rng.normal(scale=4.0, size=(n_components, n_features))
    mixing = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    mixing += np.eye(n_features)
    noise = rng.normal(size=(n_samples, n_features))
    X = centres[labels] + np.einsum("nij,nj->ni", mixing[labels], noise) + offset
    return X.astype(dtype), labels


def start_params(X, n_components, covariance_type, seed=0):
    """A reasonable, shared starting point: scikit-learn after 2 EM iterations."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGaussianMixture(
            n_components,
            covariance_type=covariance_type,
            max_iter=2,
            random_state=seed,
        ).fit(np.asarray(X, dtype=np.float64))
    return {
        "weights_init": sk.weights_,
        "means_init": sk.means_,
        "precisions_init": sk.precisions_,
    }


@pytest.fixture
def data():
    return mixture_data


@pytest.fixture
def start():
    return start_params
