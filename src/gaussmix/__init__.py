"""gaussmix: Gaussian mixture models, fast, on EM over sufficient statistics.

>>> import gaussmix
>>> from gaussmix import GaussianMixture
>>> gm = GaussianMixture(n_components=3, random_state=0)  # doctest: +SKIP
>>> gaussmix.save(gm.fit(X), "model.gmm")  # doctest: +SKIP
>>> gm = gaussmix.load("model.gmm")  # doctest: +SKIP

``import gaussmix`` is light: matplotlib, dask and sklearn.cluster are imported only
where they are used.
"""

from __future__ import annotations

from ._hc import HCTree, hc_tree
from ._mixture import GaussianMixture
from ._selection import ModelSelection, select_model
from ._threads import get_num_threads, set_num_threads
from ._version import __version__
from .anomaly import OutlierDetector
from .covariance import COVARIANCE_TYPES
from .exceptions import (
    DegenerateComponentWarning,
    InvalidParameterError,
    ModelFileError,
    NumericalError,
)
from .io import DataSource, open_data
from .persistence import load, save

__all__ = [
    "COVARIANCE_TYPES",
    "DataSource",
    "DegenerateComponentWarning",
    "GaussianMixture",
    "HCTree",
    "InvalidParameterError",
    "ModelFileError",
    "ModelSelection",
    "NumericalError",
    "OutlierDetector",
    "__version__",
    "get_num_threads",
    "hc_tree",
    "load",
    "open_data",
    "save",
    "select_model",
    "set_num_threads",
]
