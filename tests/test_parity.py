"""Same numbers as scikit-learn from the same start."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from conftest import COVARIANCE_TYPES, mixture_data, start_params
from gaussmix import GaussianMixture

ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
SHAPES = [(300, 2, 3), (500, 5, 4), (200, 8, 2), (1000, 3, 6)]


def fit_both(X, gm_kwargs, sk_kwargs=None, **fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGaussianMixture(**(sk_kwargs or gm_kwargs)).fit(X)
        gm = GaussianMixture(**gm_kwargs).fit(X, **fit_kwargs)
    return gm, sk


def assert_same_model(gm, sk, X, rtol=1e-6):
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(gm, name), getattr(sk, name), rtol=rtol, err_msg=name)
    assert gm.n_iter_ == sk.n_iter_
    assert gm.converged_ == sk.converged_
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(gm.lower_bounds_, sk.lower_bounds_, rtol=rtol)
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=rtol)
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), rtol=rtol, atol=1e-12)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
    np.testing.assert_allclose(gm.score(X), sk.score(X), rtol=rtol)
    np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=rtol)
    np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=rtol)
    assert gm._n_parameters() == sk._n_parameters()


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("n", "d", "k"), SHAPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_numbers_from_same_start(covariance_type, n, d, k, seed, kernel):
    X, _ = mixture_data(n, d, k, seed=seed)
    params = dict(
        n_components=k,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=15,
        **start_params(X, k, covariance_type, seed),
    )
    gm, sk = fit_both(X, {**params, "kernel": kernel}, params)
    assert len(gm.lower_bounds_) == 15
    assert_same_model(gm, sk, X)


SEEDED_STARTS = [
    (covariance_type, init_params)
    for covariance_type in COVARIANCE_TYPES
    for init_params in ("kmeans", "k-means++", "random", "random_from_data")
    # tied with single-point starts differs on purpose: test_tied_single_point_start
    if not (covariance_type == "tied" and init_params in ("k-means++", "random_from_data"))
]


@pytest.mark.parametrize(("covariance_type", "init_params"), SEEDED_STARTS)
def test_same_numbers_from_same_seed(covariance_type, init_params):
    """The initialisations draw from random_state exactly as scikit-learn's do."""
    X, _ = mixture_data(400, 3, 3, seed=3)
    params = dict(
        n_components=3, covariance_type=covariance_type, init_params=init_params, random_state=7
    )
    gm, sk = fit_both(X, params)
    assert_same_model(gm, sk, X)


def test_tied_single_point_start():
    """k-means++ / random_from_data start each component at one data point.

    scikit-learn's tied estimator uses ``X.T @ X`` over all rows, which is only
    right when each row's responsibilities sum to one; with single-point starts it
    yields a covariance of the scale of the raw second moment. gaussmix uses the
    centred scatter of the chosen points (zero), so the initial covariance is
    ``reg_covar * I`` as for every other covariance type. The initial means and
    weights are the same.
    """
    X, _ = mixture_data(400, 3, 3, seed=3)
    for init in ("k-means++", "random_from_data"):
        params = dict(n_components=3, covariance_type="tied", init_params=init, random_state=0)
        gm_start = GaussianMixture(**params, max_iter=0).fit(X)
        sk_start = SkGaussianMixture(**params, max_iter=0).fit(X)
        np.testing.assert_allclose(gm_start.means_, sk_start.means_)
        np.testing.assert_allclose(gm_start.weights_, sk_start.weights_)
        np.testing.assert_allclose(gm_start.covariances_, 1e-6 * np.eye(3))
        gm = GaussianMixture(**params, tol=1e-8, max_iter=1000).fit(X)
        assert gm.converged_
        assert np.isfinite(gm.lower_bound_)


def permuted(model, order):
    """The model's per-component attributes in the given component order."""
    values = {"weights_": model.weights_[order], "means_": model.means_[order]}
    if model.covariance_type != "tied":
        values["covariances_"] = model.covariances_[order]
    return values


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_init_and_convergence_semantics(covariance_type):
    X, _ = mixture_data(300, 2, 3, seed=5)
    params = dict(n_components=3, covariance_type=covariance_type, n_init=3, random_state=1)
    gm, sk = fit_both(X, params)
    assert gm.converged_ and sk.converged_
    # Restarts that reach the same optimum with components permuted tie up to
    # round-off, so which of them is kept may differ: compare up to permutation.
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-10)
    order_gm = np.lexsort(gm.means_.T)
    order_sk = np.lexsort(sk.means_.T)
    expected = permuted(sk, order_sk)
    for name, value in permuted(gm, order_gm).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-6)
    # |change| < tol stops: the last change is below tol, the one before is not.
    changes = np.abs(np.diff(gm.lower_bounds_))
    assert changes[-1] < gm.tol
    assert np.all(changes[:-1] >= gm.tol)


