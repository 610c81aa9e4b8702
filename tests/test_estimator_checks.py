"""scikit-learn's own estimator checks, with no expected failures."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import GaussianMixture


@parametrize_with_checks(
    [GaussianMixture(covariance_type=c) for c in ("full", "tied", "diag", "spherical")]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
