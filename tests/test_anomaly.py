"""OutlierDetector: scikit-learn's conventions, planted outliers, mclust's noise component."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import gaussmix
from gaussmix import GaussianMixture, InvalidParameterError, OutlierDetector
from gaussmix._em import fit_em
from gaussmix._grid import model_names
from gaussmix._mstep import DataScale
from gaussmix._params import MixtureParams
from gaussmix._setup import FitSetup
from gaussmix.anomaly import log_hypervolume, nn_clean, weighted_threshold
from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import get_covariance_model
from gaussmix.kernels import get_kernel

# --------------------------------------------------------------------- data


@dataclass
class Planted:
    """Three elongated Gaussian clusters plus uniform outliers over a box."""

    X: np.ndarray
    is_outlier: np.ndarray
    labels: np.ndarray  # cluster of each row, -1 for the outliers
    means: np.ndarray
    covariances: np.ndarray
    proportions: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def inlier_density(self, X):
        return sum(
            p * multivariate_normal(m, c).pdf(X)
            for p, m, c in zip(self.proportions, self.means, self.covariances, strict=True)
        )


_PLANTED: dict = {}


def planted(seed, n_features, n_inliers=1000, fraction=0.03, margin=3.0) -> Planted:
    """Clusters with one long axis (sd 4) and short ones (sd 0.5), randomly rotated.

    Outliers are uniform over the inliers' bounding box widened by ``margin``,
    so some fall inside clusters (no method can find those): the true density
    gives the best ranking achievable, the reference for the detector's.
    """
    key = (seed, n_features, n_inliers, fraction, margin)
    if key not in _PLANTED:
        rng = np.random.default_rng(seed)
        means = rng.uniform(-8, 8, size=(3, n_features))
        covariances = []
        for _ in range(3):
            rotation, _ = np.linalg.qr(rng.normal(size=(n_features, n_features)))
            scales = np.full(n_features, 0.5)
            scales[0] = 4.0
            covariances.append((rotation * scales**2) @ rotation.T)
        counts = np.bincount(rng.integers(3, size=n_inliers), minlength=3)
        inliers = np.vstack(
            [rng.multivariate_normal(means[k], covariances[k], size=counts[k]) for k in range(3)]
        )
        low, high = inliers.min(axis=0) - margin, inliers.max(axis=0) + margin
        outliers = rng.uniform(low, high, size=(round(fraction * n_inliers), n_features))
        X = np.vstack([inliers, outliers])
        labels = np.r_[np.repeat(np.arange(3), counts), np.full(len(outliers), -1)]
        order = rng.permutation(len(X))
        _PLANTED[key] = Planted(
            X[order],
            labels[order] < 0,
            labels[order],
            means,
            np.array(covariances),
            counts / n_inliers,
            low,
            high,
        )
    return _PLANTED[key]


def quietly(fn, *args, **kwargs):
    """Run a scikit-learn reference that warns about things beside the point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ------------------------------------------------- scikit-learn's conventions


