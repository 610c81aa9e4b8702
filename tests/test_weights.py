"""Sample weights: frequency-weight semantics, weighted initialisation, criteria."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from conftest import COVARIANCE_TYPES, mixture_data, start_params
from gaussmix import GaussianMixture

ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def assert_same(a, b, rtol=1e-10):
    for name in ATTRIBUTES:
        np.testing.assert_allclose(
            getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12, err_msg=name
        )
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=rtol)


def fit(X, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(**params).fit(X, sample_weight=sample_weight)


@pytest.fixture
def weighted_data():
    X, _ = mixture_data(300, 3, 3, seed=11)
    weight = np.random.default_rng(0).integers(0, 4, size=len(X)).astype(float)
    return X, weight


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows_from_same_start(weighted_data, covariance_type):
    X, weight = weighted_data
    start = start_params(X, 3, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, tol=0.0, max_iter=20, **start)
    weighted = fit(X, weight, **params)
    repeated = fit(np.repeat(X, weight.astype(int), axis=0), **params)
    assert_same(weighted, repeated)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weighted_initialisation_equals_repetition(weighted_data, covariance_type, init_params):
    """k-means and k-means++ use the weights, so even the default start matches."""
    X, weight = weighted_data
    params = dict(
        n_components=3, covariance_type=covariance_type, init_params=init_params, random_state=0
    )
    weighted = fit(X, weight, **params)
    repeated = fit(np.repeat(X, weight.astype(int), axis=0), **params)
    assert_same(weighted, repeated, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weight_equals_removing_the_row(weighted_data, covariance_type):
    X, weight = weighted_data
    weight = (weight > 0).astype(float)
    start = start_params(X, 3, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, tol=0.0, max_iter=20, **start)
    assert_same(fit(X, weight, **params), fit(X[weight > 0], **params))
    # and with the default (k-means) start
    params = dict(n_components=3, covariance_type=covariance_type, random_state=3)
    assert_same(fit(X, weight, **params), fit(X[weight > 0], **params), rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_component_is_the_weighted_mean_and_covariance(covariance_type):
    """Closed form: a single Gaussian fit is the weighted mean and (biased) covariance."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 3)) + 5
    weight = rng.uniform(0.1, 2.0, size=200)
    gm = fit(X, weight, n_components=1, covariance_type=covariance_type, reg_covar=0.0)
    mean = weight @ X / weight.sum()
    cov = ((X - mean) * weight[:, None]).T @ (X - mean) / weight.sum()
    expected = {
        "full": cov[None],
        "tied": cov,
        "diag": np.diag(cov)[None],
        "spherical": np.array([np.diag(cov).mean()]),
    }[covariance_type]
    np.testing.assert_allclose(gm.means_[0], mean, rtol=1e-12)
    np.testing.assert_allclose(gm.covariances_, expected, rtol=1e-10)


def test_uniform_weights_change_nothing(weighted_data):
    X, _ = weighted_data
    params = dict(n_components=3, random_state=0)
    assert_same(fit(X, np.ones(len(X)), **params), fit(X, **params), rtol=1e-13)
    assert_same(fit(X, np.full(len(X), 2.5), **params), fit(X, **params), rtol=1e-10)


def test_weighted_score_aic_bic_equal_repetition(weighted_data):
    X, weight = weighted_data
    repeated = np.repeat(X, weight.astype(int), axis=0)
    gm = fit(X, weight, n_components=3, random_state=0)
    np.testing.assert_allclose(gm.score(X, sample_weight=weight), gm.score(repeated))
    np.testing.assert_allclose(gm.aic(X, sample_weight=weight), gm.aic(repeated))
    np.testing.assert_allclose(gm.bic(X, sample_weight=weight), gm.bic(repeated))
    # lower_bound_ is the weighted mean log-likelihood of the last E-step
    assert gm.score(X, sample_weight=weight) >= gm.lower_bound_ - 1e-8


def test_random_from_data_never_picks_a_zero_weight_row():
    X, _ = mixture_data(200, 2, 3, seed=1)
    weight = np.zeros(len(X))
    weight[:5] = 1.0
    for seed in range(10):
        gm = fit(
            X,
            weight,
            n_components=3,
            init_params="random_from_data",
            random_state=seed,
            max_iter=0,
        )
        assert all(any(np.allclose(m, x) for x in X[:5]) for m in gm.means_)


def test_sample_weight_is_not_modified(weighted_data):
    X, weight = weighted_data
    original = weight.copy()
    fit(X, weight, n_components=3, random_state=0)
    np.testing.assert_array_equal(weight, original)


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (-np.ones(300), "non-negative"),
        (np.full(300, np.nan), "NaN or infinity"),
        (np.zeros(300), "all zero"),
        (np.ones(299), r"shape \(300,\)"),
        (np.r_[np.ones(2), np.zeros(298)], "at least n_components=3 rows with a non-zero"),
    ],
)
def test_bad_weights_raise_clear_errors(weighted_data, weight, match):
    X, _ = weighted_data
    with pytest.raises(ValueError, match=match):
        GaussianMixture(3).fit(X, sample_weight=weight)