def test_convergence_warning_is_sklearns():
    X, _ = mixture_data(300, 2, 3, seed=5)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm = GaussianMixture(3, max_iter=1, random_state=0).fit(X)
    assert not gm.converged_
    assert gm.n_iter_ == 1


def test_max_iter_zero_keeps_the_start():
    X, _ = mixture_data(300, 2, 3, seed=5)
    gm, sk = fit_both(X, dict(n_components=3, max_iter=0, random_state=0))
    assert gm.n_iter_ == 0 and gm.lower_bound_ == -np.inf and gm.lower_bounds_ == []
    np.testing.assert_allclose(gm.means_, sk.means_)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start(covariance_type):
    X, _ = mixture_data(400, 3, 3, seed=2)
    params = dict(
        n_components=3,
        covariance_type=covariance_type,
        warm_start=True,
        max_iter=3,
        tol=0.0,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(**params)
        sk = SkGaussianMixture(**params)
        for _ in range(3):
            gm.fit(X)
            sk.fit(X)
    assert_same_model(gm, sk, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_draws_equal_sklearns(covariance_type):
    X, _ = mixture_data(300, 3, 3, seed=4)
    gm, sk = fit_both(X, dict(n_components=3, covariance_type=covariance_type, random_state=3))
    X_gm, y_gm = gm.sample(50)
    X_sk, y_sk = sk.sample(50)
    np.testing.assert_array_equal(y_gm, y_sk)
    np.testing.assert_allclose(X_gm, X_sk, rtol=1e-6)


def test_verbose_output_matches_sklearn(capsys):
    X, _ = mixture_data(300, 2, 3, seed=5)
    params = dict(n_components=3, verbose=1, verbose_interval=1, random_state=0)
    SkGaussianMixture(**params).fit(X)
    sk_out = capsys.readouterr().out
    GaussianMixture(**params).fit(X)
    assert capsys.readouterr().out == sk_out
    GaussianMixture(**{**params, "verbose": 2}).fit(X)
    out = capsys.readouterr().out
    assert "time lapse" in out and "ll change" in out and "lower bound" in out


def float32_errors(covariance_type, seed):
    """Max relative attribute error of float32 fits against the float64 fit."""
    X64, _ = mixture_data(2000, 4, 3, seed=seed, offset=50.0)
    X32 = X64.astype(np.float32)
    start = start_params(X64, 3, covariance_type, seed)
    params = dict(n_components=3, covariance_type=covariance_type, tol=0.0, max_iter=10, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = SkGaussianMixture(**params).fit(X64)
        sk32 = SkGaussianMixture(**params).fit(X32)
        gm32 = GaussianMixture(**params).fit(X32)
    errors = {}
    for name, model in (("sklearn", sk32), ("gaussmix", gm32)):
        errors[name] = max(
            np.max(np.abs(getattr(model, a) - getattr(reference, a)))
            / np.max(np.abs(getattr(reference, a)))
            for a in ATTRIBUTES
        )
    return errors, gm32


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_at_least_as_accurate_as_sklearn(covariance_type, seed):
    errors, gm32 = float32_errors(covariance_type, seed)
    for name in ATTRIBUTES:
        assert getattr(gm32, name).dtype == np.float32, name
    assert errors["gaussmix"] <= errors["sklearn"] + 1e-7
    assert errors["gaussmix"] < 1e-4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, "EEV", "VEE"])
def test_score_is_the_mean_of_score_samples_as_in_sklearn(covariance_type, dtype):
    # scikit-learn's test_score: score(X) agrees with score_samples(X).mean() to 7
    # decimals, which for float32 means taking that mean in float32 as it does.
    X, _ = mixture_data(500, 3, 2, seed=3, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(
            2, covariance_type=covariance_type, max_iter=1, reg_covar=0, random_state=0
        ).fit(X)
    log_prob = gm.score_samples(X)
    assert log_prob.dtype == dtype
    np.testing.assert_almost_equal(gm.score(X), log_prob.mean(), 7)
    assert gm.score(X) == float(log_prob.mean())
    # Weighted: the weighted average of the same log-densities ...
    rng = np.random.default_rng(0)
    weight = rng.uniform(0.0, 3.0, size=len(X))
    np.testing.assert_almost_equal(
        gm.score(X, sample_weight=weight), np.average(log_prob, weights=weight), 7
    )
    # ... and an integer weight is a repeated row.
    counts = rng.integers(0, 4, size=len(X))
    repeated = np.repeat(X, counts, axis=0)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gm.score(X, sample_weight=counts), gm.score(repeated), rtol=rtol)
    # With the same start, scikit-learn's score of the same model agrees.
    if covariance_type in COVARIANCE_TYPES:
        sk = SkGaussianMixture(2, covariance_type=covariance_type).fit(X[:10])
        for name in ATTRIBUTES:
            setattr(sk, name, getattr(gm, name))
        np.testing.assert_allclose(gm.score(X), sk.score(X), rtol=1e-6)