@parametrize_with_checks(
    [
        OutlierDetector(n_components=1),
        OutlierDetector(n_components=[1, 2], covariance_type=["full", "diag"]),
        OutlierDetector(n_components=1, noise=True),
        OutlierDetector(n_components=2, noise=True, contamination="auto"),
    ],
    expected_failed_checks=lambda est: (
        {
            # The check shuffles the weighted rows. With two components or more the start
            # is k-means, whose seeding walks the rows in order: a shuffled start
            # is equivalent in law, not identical, so the fits differ. In row
            # order, weights equal repetitions (test_weights_equal_repeated_rows).
            "check_sample_weight_equivalence_on_dense_data": "k-means start depends on "
            "row order, which the check shuffles"
        }
        if max(np.atleast_1d(est.n_components)) >= 2
        else {}
    ),
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_predict_decision_and_scores_agree():
    data = planted(0, 2)
    detector = OutlierDetector(random_state=0).fit(data.X)
    scores = detector.score_samples(data.X)
    np.testing.assert_array_equal(scores, detector.mixture_.score_samples(data.X))
    np.testing.assert_array_equal(detector.decision_function(data.X), scores - detector.offset_)
    labels = detector.predict(data.X)
    assert labels.dtype.kind == "i"
    assert set(np.unique(labels)) == {-1, 1}
    np.testing.assert_array_equal(labels, np.where(scores < detector.offset_, -1, 1))
    np.testing.assert_array_equal(detector.fit_predict(data.X), labels)


@pytest.mark.parametrize("contamination", [0.01, 0.03, 0.1, 0.29, 0.5])
@pytest.mark.parametrize("noise", [False, True])
def test_flags_the_requested_fraction_of_training_rows(contamination, noise):
    data = planted(1, 2, n_inliers=700)
    detector = OutlierDetector(3, contamination=contamination, noise=noise, random_state=0)
    labels = detector.fit_predict(data.X)
    n = len(data.X)
    # As many as fit in the fraction: floor(c n), to rounding of c n.
    assert np.sum(labels == -1) == math.floor(contamination * n + 1e-9)
    # offset_ lies midway between the highest flagged score and the lowest kept one.
    scores = detector.score_samples(data.X)
    kept, flagged = scores[labels == 1].min(), scores[labels == -1].max()
    assert detector.offset_ == pytest.approx((kept + flagged) / 2, rel=1e-15)
    assert flagged < detector.offset_ < kept


def test_threshold_against_brute_force_with_weights_and_ties():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=400), 1)  # many ties
    weight = rng.integers(0, 4, size=400).astype(float)
    for fraction in (0.01, 0.05, 0.2, 0.5):
        threshold = weighted_threshold(scores, weight, fraction)
        # Brute force: the smallest score s whose rows at or below it weigh more than
        # f W, and the midpoint between it and the largest score below it.
        total = weight.sum()
        distinct = np.unique(scores)
        kept = min(s for s in distinct if weight[scores <= s].sum() > fraction * total)
        flagged = max(s for s in distinct if s < kept)
        assert threshold == pytest.approx((kept + flagged) / 2, rel=1e-15)
        assert weight[scores < threshold].sum() <= fraction * total
        assert weight[scores <= threshold].sum() == weight[scores < kept].sum()
        # Weights are repetitions.
        repeated = np.repeat(scores, weight.astype(int))
        assert weighted_threshold(repeated, None, fraction) == threshold


def test_threshold_flags_nothing_below_the_lowest_score_and_survives_rescoring():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=200)
    ranked = np.sort(scores)
    # A fraction too small for one row: nothing flagged, the threshold below every row.
    threshold = weighted_threshold(scores, None, 0.001)
    assert threshold == pytest.approx(ranked[0] - (ranked[1] - ranked[0]) / 2, rel=1e-15)
    assert weighted_threshold(np.full(5, -3.0), None, 0.1) == -3.5
    # Scores of the same rows computed again (another batch of rows, other BLAS
    # kernels) differ by rounding; the rows flagged do not.
    for fraction in (0.01, 0.1, 0.3):
        threshold = weighted_threshold(scores, None, fraction)
        for ulps in (-8, 8):
            rescored = scores + ulps * np.spacing(scores)
            np.testing.assert_array_equal(rescored < threshold, scores < threshold)


# ------------------------------------------------------------ planted outliers


@pytest.mark.parametrize("n_features", [2, 5])
def test_roc_auc_against_isolation_forest_and_elliptic_envelope(n_features):
    """Near the best achievable AUC, above IsolationForest, far above EllipticEnvelope.

    The best achievable ranking is by the true inlier density (outliers are
    uniform). Measured (seeds 0-2): gaussmix 0.92-1.00, within 0.002 of the true
    density's AUC, with or without noise; IsolationForest 0.90-0.99;
    EllipticEnvelope 0.73-0.96.
    """
    ours, isolation, envelope = [], [], []
    for seed in range(3):
        data = planted(seed, n_features)
        y, X = data.is_outlier, data.X
        detector = OutlierDetector(random_state=0).fit(X)
        auc = roc_auc_score(y, -detector.score_samples(X))
        best = roc_auc_score(y, -data.inlier_density(X))
        assert auc >= best - 0.005, (seed, auc, best)
        ours.append(auc)
        robust = OutlierDetector(noise=True, random_state=0).fit(X)
        assert roc_auc_score(y, -robust.score_samples(X)) >= best - 0.005
        forest = IsolationForest(random_state=0).fit(X)
        isolation.append(roc_auc_score(y, -forest.score_samples(X)))
        ellipse = quietly(EllipticEnvelope(random_state=0).fit, X)
        envelope.append(roc_auc_score(y, -ellipse.score_samples(X)))
    ours, isolation, envelope = map(np.array, (ours, isolation, envelope))
    assert np.all(ours > isolation), (ours, isolation)
    assert ours.mean() >= isolation.mean() + (0.02 if n_features == 2 else 0.004)
    assert np.all(ours >= envelope + 0.03), (ours, envelope)
    assert ours.mean() >= envelope.mean() + 0.1


