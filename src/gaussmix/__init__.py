"""gaussmix: Gaussian mixture models, fast, on EM over sufficient statistics.

>>> import gaussmix
>>> from gaussmix import GaussianMixture
>>> gm = GaussianMixture(n_components=3, random_state=0)  # doctest: +SKIP
>>> gaussmix.save(gm.fit(X), "model.gmm")  # doctest: +SKIP
>>> gm = gaussmix.load("model.gmm")  # doctest: +SKIP

``import gaussmix`` is light: matplotlib, dask and sklearn.cluster are imported only
where they are used, and model selection, outlier detection and model files load on
first use of their names, as is mclust's hierarchical clustering (most scripts need
only the estimator).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# First, for its side effect: scikit-learn imported with room on the frame stack.
from . import _preload  # noqa: F401
from ._mixture import GaussianMixture
from ._threads import get_num_threads, set_num_threads
from ._version import __version__
from .covariance import COVARIANCE_TYPES
from .exceptions import (
    DegenerateComponentWarning,
    InvalidParameterError,
    ModelFileError,
    NumericalError,
)
from .io import DataSource, open_data

if TYPE_CHECKING:
    from ._hc import HCTree, hc_tree
    from ._selection import ModelSelection, select_model
    from .anomaly import OutlierDetector
    from .persistence import load, save

# Public names whose modules are imported when a name is first used (PEP 562).
_LAZY = {
    "HCTree": "._hc",
    "hc_tree": "._hc",
    "ModelSelection": "._selection",
    "select_model": "._selection",
    "OutlierDetector": ".anomaly",
    "load": ".persistence",
    "save": ".persistence",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gaussmix' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
