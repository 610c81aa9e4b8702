"""Points coloured by component, with each component's ellipses and mean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ._base import (
    MixtureParams2D,
    check_data,
    component_colors,
    draw_ellipses,
    draw_means,
    draw_points,
    get_axes,
    level_radii,
    set_labels,
)
from ._projection import Projection, make_projection

__all__ = ["ClusterDisplay"]


class ClusterDisplay:
    """Clusters of a fitted Gaussian mixture: points, ellipses and means in a 2-D view.

    Build it with :meth:`from_estimator`; the constructor takes precomputed values.

    The ellipse of radius ``r`` around component k is the contour of Mahalanobis
    distance ``r``: ``{z : (z - m_k)^T S_k^-1 (z - m_k) = r^2}`` with ``m_k`` and
    ``S_k`` the component's mean and (2, 2) covariance in the view. The default
    radii 1, 2 and 3 ("1-, 2- and 3-sigma") enclose 39.3%, 86.5% and 98.9% of the
    component's probability in the plane (``1 - exp(-r^2 / 2)``).

    Parameters
    ----------
    means : ndarray of shape (n_components, 2)
        Component means in the view.
    covariances : ndarray of shape (n_components, 2, 2)
        Component covariances in the view.
    weights : ndarray of shape (n_components,)
        Mixing weights. A component's fill opacity is proportional to its weight
        (relative to the heaviest), and its edges fade with it too.
    points : ndarray of shape (n_samples, 2), default=None
        Data in the view; None draws the mixture alone.
    labels : ndarray of shape (n_samples,), default=None
        Component of each point (``estimator.predict(X)``); required with ``points``.
    radii : sequence of float, default=(1, 2, 3)
        Mahalanobis radii of the ellipses; empty for no ellipses.
    xlabel, ylabel : str, default=None
        Axis labels.
    projection : Projection, default=None
        The map from the data space to the view, kept for reference.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    scatter_ : list of PathCollection
        One scatter per component (empty without points).
    ellipses_ : list of list of Ellipse
        ``ellipses_[k][j]`` is component k's ellipse of radius ``radii[j]``.
    mean_markers_ : PathCollection
        The component means, one marker each, in the component colours.
    colors_ : ndarray of shape (n_components, 4)
        RGBA colour of each component.
    legend_ : Legend or None

    Examples
    --------
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.plot import ClusterDisplay
    >>> gm = GaussianMixture(3, random_state=0).fit(X)  # doctest: +SKIP
    >>> ClusterDisplay.from_estimator(gm, X)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        means: np.ndarray,
        covariances: np.ndarray,
        weights: np.ndarray,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        radii: Sequence[float] = (1, 2, 3),
        xlabel: str | None = None,
        ylabel: str | None = None,
        projection: Projection | None = None,
    ) -> None:
        self.means = means
        self.covariances = covariances
        self.weights = weights
        self.points = points
        self.labels = labels
        self.radii = radii
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.projection = projection

    def plot(
        self,
        ax: Any = None,
        *,
        colors: Sequence[Any] | None = None,
        legend: bool | None = None,
        scatter_kwargs: dict | None = None,
        ellipse_kwargs: dict | None = None,
        fill_alpha: float = 0.25,
        mean_kwargs: dict | None = None,
    ) -> ClusterDisplay:
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        colors : sequence of colours, default=None
            One colour per component; default tab10 (tab20 beyond 10 components).
        legend : bool, default=None
            Whether to add a legend of components; None adds one for up to 10.
        scatter_kwargs, ellipse_kwargs, mean_kwargs : dict, default=None
            Passed to ``Axes.scatter`` (points), ``matplotlib.patches.Ellipse`` and
            ``Axes.scatter`` (means).
        fill_alpha : float, default=0.25
            Fill opacity of the heaviest component's ellipses at its centre (each of
            its nested ellipses is filled with ``fill_alpha / len(radii)``); other
            components' fills are scaled by their weight relative to it. 0 draws
            outlines only.

        Returns
        -------
        ClusterDisplay
            ``self``, with the artists stored.
        """
        ax = get_axes(ax)
        means = np.asarray(self.means, dtype=np.float64)
        weights = np.asarray(self.weights, dtype=np.float64)
        n_components = means.shape[0]
        self.colors_ = component_colors(n_components, colors)
        names = [f"component {k} (weight {w:.2f})" for k, w in enumerate(weights)]
        self.scatter_ = []
        if self.points is not None:
            if self.labels is None:
                raise ValueError("points need labels (one component index per point).")
            self.scatter_ = draw_points(
                ax,
                np.asarray(self.points, dtype=np.float64),
                np.asarray(self.labels),
                self.colors_,
                names,
                scatter_kwargs,
            )
        params = MixtureParams2D(weights, means, np.asarray(self.covariances, dtype=np.float64))
        self.ellipses_ = draw_ellipses(
            ax,
            params,
            np.asarray(self.radii, dtype=np.float64),
            self.colors_,
            ellipse_kwargs,
            fill_alpha,
        )
        if self.points is None and self.ellipses_ and len(self.radii):
            for row, name in zip(self.ellipses_, names, strict=True):
                row[0].set_label(name)
        self.mean_markers_ = draw_means(ax, means, self.colors_, mean_kwargs)
        ax.autoscale_view()
        set_labels(ax, self.xlabel, self.ylabel)
        if self.projection is not None and self.projection.kind == "pca":
            # Principal-component scores share the data's units: keep shapes true.
            ax.set_aspect("equal", adjustable="datalim")
        self.legend_ = None
        wanted = legend or (legend is None and n_components <= 10)
        # Without points or ellipses nothing carries a label, and an empty legend warns.
        if wanted and ax.get_legend_handles_labels()[0]:
            self.legend_ = ax.legend(loc="best", fontsize="small")
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
        levels: Sequence[float] = (1, 2, 3),
        level_type: Literal["sigma", "mass"] = "sigma",
        show_points: bool = True,
        ax: Any = None,
        colors: Sequence[Any] | None = None,
        legend: bool | None = None,
        scatter_kwargs: dict | None = None,
        ellipse_kwargs: dict | None = None,
        fill_alpha: float = 0.25,
        mean_kwargs: dict | None = None,
    ) -> ClusterDisplay:
        """Draw the clusters of a fitted mixture on data ``X``.

        Parameters
        ----------
        estimator : fitted GaussianMixture
            gaussmix's, or scikit-learn's.
        X : array-like of shape (n_samples, n_features)
            Data to draw, coloured by ``estimator.predict(X)``; also defines the
            principal axes of the default view when ``n_features > 2``.
        projection : None, "pca", pair of int or str, or array of shape (n_features, 2)
            The 2-D view; see :func:`~gaussmix.plot.make_projection`. The default
            is the two features themselves, or the first two principal axes of
            ``X`` when there are more. Ellipses are those of the projected
            components (exact: ``P^T Sigma_k P``).
        levels : sequence of float, default=(1, 2, 3)
            Ellipses to draw per component; empty for none.
        level_type : {"sigma", "mass"}, default="sigma"
            ``"sigma"``: levels are Mahalanobis radii. ``"mass"``: levels are the
            probability each ellipse encloses in the view (radius
            ``sqrt(chi2.ppf(level, 2))``).
        show_points : bool, default=True
            Draw the data points.
        ax : matplotlib Axes, default=None
        colors, legend, scatter_kwargs, ellipse_kwargs, mean_kwargs, fill_alpha
            See :meth:`plot`.

        Returns
        -------
        ClusterDisplay
        """
        data, names = check_data(estimator, X)
        radii = level_radii(levels, level_type)
        view = make_projection(projection, data, names)
        params = view.project_mixture(estimator)
        display = cls(
            means=params.means,
            covariances=params.covariances,
            weights=params.weights,
            points=view.transform(data) if show_points else None,
            labels=np.asarray(estimator.predict(X)) if show_points else None,
            radii=tuple(radii),
            xlabel=view.labels[0],
            ylabel=view.labels[1],
            projection=view,
        )
        return display.plot(
            ax,
            colors=colors,
            legend=legend,
            scatter_kwargs=scatter_kwargs,
            ellipse_kwargs=ellipse_kwargs,
            fill_alpha=fill_alpha,
            mean_kwargs=mean_kwargs,
        )