def test_noise_keeps_scattered_points_from_claiming_components():
    """BIC counts three clusters with the noise component, more without it."""
    # Three starts per model: elongated clusters mislead a single k-means start.
    template = GaussianMixture(n_init=3, tol=1e-5, max_iter=1000)
    for seed in range(3):
        X = planted(seed, 5).X
        params = {"n_components": range(1, 7), "mixture": template, "random_state": 0}
        with_noise = OutlierDetector(noise=True, **params).fit(X)
        without = OutlierDetector(**params).fit(X)
        assert with_noise.mixture_.n_components == 3
        assert without.mixture_.n_components > 3
        table = with_noise.selection_.table
        assert list(table["n_components"]) == list(range(1, 7))
        assert (table["error"] == "").all()


# ----------------------------------------------------------- the noise component


def reference_noise_em(X, weights, noise_weight, means, covariances, volume, n_iter, reg):
    """Textbook EM for Gaussians plus a uniform component, on dense arrays."""
    for _ in range(n_iter):
        dens = np.column_stack(
            [
                w * multivariate_normal(m, c).pdf(X)
                for w, m, c in zip(weights, means, covariances, strict=True)
            ]
        )
        total = dens.sum(axis=1) + noise_weight / volume
        resp = dens / total[:, None]
        noise_weight = np.mean(noise_weight / volume / total)
        weights = resp.mean(axis=0)
        counts = resp.sum(axis=0)
        means = resp.T @ X / counts[:, None]
        covariances = np.array(
            [
                (resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / counts[k]
                + reg * np.eye(X.shape[1])
                for k in range(len(weights))
            ]
        )
    return weights, noise_weight, means, covariances


@pytest.mark.parametrize(("kernel", "block_size"), [("numpy", 10_000), ("compiled", 97)])
def test_noise_em_matches_a_textbook_implementation(kernel, block_size):
    data = planted(2, 2, n_inliers=300, fraction=0.1)
    X = data.X
    model = get_covariance_model("full")
    volume = float(np.prod(data.high - data.low))
    start_cov = np.array([np.eye(2) * 4.0] * 3)
    start = MixtureParams(
        np.array([0.3, 0.3, 0.3]),
        data.means + 0.5,
        start_cov,
        model.precisions_cholesky(start_cov),
        noise_weight=0.1,
    )
    backend = InMemoryBackend(X, None, block_size)
    gm_kernel = get_kernel(kernel)
    setup = FitSetup(
        backend=backend,
        kernel=gm_kernel,
        model=model,
        n_components=3,
        reg=np.full(2, 1e-6),
        eps10=10 * np.finfo(np.float64).eps,
        scale=DataScale(backend, gm_kernel),
        random_state=np.random.RandomState(0),
        log_volume=math.log(volume),
    )
    result = fit_em(setup, lambda: (start, []), n_init=1, tol=0.0, max_iter=12)
    weights, noise_weight, means, covariances = reference_noise_em(
        X, start.weights, 0.1, start.means, start_cov, volume, 12, 1e-6
    )
    np.testing.assert_allclose(result.params.weights, weights, rtol=1e-9)
    assert result.params.noise_weight == pytest.approx(noise_weight, rel=1e-9)
    assert result.params.weights.sum() + result.params.noise_weight == pytest.approx(1, abs=1e-12)
    np.testing.assert_allclose(result.params.means, means, rtol=1e-9)
    np.testing.assert_allclose(result.params.covariances, covariances, rtol=1e-8)
    assert np.all(np.diff(result.lower_bounds) >= -1e-12)  # EM never loses likelihood


def matched_errors(mixture, data):
    """Worst errors of the fitted means and covariances against each cluster's own.

    The targets are the sample moments of each cluster's actual members: the
    most any estimate from these data can get right.
    """
    members = [data.X[data.labels == k] for k in range(3)]
    means = np.array([rows.mean(axis=0) for rows in members])
    covariances = np.array([np.cov(rows.T, bias=True) for rows in members])
    cost = ((mixture.means_[:, None] - means[None]) ** 2).sum(axis=2)
    fitted, true = linear_sum_assignment(cost)
    mean_error = np.sqrt(cost[fitted, true]).max()
    cov_error = max(
        np.linalg.norm(mixture.covariances_[i] - covariances[j]) / np.linalg.norm(covariances[j])
        for i, j in zip(fitted, true, strict=True)
    )
    return mean_error, cov_error


@pytest.mark.parametrize("n_features", [2, 5])
def test_noise_gives_better_cluster_estimates(n_features):
    """Measured (5% outliers, seeds 0-2), against each cluster's own sample moments:
    means off by 0.16-1.06 and covariances by 32-112% without noise; with noise
    0.00-0.17 and 0-4%."""
    for seed in range(3):
        data = planted(seed, n_features, fraction=0.05)
        plain = OutlierDetector(3, random_state=0).fit(data.X).mixture_
        robust = OutlierDetector(3, noise=True, random_state=0).fit(data.X).mixture_
        plain_mean, plain_cov = matched_errors(plain, data)
        noise_mean, noise_cov = matched_errors(robust, data)
        assert noise_mean <= min(0.2, 0.5 * plain_mean), (seed, noise_mean, plain_mean)
        assert noise_cov <= min(0.05, 0.2 * plain_cov), (seed, noise_cov, plain_cov)


@pytest.mark.parametrize("n_features", [2, 5])
def test_noise_posterior_flags_planted_outliers(n_features):
    """Recall as good as the true model's own posterior, almost no false alarms."""
    for seed in range(3):
        data = planted(seed, n_features, fraction=0.05)
        detector = OutlierDetector(3, noise=True, contamination="auto", random_state=0)
        labels = detector.fit_predict(data.X)
        flagged = detector.noise_proba(data.X) > 0.5
        np.testing.assert_array_equal(labels == -1, flagged)
        # The true model's posterior: uniform density over the box outliers came from.
        true_noise = np.mean(data.is_outlier)
        uniform = true_noise / np.prod(data.high - data.low)
        truth = uniform > (1 - true_noise) * data.inlier_density(data.X)
        recall = flagged[data.is_outlier].mean()
        assert recall >= truth[data.is_outlier].mean() - 0.05, (seed, recall)
        assert recall >= (0.95 if n_features == 5 else 0.75)
        assert flagged[~data.is_outlier].mean() <= 0.005
        assert detector.noise_weight_ == pytest.approx(true_noise, abs=0.015)


def test_contamination_auto_is_the_noise_boundary():
    data = planted(0, 2, fraction=0.05)
    detector = OutlierDetector(3, noise=True, contamination="auto", random_state=0).fit(data.X)
    p0, log_volume = detector.noise_weight_, detector.noise_log_volume_
    assert detector.offset_ == pytest.approx(math.log(p0 / (1 - p0)) - log_volume, rel=1e-12)
    # decision_function is the log-odds of cluster against noise.
    proba = detector.noise_proba(data.X)
    decision = detector.decision_function(data.X)
    kept = (proba > 1e-6) & (proba < 1 - 1e-6)  # where the logit keeps its digits
    assert kept.sum() > 100
    logit = np.log1p(-proba[kept]) - np.log(proba[kept])
    np.testing.assert_allclose(decision[kept], logit, rtol=1e-8, atol=1e-8)
    # By hand: the posterior of noise from the whole model's densities.
    gaussian = (1 - p0) * np.exp(detector.mixture_.score_samples(data.X))
    uniform = p0 * math.exp(-log_volume)
    np.testing.assert_allclose(proba, uniform / (uniform + gaussian), rtol=1e-9)


def test_hypervolume_is_the_smaller_box():
    rng = np.random.default_rng(4)
    # A grid on a 10 x 1 rectangle turned by 30 degrees: its principal axes are the
    # rectangle's sides (the grid is symmetric about both), its principal box the
    # rectangle itself.
    grid = np.stack(np.meshgrid(np.linspace(0, 10, 21), np.linspace(0, 1, 5)), -1).reshape(-1, 2)
    angle = math.pi / 6
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    X = grid @ rotation.T + 3
    assert log_hypervolume(X) == pytest.approx(math.log(10.0), rel=1e-12)
    bounding = np.prod(np.ptp(X, axis=0))
    assert bounding > 10 * 3  # the bounding box is much larger
    # Axis-aligned data: the bounding box is the smaller one.
    Y = rng.uniform(0, [2, 3, 5], size=(2000, 3))
    assert log_hypervolume(Y) == pytest.approx(np.log(np.ptp(Y, axis=0)).sum(), rel=1e-12)
    # Weights: zero drops the row, integers repeat it.
    w = rng.integers(0, 3, size=len(Y)).astype(float)
    expected = log_hypervolume(np.repeat(Y, w.astype(int), axis=0))
    assert log_hypervolume(Y, w) == pytest.approx(expected, rel=1e-12)
    # Fewer rows than features: no principal-axes volume, the bounding box alone.
    Z = rng.normal(size=(4, 6))
    assert log_hypervolume(Z) == pytest.approx(np.log(np.ptp(Z, axis=0)).sum(), rel=1e-12)
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\] are constant"):
        log_hypervolume(np.column_stack([Y[:, 0], np.ones(len(Y))]))


