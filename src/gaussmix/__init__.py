"""gaussmix: Gaussian mixture models, fast, on EM over sufficient statistics.

>>> from gaussmix import GaussianMixture
>>> gm = GaussianMixture(n_components=3, random_state=0)  # doctest: +SKIP

``import gaussmix`` is light: numba, matplotlib and dask are imported only where
they are used.
"""

from __future__ import annotations

from ._hc import HCTree, hc_tree
from ._mixture import GaussianMixture
from .covariance import COVARIANCE_TYPES
from .exceptions import DegenerateComponentWarning, InvalidParameterError
from .io import DataSource, open_data

__version__ = "0.1.0"

__all__ = [
    "COVARIANCE_TYPES",
    "DataSource",
    "DegenerateComponentWarning",
    "GaussianMixture",
    "HCTree",
    "InvalidParameterError",
    "__version__",
    "hc_tree",
    "open_data",
]
