"""Where scikit-learn aborts with "ill-defined empirical covariance", gaussmix finishes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from conftest import COVARIANCE_TYPES, mixture_data
from gaussmix import DegenerateComponentWarning, GaussianMixture

PARAMETERS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def duplicated_points(rng):
    return np.repeat(rng.normal(size=(5, 2)), 20, axis=0), {"reg_covar": 0.0}


def collinear_large_scale(rng):
    t = rng.normal(size=300)
    return np.column_stack([t, 2 * t]) * 1e9, {}


def constant_feature(rng):
    return np.column_stack([rng.normal(size=200), np.ones(200)]), {"reg_covar": 0.0}


def duplicated_float32(rng):
    X = np.repeat(rng.normal(size=(5, 3)), 30, axis=0).astype(np.float32) * 1e3
    return X, {"reg_covar": 0.0, "n_components": 4}


# (case, covariance types for which scikit-learn 1.9 aborts on it)
CRASHES = [
    (duplicated_points, ("full", "diag", "spherical")),
    (collinear_large_scale, ("full", "tied")),
    (constant_feature, ("full", "tied", "diag")),
    (duplicated_float32, ("full", "diag", "spherical")),
]
CASES = [(case, cov) for case, types in CRASHES for cov in types]


def assert_finite_model(gm, X):
    for name in PARAMETERS:
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.isfinite(gm.lower_bound_)
    assert np.all(np.isfinite(gm.score_samples(X)))
    resp = gm.predict_proba(X)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(gm.sample(20)[0]))


@pytest.mark.parametrize(
    ("case", "covariance_type"), CASES, ids=lambda v: getattr(v, "__name__", v)
)
def test_finishes_where_sklearn_aborts(case, covariance_type):
    X, extra = case(np.random.default_rng(0))
    params = {"n_components": 3, "covariance_type": covariance_type, "random_state": 0, **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="ill-defined empirical covariance"):
            SkGaussianMixture(**params).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(**params).fit(X)
    assert_finite_model(gm, X)
    degenerate = [w for w in caught if issubclass(w.category, DegenerateComponentWarning)]
    if degenerate:
        # The warning names the component (or the shared covariance) and the action.
        message = str(degenerate[0].message)
        assert "Component " in message or "shared (tied) covariance" in message
        assert "Added up to" in message or "kept its previous mean" in message


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_singular_component_is_regularised_with_a_named_warning(covariance_type):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(200, 2)), np.tile([[8.0, 8.0]], (30, 1))])
    means_init = np.array([[0.0, 0.0], [8.0, 8.0]])
    gm = GaussianMixture(
        2, covariance_type=covariance_type, reg_covar=0.0, means_init=means_init, random_state=0
    )
    if covariance_type == "tied":
        # The pooled covariance still has the spread of the 200 scattered points.
        gm.fit(X)
        assert_finite_model(gm, X)
        return
    with pytest.warns(
        DegenerateComponentWarning, match=r"Component \d had a numerically singular"
    ):
        gm.fit(X)
    assert_finite_model(gm, X)
    collapsed = np.argmin(np.linalg.norm(gm.means_ - 8.0, axis=1))
    covariance = gm.covariances_[collapsed]
    variance = X.var(axis=0)
    # Regularised by 1e-6 of each feature's variance (spherical: of their mean).
    expected = 1e-6 * (variance.mean() if covariance_type == "spherical" else variance)
    diag = covariance if covariance.ndim <= 1 else np.diag(covariance)
    np.testing.assert_allclose(diag, expected, rtol=1e-6)


def test_empty_component_keeps_its_previous_mean():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 6])
    means_init = np.array([[0.0, 0.0], [6.0, 6.0], [-50.0, 50.0]])
    gm = GaussianMixture(3, weights_init=[0.5, 0.5, 0.0], means_init=means_init, random_state=0)
    with pytest.warns(DegenerateComponentWarning, match="Component 2 was empty at iteration 1"):
        gm.fit(X)
    assert_finite_model(gm, X)
    np.testing.assert_allclose(gm.means_[2], means_init[2])
    assert gm.weights_[2] < 1e-12
    np.testing.assert_allclose(gm.weights_.sum(), 1.0)


def test_repair_is_silent_on_healthy_data():
    X, _ = mixture_data(500, 3, 3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for covariance_type in COVARIANCE_TYPES:
            GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)


def assert_equivariant(scaled, standard, X, factors):
    np.testing.assert_allclose(scaled.means_ / factors, standard.means_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(scaled.weights_, standard.weights_, rtol=1e-6, atol=1e-12)
    log_det = np.log(factors).sum()
    np.testing.assert_allclose(scaled.lower_bound_, standard.lower_bound_ - log_det, rtol=1e-6)
    np.testing.assert_array_equal(scaled.predict(X * factors), standard.predict(X))


def standardised(seed):
    X, _ = mixture_data(600, 3, 3, seed=seed)
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("scale", [1e-6, 1e9])
def test_reg_covar_auto_fits_any_scale_like_standardised_data(covariance_type, scale):
    """The whole fit, default start included, is equivariant to rescaling the data."""
    X = standardised(4)
    factors = np.full(3, scale)
    params = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    standard = GaussianMixture(**params, reg_covar="auto").fit(X)
    scaled = GaussianMixture(**params, reg_covar="auto").fit(X * factors)
    assert_equivariant(scaled, standard, X, factors)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_reg_covar_auto_follows_each_features_scale(covariance_type):
    """Features of scales 1e-6, 1 and 1e9 at once, from correspondingly scaled starts."""
    X = standardised(6)
    factors = np.array([1e-6, 1.0, 1e9])
    params = dict(n_components=3, covariance_type=covariance_type, reg_covar="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        standard = GaussianMixture(**params, random_state=0, max_iter=1).fit(X)
        start = dict(weights_init=standard.weights_, means_init=standard.means_)
        precisions = standard.precisions_
        if covariance_type == "full":
            scaled_precisions = precisions / np.outer(factors, factors)
        else:
            scaled_precisions = precisions / factors**2
        reference = GaussianMixture(**params, **start, precisions_init=precisions).fit(X)
        scaled = GaussianMixture(
            **params,
            weights_init=standard.weights_,
            means_init=standard.means_ * factors,
            precisions_init=scaled_precisions,
        ).fit(X * factors)
    assert_equivariant(scaled, reference, X, factors)


def test_absolute_reg_covar_swamps_tiny_features_but_auto_does_not():
    """The default reg_covar (1e-6, absolute) erases structure at scale 1e-6; "auto" keeps it."""
    rng = np.random.default_rng(5)
    labels = rng.integers(2, size=400)
    X = (rng.normal(size=(400, 2)) * 0.3 + np.array([[0, 0], [3, 3]])[labels]) * 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = GaussianMixture(2, random_state=0).fit(X)
    auto = GaussianMixture(2, reg_covar="auto", random_state=0).fit(X)
    within = np.array([X[labels == k].var(axis=0).mean() for k in range(2)])
    assert np.all(np.diagonal(default.covariances_, axis1=1, axis2=2) > 1e-7)  # ~reg_covar
    np.testing.assert_allclose(
        np.sort(np.diagonal(auto.covariances_, axis1=1, axis2=2).mean(axis=1)),
        np.sort(within),
        rtol=0.2,
    )