def test_nn_clean_finds_clutter():
    """A starting guess: most scattered points, and a few points of cluster tails.

    Measured (seeds 0-2): recall 0.86-0.92, 3.7-4.7% of inliers flagged (the
    noise EM then gives them back: test_noise_posterior_flags_planted_outliers).
    """
    for seed in range(3):
        data = planted(seed, 2, fraction=0.05)
        noise = nn_clean(data.X)
        assert noise[data.is_outlier].mean() >= 0.8
        assert noise[~data.is_outlier].mean() <= 0.07
    data = planted(0, 5, fraction=0.05)
    # Integer weights are repetitions; zero weights are never flagged.
    w = np.random.default_rng(0).integers(0, 3, size=len(data.X)).astype(float)
    repeated = nn_clean(np.repeat(data.X, w.astype(int), axis=0))
    weighted = nn_clean(data.X, w)
    np.testing.assert_array_equal(np.repeat(weighted, w.astype(int)), repeated)
    assert not weighted[w == 0].any()


# ------------------------------------------------------------------ weights


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 3},
        {"n_components": [2, 3], "covariance_type": ["full", "diag"]},
        {"n_components": 3, "noise": True},
        {"n_components": [2, 3], "noise": True, "contamination": "auto"},
    ],
)
def test_weights_equal_repeated_rows(params):
    data = planted(2, 3, n_inliers=400, fraction=0.05)
    w = np.random.default_rng(5).integers(0, 4, size=len(data.X)).astype(float)
    repeated = np.repeat(data.X, w.astype(int), axis=0)
    detector = OutlierDetector(contamination=0.05, random_state=0).set_params(**params)
    a = clone(detector).fit(data.X, sample_weight=w)
    b = clone(detector).fit(repeated)
    np.testing.assert_allclose(a.decision_function(data.X), b.decision_function(data.X), rtol=1e-7)
    np.testing.assert_array_equal(a.predict(data.X), b.predict(data.X))
    assert a.offset_ == pytest.approx(b.offset_, rel=1e-9)
    if params.get("noise"):
        assert a.noise_weight_ == pytest.approx(b.noise_weight_, rel=1e-9)
        assert a.noise_log_volume_ == pytest.approx(b.noise_log_volume_, rel=1e-12)


