"""partial_fit: stepwise (online) EM on a stream."""

from __future__ import annotations

import numpy as np
import pytest

from gaussmix import GaussianMixture
from gaussmix._online import step_size, update
from gaussmix._suffstats import SuffStats
from gaussmix.kernels import _numpy

SAMPLES_TO_ONE_PERCENT = 10_000  # documented in GaussianMixture.partial_fit's notes
BATCH = 500


def stream(seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(4, 3))

    def draw(n):
        return means[rng.integers(4, size=n)] + rng.normal(size=(n, 3))

    return draw


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reaches_the_batch_likelihood_within_one_percent(seed, covariance_type):
    draw = stream(seed)
    held_out = draw(20_000)
    batch = GaussianMixture(4, covariance_type=covariance_type, n_init=3, random_state=0)
    best = batch.fit(draw(50_000)).score(held_out)
    online = GaussianMixture(4, covariance_type=covariance_type, random_state=seed)
    for _ in range(SAMPLES_TO_ONE_PERCENT // BATCH):
        online.partial_fit(draw(BATCH))
    assert online.n_iter_ == SAMPLES_TO_ONE_PERCENT // BATCH
    assert len(online.lower_bounds_) == online.n_iter_
    assert online.converged_ is False
    assert (best - online.score(held_out)) / abs(best) < 0.01


def test_running_statistics_are_the_weighted_average():
    """update() is the convex combination s = (1 - step) s_old + step s_batch."""
    rng = np.random.default_rng(0)
    X_a, X_b = rng.normal(size=(50, 2)), rng.normal(size=(80, 2)) + 3
    resp_a = rng.dirichlet(np.ones(2), size=50)
    resp_b = rng.dirichlet(np.ones(2), size=80)

    def stats(X, resp, weight=None):
        return SuffStats(*_numpy.resp_stats(X, weight, resp, "full"), 0.0, float(len(X)), len(X))

    step = 0.3
    running = update(update(None, stats(X_a, resp_a), 1.0), stats(X_b, resp_b), step)
    # Brute force: the same rows with weights (1 - step)/50 and step/80.
    X = np.vstack([X_a, X_b])
    weight = np.r_[np.full(50, (1 - step) / 50), np.full(80, step / 80)]
    expected = stats(X, np.vstack([resp_a, resp_b]), weight)
    np.testing.assert_allclose(running.n_k, expected.n_k, rtol=1e-12)
    np.testing.assert_allclose(running.mean_k, expected.mean_k, rtol=1e-12)
    np.testing.assert_allclose(running.scatter_k, expected.scatter_k, rtol=1e-12)
    assert running.weight_sum == pytest.approx(1.0)


def test_step_schedule():
    assert step_size(1, 10.0, 0.7) == pytest.approx(11**-0.7)
    steps = [step_size(t, 10.0, 0.7) for t in range(1, 1000)]
    assert np.all(np.diff(steps) < 0)
    assert sum(steps) > 10 and sum(s * s for s in steps) < 1  # Robbins-Monro


def test_first_batch_equals_one_em_step_from_the_same_start():
    draw = stream(3)
    X = draw(2_000)
    start = GaussianMixture(4, random_state=0, max_iter=0).fit(X)
    params = dict(
        weights_init=start.weights_, means_init=start.means_, precisions_init=start.precisions_
    )
    online = GaussianMixture(4, **params).partial_fit(X)
    with pytest.warns(Warning):  # one iteration never converges
        one_step = GaussianMixture(4, max_iter=1, **params).fit(X)
    np.testing.assert_allclose(online.means_, one_step.means_, rtol=1e-10)
    np.testing.assert_allclose(online.covariances_, one_step.covariances_, rtol=1e-10)
    np.testing.assert_allclose(online.lower_bound_, one_step.lower_bound_, rtol=1e-12)


def test_partial_fit_continues_a_fitted_model():
    draw = stream(4)
    gm = GaussianMixture(4, random_state=0).fit(draw(5_000))
    means = gm.means_.copy()
    gm.partial_fit(draw(500))
    assert gm.n_iter_ == 1
    assert np.max(np.abs(gm.means_ - means)) < 0.5  # a small step from the fitted model


def test_later_batches_may_be_small_and_weighted():
    draw = stream(6)
    gm = GaussianMixture(4, random_state=0, reg_covar="auto").partial_fit(draw(400))
    gm.partial_fit(draw(1))
    gm.partial_fit(draw(3), sample_weight=[0.0, 2.0, 1.0])
    assert gm.n_iter_ == 3
    assert np.all(np.isfinite(gm.means_))


def test_partial_fit_errors():
    draw = stream(5)
    with pytest.raises(ValueError, match="first batch has 2 rows but n_components = 4"):
        GaussianMixture(4).partial_fit(draw(2))
    gm = GaussianMixture(4, random_state=0).partial_fit(draw(100))
    with pytest.raises(ValueError, match="X has 2 features"):
        gm.partial_fit(draw(100)[:, :2])
    with pytest.raises(ValueError, match="learning_decay must be in"):
        GaussianMixture(4, learning_decay=0.4).partial_fit(draw(100))
