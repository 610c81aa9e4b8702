"""scikit-learn's own estimator checks for every covariance model, with no expected failures."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import GaussianMixture
from gaussmix.covariance import MCLUST_NAMES

# scikit-learn's four names, and mclust's names of the ten models scikit-learn lacks.
TYPES = ["full", "tied", "diag", "spherical"] + [
    name for name in MCLUST_NAMES if name not in ("VVV", "EEE", "VVI", "VII")
]


@parametrize_with_checks([GaussianMixture(covariance_type=c) for c in TYPES])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