# ------------------------------------------------------------ choices, errors


def test_fixed_model_and_searches():
    X = planted(0, 2).X
    fixed = OutlierDetector(4, covariance_type="diag", random_state=0).fit(X)
    assert fixed.mixture_.n_components == 4 and fixed.mixture_.covariance_type == "diag"
    assert not hasattr(fixed, "selection_")
    searched = OutlierDetector(range(2, 5), covariance_type="auto", random_state=0).fit(X)
    table = searched.selection_.table
    assert set(table["n_components"]) == {2, 3, 4}
    assert len(table) == 3 * len(model_names("all"))
    best = table.loc[table["bic"].idxmin()]
    assert searched.mixture_.n_components == best["n_components"]
    # A template sets the other parameters of every fit.
    template = GaussianMixture(reg_covar=1e-3, tol=1e-4, kernel="numpy")
    tuned = OutlierDetector(3, mixture=template, random_state=0).fit(X)
    assert tuned.mixture_.reg_covar == 1e-3 and tuned.mixture_.kernel == "numpy"
    assert tuned.mixture_.n_components == 3
    assert template.n_components == 1  # the template itself is left alone


def test_dataframe_feature_names_and_float32():
    X = planted(0, 2).X
    frame = pd.DataFrame(X, columns=["a", "b"])
    detector = OutlierDetector(3, random_state=0).fit(frame)
    np.testing.assert_array_equal(detector.feature_names_in_, ["a", "b"])
    plain = OutlierDetector(3, random_state=0).fit(X)
    np.testing.assert_array_equal(detector.decision_function(frame), plain.decision_function(X))
    with pytest.warns(UserWarning, match="X has feature names"):
        plain.predict(frame)
    small = OutlierDetector(3, random_state=0).fit(X.astype(np.float32))
    assert small.score_samples(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"contamination": 0.0}, r"contamination must be in \(0, 0.5\]; got 0.0"),
        ({"contamination": 0.6}, r"contamination must be in \(0, 0.5\]"),
        ({"contamination": "most"}, "contamination must be a float in"),
        ({"contamination": "auto"}, "contamination='auto' needs noise=True"),
        ({"n_components": 0}, "n_components must be a positive integer"),
        ({"n_components": "many"}, "n_components must be 'auto'"),
        ({"covariance_type": "round"}, "covariance_type must be one of"),
        ({"criterion": "likelihood"}, "criterion must be one of"),
        ({"noise": "yes"}, "noise must be True or False"),
        ({"mixture": IsolationForest()}, "mixture must be a gaussmix.GaussianMixture"),
    ],
)
def test_invalid_parameters_are_named(params, match):
    X = planted(0, 2).X
    with pytest.raises(InvalidParameterError, match=match):
        OutlierDetector(**params).fit(X)


