"""Outlier detection on Gaussian mixtures, with mclust's uniform noise component.

- :mod:`._detector`: :class:`OutlierDetector` and its threshold;
- :mod:`._noise`: the noise component's fits and their search;
- :mod:`._nnclean`: the data's hypervolume and NNclean, the noise component's start.
"""

from __future__ import annotations

from ._detector import OutlierDetector, check_detector_params, weighted_threshold
from ._nnclean import log_hypervolume, nn_clean

__all__ = [
    "OutlierDetector",
    "check_detector_params",
    "log_hypervolume",
    "nn_clean",
    "weighted_threshold",
]
