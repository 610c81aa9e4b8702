"""The report's figures, drawn with :mod:`gaussmix.plot` and encoded as PNG bytes.

Figures are made with :class:`matplotlib.figure.Figure` directly, never through
pyplot: writing a report changes neither the user's backend nor pyplot's list
of open figures, and it works headless.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._html import MINUS, SIGMA, TIMES

__all__ = [
    "PLOT_ROWS",
    "ReportFigure",
    "component_swatches",
    "draw_figures",
    "plot_rows",
    "png_size",
    "require_matplotlib",
    "take_rows",
]

# Scatter plots of more rows than this draw a random subset: a million points
# take long to draw and hide each other anyway.
PLOT_ROWS = 5000
# PairsDisplay draws every pair of features; beyond this it is too small to read.
PAIRS_MAX_FEATURES = 6
DPI = 100


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report: an id, a caption, an alt text and its PNG bytes."""

    key: str
    caption: str
    alt: str
    png: bytes

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return png_size(self.png)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (the IHDR chunk comes first)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return struct.unpack(">II", png[16:24])


def require_matplotlib() -> Any:
    """Import matplotlib, or raise an ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            'The report draws its figures with matplotlib: pip install "gaussmix[plots]".'
        ) from exc
    return matplotlib


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    # No "Software" text chunk: it holds matplotlib's web address, and the report
    # is meant to reference nothing outside itself, not even in image metadata.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def take_rows(X: Any, rows: np.ndarray | None) -> Any:
    """``X[rows]`` for an array or a DataFrame; ``X`` itself for ``rows=None``."""
    if rows is None:
        return X
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def plot_rows(n_rows: int, seed: int = 0) -> np.ndarray | None:
    """Sorted rows drawn in scatter plots, or None for all of them."""
    if n_rows <= PLOT_ROWS:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, PLOT_ROWS, replace=False))


def component_swatches(n_components: int) -> list[str]:
    """The figures' colour of each component, as ``#rrggbb``."""
    require_matplotlib()
    from matplotlib.colors import to_hex

    from ..plot import component_colors

    return [to_hex(c) for c in component_colors(n_components)]


def draw_figures(
    estimator: Any,
    X: Any,
    n_features: int,
    *,
    kmeans: Any,
    selection: Any = None,
) -> list[ReportFigure]:
    """Draw the report's figures.

    Parameters
    ----------
    estimator : fitted GaussianMixture
    X : ndarray or DataFrame of shape (n_samples, n_features)
        The rows to draw (already subsampled when large), as the estimator takes them.
    n_features : int
    kmeans : fitted sklearn.cluster.KMeans
        The k-means model to compare with.
    selection : ModelSelection, default=None
        Adds the criterion curves when given.

    Returns
    -------
    list of ReportFigure
        In the order the report shows them. The displays need two features, so
        with one feature only the selection curves are drawn.
    """
    require_matplotlib()
    import matplotlib.style
    from matplotlib.figure import Figure

    from ..plot import (
        ClusterDisplay,
        ComparisonDisplay,
        DensityDisplay,
        PairsDisplay,
        SelectionDisplay,
        UncertaintyDisplay,
    )

    figures = []
    view = "the two features" if n_features == 2 else "the first two principal axes"
    # The default style, whatever the user's rcParams, so every report looks alike.
    with matplotlib.style.context("default"):
        if n_features >= 2:
            figure = Figure(figsize=(6.4, 5.2), layout="constrained")
            ClusterDisplay.from_estimator(estimator, X, ax=figure.add_subplot())
            figures.append(
                ReportFigure(
                    "clusters",
                    f"Points coloured by component, on {view}; 1-, 2- and 3-{SIGMA} ellipses "
                    f"and means ({TIMES}).",
                    "Scatter plot of the data coloured by mixture component, with each "
                    "component's 1-, 2- and 3-sigma ellipses and its mean.",
                    _png(figure),
                )
            )
            figure = Figure(figsize=(6.4, 5.2), layout="constrained")
            DensityDisplay.from_estimator(estimator, X, ax=figure.add_subplot())
            figures.append(
                ReportFigure(
                    "density",
                    f"Log-density of the mixture on {view}, with the data.",
                    "Heat map and contour lines of the mixture's log-density, with the data "
                    "points and component means.",
                    _png(figure),
                )
            )
            figure = Figure(figsize=(6.4, 5.2), layout="constrained")
            UncertaintyDisplay.from_estimator(estimator, X, ax=figure.add_subplot())
            figures.append(
                ReportFigure(
                    "uncertainty",
                    f"Classification uncertainty, 1 {MINUS} max responsibility: the larger "
                    "and darker a point, the more it is shared between components.",
                    "Scatter plot of the data sized and coloured by classification uncertainty.",
                    _png(figure),
                )
            )
        if selection is not None:
            figure = Figure(figsize=(7.2, 4.8), layout="constrained")
            SelectionDisplay.from_selection(selection, ax=figure.add_subplot())
            upper = selection.criterion.upper()
            figures.append(
                ReportFigure(
                    "selection",
                    f"{upper} of every covariance model against the number of components "
                    "(lower is better); the chosen cell is circled.",
                    f"Line chart of {upper} against the number of components, one line per "
                    "covariance model.",
                    _png(figure),
                )
            )
        if n_features >= 2:
            figure = Figure(figsize=(11.0, 5.0), layout="constrained")
            ComparisonDisplay.from_estimator(
                estimator, X, kmeans=kmeans, axes=figure.subplots(1, 2, sharex=True, sharey=True)
            )
            figures.append(
                ReportFigure(
                    "comparison",
                    "The mixture's partition (left) beside k-means' (right); each k-means "
                    "cluster takes the colour of the component it overlaps most.",
                    "Two scatter plots side by side: the data coloured by mixture component "
                    "and by k-means cluster.",
                    _png(figure),
                )
            )
        if 3 <= n_features <= PAIRS_MAX_FEATURES:
            size = 1.9 * n_features + 0.6
            figure = Figure(figsize=(size, size - 0.4), layout="constrained")
            PairsDisplay.from_estimator(estimator, X, figure=figure)
            figures.append(
                ReportFigure(
                    "pairs",
                    f"Every pair of features with each component's marginal 1- and 2-{SIGMA} "
                    "ellipses; histograms and marginal densities on the diagonal.",
                    "Matrix of scatter plots of every pair of features, with the "
                    "components' ellipses.",
                    _png(figure),
                )
            )
    return figures