def test_unfitted_and_wrong_features(tmp_path):
    X = planted(0, 2).X
    with pytest.raises(NotFittedError, match="not fitted yet"):
        OutlierDetector().predict(X)
    detector = OutlierDetector(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but OutlierDetector is expecting 2"):
        detector.decision_function(np.ones((4, 3)))
    with pytest.raises(AttributeError, match="fit with noise=True"):
        detector.noise_proba(X)
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(TypeError, match="needs its training data in memory"):
        OutlierDetector().fit(gaussmix.open_data(tmp_path / "X.npy"))


def test_a_search_cell_is_the_single_fit_with_its_seed(monkeypatch):
    """The shared first partition changes nothing, later starts included (n_init=2)."""
    from gaussmix.anomaly._noise import NoiseProblem

    drawn = []
    original = NoiseProblem.start_labels

    def spy(self, k, random_state):
        drawn.append(original(self, k, random_state))
        return drawn[-1]

    monkeypatch.setattr(NoiseProblem, "start_labels", spy)
    X = planted(1, 2, fraction=0.05).X
    params = {"noise": True, "mixture": GaussianMixture(n_init=2, tol=1e-4), "random_state": 3}
    single = OutlierDetector(3, **params).fit(X).mixture_
    single_starts, drawn[:] = list(drawn), []
    # A search over one cell draws the same seed as the single fit.
    cell = OutlierDetector([3], **params).fit(X).mixture_
    assert len(single_starts) == len(drawn) == 2
    assert not np.array_equal(single_starts[0], single_starts[1])  # two different starts
    for a, b in zip(single_starts, drawn, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cell.means_, single.means_)
