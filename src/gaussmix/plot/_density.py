"""The mixture's log-density on a grid: heat map and contour lines."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np

from .._validation import check_option, check_scalar_param
from ._base import check_data, get_axes, set_labels
from ._projection import Projection, make_projection

__all__ = ["DensityDisplay"]

_KINDS = ("heatmap", "contour", "both")


class DensityDisplay:
    """Log-density of a fitted Gaussian mixture over a 2-D view, as a heat map and contours.

    With two features the values are ``estimator.score_samples`` on the grid.
    With more, the display shows the density of the *projected* mixture: the
    distribution of the data's coordinates in the view, whose component k is the
    Gaussian with weight ``w_k``, mean ``P^T (mu_k - offset)`` and covariance
    ``P^T Sigma_k P`` (exact, since a linear map of a Gaussian is Gaussian). It is
    the marginal density of the view, not a slice through the full model.

    Build it with :meth:`from_estimator`; the constructor takes precomputed values.

    Parameters
    ----------
    xx, yy : ndarray of shape (n_rows, n_cols)
        Grid coordinates (as from ``numpy.meshgrid``).
    log_density : ndarray of shape (n_rows, n_cols)
        Log-density at the grid points.
    points : ndarray of shape (n_samples, 2), default=None
        Data in the view, drawn on top; None for none.
    means : ndarray of shape (n_components, 2), default=None
        Component means in the view, marked; None for none.
    vmin : float, default=None
        Lowest log-density coloured; lower values get the bottom colour. None:
        the grid's minimum.
    xlabel, ylabel : str, default=None
    projection : Projection, default=None
        The map from the data space to the view, kept for reference.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    heatmap_ : QuadMesh or None
        The heat map (``kind`` "heatmap" or "both").
    contour_ : QuadContourSet or None
        The contour lines (``kind`` "contour" or "both").
    colorbar_ : Colorbar or None
    scatter_ : PathCollection or None
        The data points.
    mean_markers_ : PathCollection or None
    """

    def __init__(
        self,
        *,
        xx: np.ndarray,
        yy: np.ndarray,
        log_density: np.ndarray,
        points: np.ndarray | None = None,
        means: np.ndarray | None = None,
        vmin: float | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        projection: Projection | None = None,
    ) -> None:
        self.xx = xx
        self.yy = yy
        self.log_density = log_density
        self.points = points
        self.means = means
        self.vmin = vmin
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.projection = projection

    def plot(
        self,
        ax: Any = None,
        *,
        kind: Literal["heatmap", "contour", "both"] = "both",
        levels: int | Sequence[float] = 10,
        colorbar: bool = True,
        heatmap_kwargs: dict | None = None,
        contour_kwargs: dict | None = None,
        scatter_kwargs: dict | None = None,
        mean_kwargs: dict | None = None,
    ) -> DensityDisplay:
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        kind : {"heatmap", "contour", "both"}, default="both"
            A heat map of the log-density (``Axes.pcolormesh``), contour lines of it
            (``Axes.contour``), or the lines over the heat map.
        levels : int or sequence of float, default=10
            Contour levels of the log-density, or how many, evenly spaced between
            ``vmin`` and the maximum.
        colorbar : bool, default=True
            Add a colour bar for the heat map (or the lines alone).
        heatmap_kwargs, contour_kwargs, scatter_kwargs, mean_kwargs : dict, default=None
            Passed to ``Axes.pcolormesh``, ``Axes.contour``, ``Axes.scatter``
            (points) and ``Axes.scatter`` (means).

        Returns
        -------
        DensityDisplay
        """
        check_option(kind, "kind", _KINDS)
        ax = get_axes(ax)
        values = np.asarray(self.log_density, dtype=np.float64)
        vmax = float(np.max(values))
        vmin = float(np.min(values)) if self.vmin is None else float(self.vmin)
        vmin = min(vmin, vmax)
        self.heatmap_ = self.contour_ = self.colorbar_ = None
        if kind in ("heatmap", "both"):
            options = {"cmap": "viridis", "vmin": vmin, "vmax": vmax, "shading": "auto"}
            options.update(heatmap_kwargs or {})
            self.heatmap_ = ax.pcolormesh(self.xx, self.yy, values, **options)
        if kind in ("contour", "both"):
            if isinstance(levels, Integral):
                check_scalar_param(levels, "levels", Integral, minimum=1)
                contour_levels = np.linspace(vmin, vmax, int(levels) + 2)[1:-1]
            else:
                contour_levels = np.sort(np.asarray(levels, dtype=np.float64))
            # Log-densities are mostly negative, and matplotlib dashes negative levels of
            # one-colour contours: keep them solid.
            options = {"linewidths": 0.8, "linestyles": "solid"}
            if kind == "both":
                options["colors"] = "white"
            else:
                options.update(cmap="viridis", vmin=vmin, vmax=vmax)
            options.update(contour_kwargs or {})
            if contour_levels.size and vmax > vmin:
                self.contour_ = ax.contour(
                    self.xx, self.yy, values, levels=contour_levels, **options
                )
        mappable = self.heatmap_ if self.heatmap_ is not None else self.contour_
        if colorbar and mappable is not None:
            self.colorbar_ = ax.figure.colorbar(mappable, ax=ax, label="log density")
        self.scatter_ = None
        if self.points is not None:
            options = {"s": 4, "color": "black", "alpha": 0.35, "linewidths": 0, "zorder": 3}
            options.update(scatter_kwargs or {})
            points = np.asarray(self.points, dtype=np.float64)
            self.scatter_ = ax.scatter(points[:, 0], points[:, 1], **options)
        self.mean_markers_ = None
        if self.means is not None:
            options = {
                "marker": "X",
                "s": 90,
                "color": "white",
                "edgecolors": "black",
                "linewidths": 0.8,
                "zorder": 4,
            }
            options.update(mean_kwargs or {})
            means = np.asarray(self.means, dtype=np.float64)
            self.mean_markers_ = ax.scatter(means[:, 0], means[:, 1], **options)
        ax.set_xlim(float(np.min(self.xx)), float(np.max(self.xx)))
        ax.set_ylim(float(np.min(self.yy)), float(np.max(self.yy)))
        set_labels(ax, self.xlabel, self.ylabel)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: Any,
        *,
        projection: Any = None,
        grid_resolution: int = 200,
        margin: float = 0.1,
        show_points: bool = True,
        show_means: bool = True,
        ax: Any = None,
        kind: Literal["heatmap", "contour", "both"] = "both",
        levels: int | Sequence[float] = 10,
        colorbar: bool = True,
        heatmap_kwargs: dict | None = None,
        contour_kwargs: dict | None = None,
        scatter_kwargs: dict | None = None,
        mean_kwargs: dict | None = None,
    ) -> DensityDisplay:
        """Draw the log-density of a fitted mixture over the range of ``X``.

        Parameters
        ----------
        estimator : fitted GaussianMixture
        X : array-like of shape (n_samples, n_features)
            Sets the grid's range (its extent in the view, widened by ``margin``)
            and the lowest colour (the lowest log-density at a data point, so the
            colours spend their range where the data are).
        projection : None, "pca", pair of int or str, or array of shape (n_features, 2)
            The 2-D view; see :func:`~gaussmix.plot.make_projection`.
        grid_resolution : int, default=200
            Grid points along each axis.
        margin : float, default=0.1
            Fraction of the data's range added on each side.
        show_points, show_means : bool, default=True
            Draw the data and mark the component means.
        ax, kind, levels, colorbar, heatmap_kwargs, contour_kwargs, scatter_kwargs, mean_kwargs
            See :meth:`plot`.

        Returns
        -------
        DensityDisplay
        """
        check_scalar_param(grid_resolution, "grid_resolution", Integral, minimum=2)
        check_scalar_param(margin, "margin", Real, minimum=0)
        data, names = check_data(estimator, X)
        view = make_projection(projection, data, names)
        params = view.project_mixture(estimator)
        points = view.transform(data)
        lo, hi = points.min(axis=0), points.max(axis=0)
        # A single point or a flat direction still needs a grid of some size.
        span = np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
        lo, hi = lo - margin * span, hi + margin * span
        xx, yy = np.meshgrid(
            np.linspace(lo[0], hi[0], grid_resolution), np.linspace(lo[1], hi[1], grid_resolution)
        )
        grid = np.column_stack([xx.ravel(), yy.ravel()])
        if view.is_identity:
            log_density = np.asarray(
                estimator.score_samples(_like_fitted(estimator, grid)), dtype=np.float64
            )
        else:
            log_density = params.log_density(grid)
        display = cls(
            xx=xx,
            yy=yy,
            log_density=log_density.reshape(xx.shape),
            points=points if show_points else None,
            means=params.means if show_means else None,
            vmin=float(np.min(params.log_density(points))),
            xlabel=view.labels[0],
            ylabel=view.labels[1],
            projection=view,
        )
        return display.plot(
            ax,
            kind=kind,
            levels=levels,
            colorbar=colorbar,
            heatmap_kwargs=heatmap_kwargs,
            contour_kwargs=contour_kwargs,
            scatter_kwargs=scatter_kwargs,
            mean_kwargs=mean_kwargs,
        )


def _like_fitted(estimator: Any, grid: np.ndarray) -> Any:
    """The grid with the column names the estimator was fitted with (no name warning)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return grid
    import pandas as pd

    return pd.DataFrame(grid, columns=names)
