"""ICL and classification uncertainty, against brute force and mclust's published values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

from conftest import COVARIANCE_TYPES, mixture_data
from gaussmix import GaussianMixture


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_icl_is_bic_plus_entropy_penalty(covariance_type):
    X, _ = mixture_data(600, 3, 3, seed=4)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    resp = gm.predict_proba(X)
    expected = gm.bic(X) - 2 * np.sum(np.log(resp.max(axis=1)))
    assert gm.icl(X) == pytest.approx(expected, rel=1e-12)
    assert gm.icl(X) >= gm.bic(X)


def test_weighted_icl_equals_repeated_rows():
    X, _ = mixture_data(300, 2, 3, seed=1)
    counts = np.random.default_rng(0).integers(1, 4, size=300)
    gm = GaussianMixture(3, random_state=0).fit(X)
    repeated = np.repeat(X, counts, axis=0)
    assert gm.icl(X, sample_weight=counts) == pytest.approx(gm.icl(repeated), rel=1e-10)


def test_uncertainty_range_and_definition():
    X, _ = mixture_data(500, 2, 4, seed=2)
    gm = GaussianMixture(4, random_state=0).fit(X)
    uncertainty = gm.uncertainty(X)
    assert uncertainty.shape == (500,)
    np.testing.assert_allclose(uncertainty, 1 - gm.predict_proba(X).max(axis=1), atol=1e-14)
    assert np.all(uncertainty >= 0) and np.all(uncertainty <= 1 - 1 / 4 + 1e-12)
    # A point on top of one component's mean, far from the others, is certain.
    far = GaussianMixture(2, random_state=0).fit(np.r_[X[:5] - 100, X[:5] + 100])
    assert far.uncertainty(far.means_[:1]) == pytest.approx(0.0, abs=1e-12)


def test_iris_vvv_two_components_matches_mclust():
    # mclust's summary of Mclust(iris[, 1:4]): VVV with 2 components has BIC -574.02
    # (mclust's sign, 2 log L - p log n) with 2 x 10 covariance, 2 x 4 mean and 1
    # weight parameters.
    X = load_iris().data
    gm = GaussianMixture(2, covariance_type="full", random_state=0, tol=1e-8).fit(X)
    assert gm._n_parameters() == 29
    assert -gm.bic(X) == pytest.approx(-574.02, abs=0.05)
