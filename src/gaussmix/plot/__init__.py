"""Figures of fitted Gaussian mixtures, as scikit-learn-style Display objects.

Needs matplotlib (``pip install "gaussmix[plots]"``); ``import gaussmix`` does not
import this package, so import it explicitly::

    from gaussmix.plot import ClusterDisplay
    ClusterDisplay.from_estimator(gm, X)

Each display's ``from_estimator`` (or ``from_selection``) computes what it shows
and draws it; the constructor takes precomputed values; ``plot(ax=None, ...)``
draws and stores the axes (``ax_``), the figure (``figure_``) and the artists.

Data with more than two features are drawn in a 2-D view (see
:func:`make_projection`): by default the first two principal axes of the data.
The mixture is projected exactly with them (means ``P^T mu``, covariances
``P^T Sigma P``), so its ellipses and density are those of the projected data.
"""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised with matplotlib hidden
    raise ImportError(
        'gaussmix.plot needs matplotlib; install it with: pip install "gaussmix[plots]"'
    ) from exc

from ._base import component_colors, ellipse_geometry
from ._cluster import ClusterDisplay
from ._comparison import ComparisonDisplay, match_labels
from ._density import DensityDisplay
from ._pairs import PairsDisplay
from ._projection import Projection, make_projection
from ._selection import SelectionDisplay
from ._uncertainty import UncertaintyDisplay

__all__ = [
    "ClusterDisplay",
    "ComparisonDisplay",
    "DensityDisplay",
    "PairsDisplay",
    "Projection",
    "SelectionDisplay",
    "UncertaintyDisplay",
    "component_colors",
    "ellipse_geometry",
    "make_projection",
    "match_labels",
]
