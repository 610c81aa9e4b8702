"""Property tests (hypothesis) of fitted models and of the sufficient-statistics merge.

Every example is deterministic (``derandomize=True``): the same examples run each time.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

from gaussmix import DegenerateComponentWarning, GaussianMixture
from gaussmix._suffstats import SuffStats
from gaussmix.covariance import MCLUST_NAMES, get_covariance_model
from gaussmix.kernels._numpy import estep_stats

# All 14 covariance models, scikit-learn's four under their scikit-learn names.
COV_TYPES = tuple(get_covariance_model(name).name for name in MCLUST_NAMES)
# The unconstrained model each one is with a single component.
SINGLE_COMPONENT_FAMILY = {
    "EII": "spherical", "spherical": "spherical",
    "EEI": "diag", "VEI": "diag", "EVI": "diag", "diag": "diag",
    "tied": "tied",
    "VEE": "full", "EVE": "full", "VVE": "full", "EEV": "full", "VEV": "full", "EVV": "full",
    "full": "full",
}  # fmt: skip
EPS = np.finfo(np.float64).eps

# No "explain" phase: it reruns a failing example many times for little gain.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def datasets(draw, min_rows=20, max_rows=200):
    """Clustered data with a random number of rows, features, scale and offset.

    Besides plain clusters (``"gaussian"``), ``kind`` gives data where components
    may degenerate: rounded to a grid (``"discrete"``), only a few distinct rows
    repeated (``"few_distinct"``), or a feature constant (``"constant_feature"``).
    """
    n_rows = draw(st.integers(min_rows, max_rows))
    n_features = draw(st.integers(1, 4))
    n_clusters = draw(st.integers(1, 4))
    scale = 10.0 ** draw(st.floats(-3, 3))
    offset = draw(st.floats(-100, 100))
    kind = draw(st.sampled_from(("gaussian", "discrete", "few_distinct", "constant_feature")))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.RandomState(seed)
    centres = rng.randn(n_clusters, n_features) * 4
    spreads = rng.uniform(0.2, 2.0, size=(n_clusters, n_features))
    labels = rng.randint(n_clusters, size=n_rows)
    X = centres[labels] + rng.randn(n_rows, n_features) * spreads[labels]
    if kind == "discrete":
        X = np.round(X)
    elif kind == "few_distinct":
        X = X[rng.randint(min(n_rows, 6), size=n_rows)]
    elif kind == "constant_feature":
        X[:, rng.randint(n_features)] = 1.0
    return (X + offset) * scale, scale


# ============================================================ fitted-model properties


def _assert_spd(matrix: np.ndarray) -> None:
    assert_allclose(matrix, matrix.T, rtol=1e-12, atol=1e-12 * np.abs(matrix).max())
    assert np.linalg.eigvalsh(matrix).min() > 0


def _component_covariances(gm: GaussianMixture) -> np.ndarray:
    """(K, D, D) covariance matrices, whatever the covariance type."""
    n_components, n_features = gm.means_.shape
    model = get_covariance_model(gm.covariance_type)
    cov = np.asarray(gm.covariances_, dtype=np.float64)
    return np.stack([model.component_covariance(cov, k, n_features) for k in range(n_components)])


def _check_parameters(gm: GaussianMixture) -> None:
    n_components, n_features = gm.means_.shape
    assert gm.weights_.shape == (n_components,)
    assert np.all(gm.weights_ >= 0)
    assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.isfinite(gm.means_))
    cov, prec, prec_chol = gm.covariances_, gm.precisions_, gm.precisions_cholesky_
    assert cov.shape == prec.shape == prec_chol.shape
    assert cov.shape == get_covariance_model(gm.covariance_type).shape(n_components, n_features)
    for c in _component_covariances(gm):
        # SPD, with a finite log-determinant.
        _assert_spd(c)
        sign, log_det = np.linalg.slogdet(c)
        assert sign == 1 and np.isfinite(log_det)
    if get_covariance_model(gm.covariance_type).form == "full":
        covs = cov if cov.ndim == 3 else cov[None]
        precs = prec if cov.ndim == 3 else prec[None]
        chols = prec_chol if cov.ndim == 3 else prec_chol[None]
        for c, p, u in zip(covs, precs, chols, strict=True):
            _assert_spd(p)
            # precisions_ is the inverse of covariances_, to the matrix's conditioning.
            cond = np.linalg.cond(c)
            assert np.abs(p @ c - np.eye(n_features)).max() <= 1e3 * EPS * cond + 1e-12
            # precisions_cholesky_ is upper triangular with U U^T = precisions_.
            assert np.all(np.tril(u, -1) == 0)
            assert np.all(np.diag(u) > 0)
            assert_allclose(u @ u.T, p, rtol=1e-10, atol=1e-12 * np.abs(p).max())
    else:
        assert np.all(cov > 0)
        assert np.all(prec > 0)
        assert np.all(prec_chol > 0)
        assert_allclose(prec * cov, 1.0, rtol=1e-12)
        assert_allclose(prec_chol**2, prec, rtol=1e-12)


def _reference_log_density(gm: GaussianMixture, X: np.ndarray) -> np.ndarray:
    """log p(x) by scipy, from means_, covariances_ and weights_ alone."""
    covs = _component_covariances(gm)
    with np.errstate(divide="ignore"):
        log_weights = np.log(gm.weights_)
    columns = [
        log_w + multivariate_normal(mean, cov).logpdf(X).reshape(len(X))
        for log_w, mean, cov in zip(log_weights, gm.means_, covs, strict=True)
    ]
    return logsumexp(np.column_stack(columns), axis=1)


fit_settings = st.fixed_dictionaries(
    {
        "covariance_type": st.sampled_from(COV_TYPES),
        "init_params": st.sampled_from(
            ("kmeans", "k-means++", "random", "random_from_data", "hc")
        ),
        "kernel": st.sampled_from(("numpy", "compiled")),
        "random_state": st.integers(0, 1000),
        "n_components": st.integers(1, 4),
        "block_size": st.sampled_from((None, 7, 64)),
    }
)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::gaussmix.DegenerateComponentWarning")
@SETTINGS
@given(data=datasets(), params=fit_settings)
def test_fitted_model_properties(data, params):
    X, _ = data
    n_rows, n_features = X.shape
    n_components = params["n_components"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(reg_covar="auto", **params).fit(X)
    for category in sorted({w.category.__name__ for w in caught}):
        event(f"warned: {category}")

    _check_parameters(gm)

    bounds = np.asarray(gm.lower_bounds_)
    assert len(bounds) == gm.n_iter_ >= 1
    assert np.all(np.isfinite(bounds))
    assert gm.lower_bound_ == bounds[-1]
    # With reg_covar relative to the data's scale, scikit-learn's four models climb
    # the likelihood. The constrained models climb a regularised objective (reg_covar
    # enters as a prior on their scatter), which can differ by a hair where the
    # regularisation holds a variance up; test_fitted_model_properties_fixed_reg_covar
    # checks them without it.
    monotone = params["covariance_type"] in ("full", "tied", "diag", "spherical")
    if monotone:
        decrease = bounds[:-1] - bounds[1:]
        assert np.all(decrease <= 1e-9 * (1 + np.abs(bounds[1:]))), bounds

    proba = gm.predict_proba(X)
    assert proba.shape == (n_rows, n_components)
    assert np.all((proba >= 0) & (proba <= 1))
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    labels = gm.predict(X)
    assert labels.shape == (n_rows,)
    assert np.all(proba[np.arange(n_rows), labels] == proba.max(axis=1))

    log_density = gm.score_samples(X)
    assert log_density.shape == (n_rows,)
    assert np.all(np.isfinite(log_density))
    assert gm.score(X) == pytest.approx(np.mean(log_density), rel=1e-12, abs=1e-12)

    # lower_bound_ is the mean log-density before the last M-step, which cannot lower it.
    if monotone:
        assert gm.score(X) >= gm.lower_bound_ - 1e-9 * (1 + abs(gm.lower_bound_))

    samples, sample_labels = gm.sample(25)
    assert samples.shape == (25, n_features)
    assert samples.dtype == np.float64
    assert np.all(np.isfinite(samples))
    assert sample_labels.shape == (25,)
    assert np.all((sample_labels >= 0) & (sample_labels < n_components))
    # Samples of component k are listed together, in order of k.
    assert np.all(np.diff(sample_labels) >= 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::gaussmix.DegenerateComponentWarning")
@SETTINGS
@given(data=datasets(), params=fit_settings)
@pytest.mark.parametrize("reg_covar", [1e-6, 0.0])
def test_fitted_model_properties_fixed_reg_covar(data, params, reg_covar):
    # With a fixed reg_covar=1e-6 on data of scale 1e-3 the regularisation is not
    # negligible, so the lower bound need not be monotone; the rest must hold. With
    # reg_covar=0 collapsed components are repaired (DegenerateComponentWarning).
    X, _ = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(reg_covar=reg_covar, **params).fit(X)
    categories = sorted({w.category.__name__ for w in caught})
    for category in categories:
        event(f"warned: {category}")
    _check_parameters(gm)
    bounds = np.asarray(gm.lower_bounds_)
    assert np.all(np.isfinite(bounds))
    proba = gm.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.isfinite(gm.score_samples(X)))
    assert np.all(np.isfinite(gm.sample(10)[0]))
    if reg_covar == 0.0 and "DegenerateComponentWarning" not in categories:
        # Every model's M-step (a generalised one for those that iterate) never
        # lowers the likelihood; only a repair may. The tolerance is rounding of a
        # sum over the rows (1e-9 relative is ~1e7 eps).
        event("checked: monotone")
        decrease = bounds[:-1] - bounds[1:]
        assert np.all(decrease <= 1e-9 * (1 + np.abs(bounds[1:]))), bounds
        assert gm.score(X) >= gm.lower_bound_ - 1e-9 * (1 + abs(gm.lower_bound_))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::gaussmix.DegenerateComponentWarning")
@settings(max_examples=50, deadline=None, derandomize=True, phases=PHASES)
@given(data=datasets(), params=fit_settings)
def test_lower_bound_is_the_score_of_the_previous_iterate(data, params):
    # The same start run for one and for two iterations: the second run's second bound
    # is the mean log-likelihood of the first run's parameters.
    X, _ = data
    params = {**params, "kernel": "numpy"}
    one = GaussianMixture(max_iter=1, tol=0, reg_covar="auto", **params).fit(X)
    two = GaussianMixture(max_iter=2, tol=0, reg_covar="auto", **params).fit(X)
    assert len(one.lower_bounds_) == 1
    assert len(two.lower_bounds_) == 2
    assert two.lower_bounds_[0] == one.lower_bounds_[0]
    assert two.lower_bounds_[1] == pytest.approx(one.score(X), rel=1e-10, abs=1e-10)


def _reference_single_component(X, weight, covariance_type, reg_covar):
    """Closed form of a one-component fit: weighted mean and covariance plus reg_covar.

    ``reg_covar="auto"`` adds 1e-6 times each feature's weighted variance; a feature
    constant over the rows with positive weight has variance 0 and gets the mean of
    the other features' variances instead (or max(mean^2, 1) when all are constant).
    """
    w = np.ones(len(X)) if weight is None else weight
    mean = w @ X / w.sum()
    d = X - mean
    cov = (w[:, None] * d).T @ d / w.sum()
    used = X[w > 0]
    constant = np.ptp(used, axis=0) == 0
    cov[constant, :] = 0.0
    cov[:, constant] = 0.0
    variance = np.diag(cov).copy()
    if isinstance(reg_covar, str):
        if np.all(constant):
            fallback = max(float(np.mean(mean**2)), 1.0)
        else:
            fallback = variance[~constant].mean()
        reg = 1e-6 * np.where(constant, fallback, variance)
    else:
        reg = np.full(X.shape[1], float(reg_covar))
    cov += np.diag(reg)
    if covariance_type in ("full", "tied"):
        return mean, cov if covariance_type == "tied" else cov[None], reg
    if covariance_type == "diag":
        return mean, np.diag(cov)[None], reg
    return mean, np.array([np.mean(np.diag(cov))]), reg


@settings(max_examples=100, deadline=None, derandomize=True, phases=PHASES)
@given(
    data=datasets(min_rows=2),
    covariance_type=st.sampled_from(COV_TYPES),
    weighted=st.booleans(),
    reg_kind=st.sampled_from(("auto", "relative")),
    seed=st.integers(0, 2**32 - 1),
)
def test_single_component_is_closed_form(data, covariance_type, weighted, reg_kind, seed):
    X, scale = data
    rng = np.random.RandomState(seed)
    weight = None
    if weighted:
        weight = rng.uniform(0.1, 3, size=len(X)) * (rng.uniform(size=len(X)) > 0.2)
        weight[0] = 1.0
    reg_covar = "auto" if reg_kind == "auto" else 1e-6 * scale**2
    # One component: each constrained model is the unconstrained one of its shape.
    family = SINGLE_COMPONENT_FAMILY[covariance_type]
    mean, cov, reg = _reference_single_component(X, weight, family, reg_covar)
    gm = GaussianMixture(
        1, covariance_type=covariance_type, reg_covar=reg_covar, random_state=0
    ).fit(X, sample_weight=weight)
    assert_allclose(gm.weights_, [1.0])
    assert_allclose(gm.means_[0], mean, rtol=1e-10, atol=1e-10 * np.abs(X).max())
    tol = 1e-9 * (np.abs(cov).max() + reg.max())
    assert_allclose(gm.covariances_, cov, rtol=1e-7, atol=tol)


def _with_constant_feature(constant: float) -> tuple[np.ndarray, np.ndarray]:
    z = np.random.RandomState(0).randn(100)
    return z, np.column_stack([z, np.full(100, constant)])


# 0.5 is the control: its mean over the rows is exact, so the feature's variance comes
# out as exactly 0. The mean of 100 copies of 0.1 is not exact, and the variance then
# comes out as ~1e-33 (rounding) instead of 0.
@pytest.mark.parametrize("constant", [0.5, 0.1])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_auto_reg_covar_of_a_constant_feature_does_not_depend_on_its_value(
    constant, covariance_type
):
    # reg_covar="auto" gives a constant feature 1e-6 times the mean variance of the
    # other features (here var(z)), whatever the constant is: moving a constant feature
    # changes neither the covariances nor the likelihood.
    _, X = _with_constant_feature(constant)
    gm = GaussianMixture(1, covariance_type=covariance_type, reg_covar="auto").fit(X)
    family = SINGLE_COMPONENT_FAMILY[covariance_type]
    mean, cov, _ = _reference_single_component(X, None, family, "auto")
    assert_allclose(gm.means_[0], mean, rtol=1e-12)
    assert_allclose(gm.covariances_, cov, rtol=1e-7, atol=1e-12 * np.abs(cov).max())
    _, X_half = _with_constant_feature(0.5)
    reference = GaussianMixture(1, covariance_type=covariance_type, reg_covar="auto").fit(X_half)
    assert gm.score(X) == pytest.approx(reference.score(X_half), rel=1e-9)
    # A relative change of 1e-12 in the constant cannot move the density noticeably.
    X_moved = X.copy()
    X_moved[:, 1] *= 1 + 1e-12
    assert gm.score(X_moved) == pytest.approx(gm.score(X), abs=1e-3)


@pytest.mark.parametrize("constant", [0.5, 0.1])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_constant_feature_without_reg_covar_is_repaired_whatever_its_value(
    constant, covariance_type
):
    # With reg_covar=0 a constant feature leaves a singular covariance, which the fit
    # regularises (1e-6 times the data's variance scale, here var(z)) and reports.
    z, X = _with_constant_feature(constant)
    gm = GaussianMixture(1, covariance_type=covariance_type, reg_covar=0.0)
    with pytest.warns(DegenerateComponentWarning, match="singular"):
        gm.fit(X)
    variances = (
        np.diagonal(gm.covariances_, axis1=1, axis2=2)
        if (covariance_type == "full")
        else gm.covariances_
    )
    assert variances[0, 1] == pytest.approx(1e-6 * np.var(z), rel=1e-6)
    assert variances[0, 0] == pytest.approx(np.var(z), rel=1e-5)


EXTREME_KINDS = ("scales", "constant", "outlier", "duplicated", "collinear", "mixed")


@st.composite
def extreme_datasets(draw, kind):
    """Degenerate and extreme data of one ``kind`` (see EXTREME_KINDS).

    Features of wildly different scales (1e-20 to 1e20), a constant feature, a single
    huge outlier among ones or a grid, duplicated rows, near-collinear columns, and
    a mixture of these; few rows (down to n = d + 1) and up to as many components
    as rows.
    """
    n_features = draw(st.integers(1, 5))
    n_rows = draw(st.integers(n_features + 1, 40))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    X = rng.randn(n_rows, n_features)
    if kind in ("scales", "mixed"):
        X *= 10.0 ** rng.uniform(-20, 20, size=n_features)
    if kind in ("constant", "mixed"):
        X[:, rng.randint(n_features)] = rng.randn() * 10.0 ** rng.uniform(-10, 10)
    if kind in ("duplicated", "mixed"):
        X = X[rng.randint(max(1, n_rows // 5), size=n_rows)]
    if kind == "outlier":
        X = np.round(X) if rng.rand() < 0.5 else np.ones_like(X)
        X[rng.randint(n_rows), rng.randint(n_features)] = rng.choice([-1, 1]) * 10.0 ** (
            rng.uniform(5, 100)
        )
        X[0, rng.randint(n_features)] = 0.0
    if kind == "collinear" and n_features > 1:
        X[:, 1] = X[:, 0] * rng.randn() + 10.0 ** rng.uniform(-15, -6) * rng.randn(n_rows)
    return X


def _finite_model_or_clear_error(fit, X) -> None:
    """The rule for every model and input: a usable finite model, or a ValueError.

    Never NaN parameters, never ``converged_=True`` on a broken model, never a raw
    LinAlgError (a ValueError too, so named here) or FloatingPointError.
    """
    try:
        gm = fit()
    except ValueError as exc:
        assert not isinstance(exc, np.linalg.LinAlgError), exc
        event(f"error: {type(exc).__name__}: {str(exc)[:25]}")
        return
    event("finite model")
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.isfinite(gm.lower_bound_)
    _check_positive_definite(gm)
    log_density = gm.score_samples(X)
    assert np.all(np.isfinite(log_density))
    proba = gm.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    labels = gm.predict(X)
    assert np.all((labels >= 0) & (labels < gm.n_components))


def _check_positive_definite(gm: GaussianMixture) -> None:
    # Cholesky of each covariance, as the model's precisions were computed: the
    # eigenvalues of covariances spanning 1e40 are not resolved by eigvalsh.
    for c in _component_covariances(gm):
        assert_allclose(c, c.T, rtol=0, atol=1e-12 * np.abs(c).max())
        np.linalg.cholesky(c)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::gaussmix.DegenerateComponentWarning")
@settings(max_examples=15, deadline=None, derandomize=True, phases=PHASES)
@given(
    covariance_type=st.sampled_from(COV_TYPES),
    reg_covar=st.sampled_from(("auto", 0.0, 1e-6)),
    init_params=st.sampled_from(("kmeans", "random", "hc")),
    float32=st.booleans(),
    data=st.data(),
)
@pytest.mark.parametrize("kind", EXTREME_KINDS)
def test_degenerate_and_extreme_data_give_a_finite_model_or_a_clear_error(
    kind, covariance_type, reg_covar, init_params, float32, data
):
    X = data.draw(extreme_datasets(kind), label="X")
    n_components = data.draw(st.integers(1, min(len(X), 6)), label="n_components")
    if float32:
        with np.errstate(over="ignore"):
            X = X.astype(np.float32)
        if not np.all(np.isfinite(X)):
            return  # beyond float32 altogether: scikit-learn's check refuses it
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        init_params=init_params,
        random_state=0,
        max_iter=30,
    )
    _finite_model_or_clear_error(lambda: GaussianMixture(**params).fit(X), X)

    def stream():
        gm = GaussianMixture(**params)
        for _ in range(2):
            gm.partial_fit(X)
        return gm

    _finite_model_or_clear_error(stream, X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@settings(max_examples=60, deadline=None, derandomize=True, phases=PHASES)
@given(
    data=datasets(),
    covariance_type=st.sampled_from(COV_TYPES),
    n_components=st.integers(1, 3),
    random_state=st.integers(0, 1000),
)
def test_score_samples_matches_scipy(data, covariance_type, n_components, random_state):
    X, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        try:
            gm = GaussianMixture(
                n_components,
                covariance_type=covariance_type,
                reg_covar="auto",
                random_state=random_state,
                kernel="numpy",
            ).fit(X)
        except DegenerateComponentWarning:
            event("skipped: repaired model")
            return  # a repaired (near-singular) model: scipy's logpdf is not a fair judge
    covs = _component_covariances(gm)
    if max(np.linalg.cond(c) for c in covs) > 1e8:
        event("skipped: ill-conditioned")
        return
    reference = _reference_log_density(gm, X)
    assert_allclose(gm.score_samples(X), reference, rtol=1e-8, atol=1e-8)
    # predict_proba from the same densities.
    log_joint = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(X).reshape(len(X))
            for w, m, c in zip(gm.weights_, gm.means_, covs, strict=True)
        ]
    )
    assert_allclose(
        gm.predict_proba(X), np.exp(log_joint - reference[:, None]), rtol=1e-7, atol=1e-10
    )


# ============================================================ sufficient statistics merge


def _whole_stats(X, weight, means, chol, log_norm, form, scatter) -> SuffStats:
    n_k, mean_k, scatter_k, log_likelihood = estep_stats(
        X, weight, means, chol, log_norm, form, scatter
    )
    weight_sum = float(len(X) if weight is None else weight.sum())
    return SuffStats(n_k, mean_k, scatter_k, log_likelihood, weight_sum, len(X))


@st.composite
def estep_problems(draw):
    X, scale = draw(datasets(min_rows=2, max_rows=120))
    n_rows, n_features = X.shape
    n_components = draw(st.integers(1, 4))
    form = draw(st.sampled_from(("full", "diag")))
    scatter = draw(st.sampled_from(("full", "diag")))
    weighted = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.RandomState(seed)
    weight = None
    if weighted:
        weight = rng.uniform(0, 3, size=n_rows) * (rng.uniform(size=n_rows) > 0.2)
        weight[rng.randint(n_rows)] = 1.0  # at least one positive weight
    means = X[rng.randint(n_rows, size=n_components)] + rng.randn(n_components, n_features) * scale
    if form == "full":
        chol = np.triu(rng.randn(n_components, n_features, n_features) * 0.3)
        idx = np.arange(n_features)
        chol[:, idx, idx] = rng.uniform(0.3, 2.0, size=(n_components, n_features))
    else:
        chol = rng.uniform(0.3, 2.0, size=(n_components, n_features))
    chol = chol / scale
    log_norm = rng.uniform(-5, 5, size=n_components)
    return X, weight, means, chol, log_norm, form, scatter


def _brute_force_stats(X, weight, means, chol, log_norm, form, scatter):
    """Responsibilities and statistics written out directly, one row at a time."""
    n_rows = len(X)
    n_components, n_features = means.shape
    w = np.ones(n_rows) if weight is None else weight
    log_joint = np.empty((n_rows, n_components))
    for k in range(n_components):
        precision = chol[k] @ chol[k].T if form == "full" else np.diag(chol[k] ** 2)
        for i in range(n_rows):
            d = X[i] - means[k]
            log_joint[i, k] = log_norm[k] - 0.5 * d @ precision @ d
    log_p = logsumexp(log_joint, axis=1)
    resp = np.exp(log_joint - log_p[:, None])
    n_k = (w[:, None] * resp).sum(axis=0)
    mean_k = np.zeros((n_components, n_features))
    scat = np.zeros((n_components, n_features, n_features))
    for k in range(n_components):
        if n_k[k] > 0:
            mean_k[k] = (w * resp[:, k]) @ X / n_k[k]
            for i in range(n_rows):
                d = X[i] - mean_k[k]
                scat[k] += w[i] * resp[i, k] * np.outer(d, d)
    if scatter == "diag":
        scat = np.diagonal(scat, axis1=1, axis2=2)
    return n_k, mean_k, scat, float(w @ log_p), np.abs(w @ np.abs(log_p))


def _assert_stats_close(got: SuffStats, want: SuffStats, X: np.ndarray, rtol: float) -> None:
    spread = np.abs(X - X.mean(axis=0)).max()
    rounding = 100 * EPS * np.abs(X).max()  # error of a mean of rows of X
    assert got.n_rows == want.n_rows
    assert got.weight_sum == pytest.approx(want.weight_sum, rel=rtol)
    assert_allclose(got.n_k, want.n_k, rtol=rtol, atol=1e-300)
    assert_allclose(got.mean_k, want.mean_k, rtol=rtol, atol=rtol * np.abs(X).max())
    # Scatter of component k is of order n_k * spread^2; a mean off by ``rounding``
    # adds n_k * rounding^2 (all there is when the rows coincide).
    shape = (-1,) + (1,) * (want.scatter_k.ndim - 1)
    atol = (want.n_k * (rtol * spread**2 + rounding**2)).reshape(shape) + 1e-300
    assert np.all(np.abs(got.scatter_k - want.scatter_k) <= atol + rtol * np.abs(want.scatter_k))


@settings(max_examples=250, deadline=None, derandomize=True, phases=PHASES)
@given(problem=estep_problems(), data=st.data())
def test_merging_any_split_equals_the_whole(problem, data):
    X, weight, means, chol, log_norm, form, scatter = problem
    n_rows = len(X)
    whole = _whole_stats(X, weight, means, chol, log_norm, form, scatter)

    cuts = data.draw(
        st.lists(st.integers(1, n_rows - 1), max_size=min(8, n_rows - 1), unique=True)
        if n_rows > 1
        else st.just([]),
        label="cuts",
    )
    bounds = [0, *sorted(cuts), n_rows]
    parts = [
        _whole_stats(
            X[a:b], None if weight is None else weight[a:b], means, chol, log_norm, form, scatter
        )
        for a, b in itertools.pairwise(bounds)
    ]
    # Merge any two parts, in either order, until one is left.
    while len(parts) > 1:
        i = data.draw(st.integers(0, len(parts) - 1), label="i")
        j = data.draw(st.integers(0, len(parts) - 2), label="j")
        j = j + 1 if j >= i else j
        merged = parts[i].merge(parts[j])
        parts = [p for m, p in enumerate(parts) if m not in (i, j)] + [merged]
    total = parts[0]

    _assert_stats_close(total, whole, X, rtol=1e-10)
    log_abs = np.abs(whole.log_likelihood) + 1e-300
    assert abs(total.log_likelihood - whole.log_likelihood) <= 1e-10 * max(log_abs, n_rows)


@settings(max_examples=80, deadline=None, derandomize=True, phases=PHASES)
@given(problem=estep_problems())
def test_estep_stats_match_brute_force(problem):
    X, weight, means, chol, log_norm, form, scatter = problem
    whole = _whole_stats(X, weight, means, chol, log_norm, form, scatter)
    n_k, mean_k, scat, log_likelihood, log_abs = _brute_force_stats(
        X, weight, means, chol, log_norm, form, scatter
    )
    weight_sum = float(len(X) if weight is None else weight.sum())
    reference = SuffStats(n_k, mean_k, scat, log_likelihood, weight_sum, len(X))
    _assert_stats_close(whole, reference, X, rtol=1e-8)
    assert abs(whole.log_likelihood - log_likelihood) <= 1e-9 * (log_abs + len(X))


@settings(max_examples=100, deadline=None, derandomize=True, phases=PHASES)
@given(problem=estep_problems(), data=st.data())
def test_merge_is_symmetric_and_total_pools_components(problem, data):
    X, weight, means, chol, log_norm, form, scatter = problem
    n_rows = len(X)
    cut = data.draw(st.integers(1, max(n_rows - 1, 1)), label="cut")
    w_a = None if weight is None else weight[:cut]
    w_b = None if weight is None else weight[cut:]
    a = _whole_stats(X[:cut], w_a, means, chol, log_norm, form, scatter)
    b = _whole_stats(X[cut:], w_b, means, chol, log_norm, form, scatter)
    _assert_stats_close(a.merge(b), b.merge(a), X, rtol=1e-12)

    # Pooled over components, the statistics are the data's own weighted mean and scatter.
    n, mean, pooled = a.merge(b).total()
    w = np.ones(n_rows) if weight is None else weight
    ref_mean = w @ X / w.sum()
    d = X - ref_mean
    ref_scatter = (w[:, None] * d).T @ d
    if scatter == "diag":
        ref_scatter = np.diag(ref_scatter)
    spread = np.abs(d).max()
    rounding = 100 * EPS * np.abs(X).max()
    assert n == pytest.approx(w.sum(), rel=1e-12)
    assert_allclose(mean, ref_mean, rtol=1e-10, atol=1e-10 * np.abs(X).max())
    atol = w.sum() * (1e-9 * spread**2 + rounding**2)
    assert_allclose(pooled, ref_scatter, rtol=1e-9, atol=atol)


def test_merge_all_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        SuffStats.merge_all([])


def test_convergence_warning_class_is_sklearns():
    # The filters above name sklearn's ConvergenceWarning: it must be what fit raises.
    X = np.random.RandomState(0).randn(60, 2)
    with pytest.warns(ConvergenceWarning):
        GaussianMixture(3, max_iter=1, tol=0, random_state=0).fit(X)
