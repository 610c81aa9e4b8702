"""A Gaussian mixture and k-means side by side, in matched colours."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from ..exceptions import InvalidParameterError
from ._base import (
    MixtureParams2D,
    check_data,
    component_colors,
    draw_ellipses,
    draw_means,
    draw_points,
    level_radii,
    set_labels,
)
from ._projection import Projection, make_projection

__all__ = ["ComparisonDisplay", "match_labels"]


def match_labels(
    labels: np.ndarray,
    reference: np.ndarray,
    n_labels: int | None = None,
    n_reference: int | None = None,
) -> np.ndarray:
    """Map each label of one partition to the reference label it overlaps most, one to one.

    The Hungarian algorithm maximises the number of points whose two labels
    agree. Labels left over (more clusters than the reference has) get new,
    distinct values after the reference's.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Non-negative integer labels to recolour.
    reference : ndarray of shape (n_samples,)
        Non-negative integer labels to match.
    n_labels, n_reference : int, default=None
        Number of distinct labels in each partition (some may have no points);
        default: the largest label plus one.

    Returns
    -------
    mapping : ndarray of shape (n_labels,)
        ``mapping[j]`` is the reference label matched to label ``j``.
    """
    labels = np.asarray(labels, dtype=np.intp)
    reference = np.asarray(reference, dtype=np.intp)
    if n_labels is None:
        n_labels = int(labels.max()) + 1 if labels.size else 0
    if n_reference is None:
        n_reference = int(reference.max()) + 1 if reference.size else 0
    contingency = np.zeros((n_labels, n_reference), dtype=np.int64)
    np.add.at(contingency, (labels, reference), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    mapping = np.full(n_labels, -1, dtype=np.intp)
    mapping[rows] = cols
    unmatched = np.flatnonzero(mapping < 0)
    mapping[unmatched] = n_reference + np.arange(unmatched.size)
    return mapping


class ComparisonDisplay:
    """A Gaussian mixture's partition beside k-means', on two axes, in matched colours.

    The left panel shows the mixture (points by predicted component, the
    components' ellipses and means), the right one k-means (points by cluster,
    centroids). Each k-means cluster takes the colour of the mixture component
    it overlaps most (one to one, by the Hungarian algorithm), so the same colour
    means the same group in both panels. The titles give the adjusted Rand index
    between the two partitions, and against true labels when given.

    Build it with :meth:`from_estimator`; the constructor takes precomputed values.

    Parameters
    ----------
    points : ndarray of shape (n_samples, 2)
        Data in the view.
    gmm_labels, kmeans_labels : ndarray of shape (n_samples,)
        Mixture component and k-means cluster of each point.
    means : ndarray of shape (n_components, 2)
    covariances : ndarray of shape (n_components, 2, 2)
    weights : ndarray of shape (n_components,)
        The mixture in the view.
    kmeans_centers : ndarray of shape (n_clusters, 2)
        The k-means centroids in the view.
    radii : sequence of float, default=(1, 2, 3)
        Mahalanobis radii of the mixture's ellipses (see :class:`ClusterDisplay`).
    ari : float, default=None
        Adjusted Rand index between the two partitions.
    ari_truth : dict, default=None
        ``{"gmm": float, "kmeans": float}``: each partition against true labels.
    gmm_title, kmeans_title : str, default=None
        First line of each panel's title.
    xlabel, ylabel : str, default=None
    projection : Projection, default=None

    Attributes
    ----------
    axes_ : ndarray of 2 matplotlib Axes
        Mixture panel, k-means panel.
    figure_ : matplotlib Figure
    gmm_scatter_, kmeans_scatter_ : list of PathCollection
        One scatter per component / cluster.
    ellipses_ : list of list of Ellipse
        ``ellipses_[k][j]``: component k's ellipse of radius ``radii[j]``.
    mean_markers_, center_markers_ : PathCollection
    color_mapping_ : ndarray of shape (n_clusters,)
        Index into ``colors_`` of each k-means cluster.
    colors_ : ndarray of shape (n_colors, 4)
        RGBA colours; component k of the mixture has ``colors_[k]``.
    """

    def __init__(
        self,
        *,
        points: np.ndarray,
        gmm_labels: np.ndarray,
        kmeans_labels: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        weights: np.ndarray,
        kmeans_centers: np.ndarray,
        radii: Sequence[float] = (1, 2, 3),
        ari: float | None = None,
        ari_truth: dict | None = None,
        gmm_title: str | None = None,
        kmeans_title: str | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        projection: Projection | None = None,
    ) -> None:
        self.points = points
        self.gmm_labels = gmm_labels
        self.kmeans_labels = kmeans_labels
        self.means = means
        self.covariances = covariances
        self.weights = weights
        self.kmeans_centers = kmeans_centers
        self.radii = radii
        self.ari = ari
        self.ari_truth = ari_truth
        self.gmm_title = gmm_title
        self.kmeans_title = kmeans_title
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.projection = projection

    def plot(
        self,
        axes: Sequence[Any] | None = None,
        *,
        colors: Sequence[Any] | None = None,
        scatter_kwargs: dict | None = None,
        ellipse_kwargs: dict | None = None,
        fill_alpha: float = 0.25,
        mean_kwargs: dict | None = None,
    ) -> ComparisonDisplay:
        """Draw the display.

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, default=None
            Mixture panel and k-means panel; None makes a new figure with two
            panels sharing both axes.
        colors : sequence of colours, default=None
            Colours by mixture component (extra ones for unmatched k-means clusters).
        scatter_kwargs, ellipse_kwargs, mean_kwargs : dict, default=None
            Passed to ``Axes.scatter`` (points, both panels),
            ``matplotlib.patches.Ellipse`` and ``Axes.scatter`` (means and centroids).
        fill_alpha : float, default=0.25
            Fill opacity of the heaviest component's ellipses (see
            :meth:`ClusterDisplay.plot`).

        Returns
        -------
        ComparisonDisplay
        """
        if axes is None:
            import matplotlib.pyplot as plt

            _, axes = plt.subplots(
                1, 2, figsize=(11, 5.5), sharex=True, sharey=True, layout="constrained"
            )
        axes = np.asarray(axes, dtype=object).ravel()
        if axes.size != 2:
            raise InvalidParameterError(
                f"axes must be two matplotlib Axes (mixture, k-means); got {axes.size}."
            )
        points = np.asarray(self.points, dtype=np.float64)
        gmm_labels = np.asarray(self.gmm_labels, dtype=np.intp)
        kmeans_labels = np.asarray(self.kmeans_labels, dtype=np.intp)
        means = np.asarray(self.means, dtype=np.float64)
        centers = np.asarray(self.kmeans_centers, dtype=np.float64)
        n_components, n_clusters = means.shape[0], centers.shape[0]

        self.color_mapping_ = match_labels(kmeans_labels, gmm_labels, n_clusters, n_components)
        n_colors = max(n_components, int(self.color_mapping_.max(initial=-1)) + 1)
        self.colors_ = component_colors(n_colors, colors)

        ax_gmm, ax_km = axes
        self.gmm_scatter_ = draw_points(
            ax_gmm, points, gmm_labels, self.colors_[:n_components], None, scatter_kwargs
        )
        params = MixtureParams2D(
            np.asarray(self.weights, dtype=np.float64),
            means,
            np.asarray(self.covariances, dtype=np.float64),
        )
        self.ellipses_ = draw_ellipses(
            ax_gmm,
            params,
            np.asarray(self.radii, dtype=np.float64),
            self.colors_[:n_components],
            ellipse_kwargs,
            fill_alpha,
        )
        self.mean_markers_ = draw_means(ax_gmm, means, self.colors_[:n_components], mean_kwargs)
        cluster_colors = self.colors_[self.color_mapping_]
        self.kmeans_scatter_ = draw_points(
            ax_km, points, kmeans_labels, cluster_colors, None, scatter_kwargs
        )
        self.center_markers_ = draw_means(ax_km, centers, cluster_colors, mean_kwargs)

        titles = []
        for name, default, key, other in (
            (self.gmm_title, f"GaussianMixture ({n_components} components)", "gmm", "k-means"),
            (self.kmeans_title, f"KMeans ({n_clusters} clusters)", "kmeans", "the mixture"),
        ):
            parts = []
            if self.ari is not None:
                parts.append(f"ARI with {other} {self.ari:.3f}")
            if self.ari_truth is not None and key in self.ari_truth:
                parts.append(f"ARI with truth {self.ari_truth[key]:.3f}")
            titles.append(
                "\n".join([name or default, ", ".join(parts)]) if parts else name or default
            )
        # matplotlib refuses adjustable="datalim" on axes sharing both x and y (the
        # default layout) when the figure is drawn: keep the aspect with the box then.
        shared = ax_gmm.get_shared_x_axes().joined(
            ax_gmm, ax_km
        ) and ax_gmm.get_shared_y_axes().joined(ax_gmm, ax_km)
        for ax, title in zip(axes, titles, strict=True):
            ax.set_title(title, fontsize="medium")
            ax.autoscale_view()
            set_labels(ax, self.xlabel, self.ylabel)
            if self.projection is not None and self.projection.kind == "pca":
                ax.set_aspect("equal", adjustable="box" if shared else "datalim")
        self.axes_ = axes
        self.figure_ = ax_gmm.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: Any,
        *,
        kmeans: Any = None,
        y: Any = None,
        projection: Any = None,
        levels: Sequence[float] = (1, 2, 3),
        level_type: Literal["sigma", "mass"] = "sigma",
        axes: Sequence[Any] | None = None,
        colors: Sequence[Any] | None = None,
        scatter_kwargs: dict | None = None,
        ellipse_kwargs: dict | None = None,
        fill_alpha: float = 0.25,
        mean_kwargs: dict | None = None,
    ) -> ComparisonDisplay:
        """Compare a fitted mixture with k-means on data ``X``.

        Parameters
        ----------
        estimator : fitted GaussianMixture
        X : array-like of shape (n_samples, n_features)
        kmeans : KMeans, default=None
            A fitted k-means model (its ``predict(X)`` is used), an unfitted one
            (a clone is fitted to ``X``), or None: ``sklearn.cluster.KMeans`` with
            as many clusters as components, ``n_init=10`` and the estimator's
            ``random_state``.
        y : array-like of shape (n_samples,), default=None
            True labels; the titles then give each partition's ARI against them.
        projection : None, "pca", pair of int or str, or array of shape (n_features, 2)
            The 2-D view; see :func:`~gaussmix.plot.make_projection`.
        levels : sequence of float, default=(1, 2, 3)
        level_type : {"sigma", "mass"}, default="sigma"
            The mixture's ellipses, as for :meth:`ClusterDisplay.from_estimator`.
        axes, colors, scatter_kwargs, ellipse_kwargs, mean_kwargs, fill_alpha
            See :meth:`plot`.

        Returns
        -------
        ComparisonDisplay
        """
        from sklearn.base import clone
        from sklearn.cluster import KMeans

        data, names = check_data(estimator, X)
        radii = level_radii(levels, level_type)
        view = make_projection(projection, data, names)
        params = view.project_mixture(estimator)
        n_components = params.means.shape[0]
        if kmeans is None:
            kmeans = KMeans(
                n_clusters=n_components,
                n_init=10,
                random_state=getattr(estimator, "random_state", None),
            ).fit(X)
        elif not hasattr(kmeans, "cluster_centers_"):
            kmeans = clone(kmeans).fit(X)
        gmm_labels = np.asarray(estimator.predict(X))
        kmeans_labels = np.asarray(kmeans.predict(X))
        ari_truth = None
        if y is not None:
            y = np.asarray(y)
            if y.shape != (data.shape[0],):
                raise ValueError(
                    f"y must hold one label per row of X, shape ({data.shape[0]},); "
                    f"got shape {y.shape}."
                )
            ari_truth = {
                "gmm": float(adjusted_rand_score(y, gmm_labels)),
                "kmeans": float(adjusted_rand_score(y, kmeans_labels)),
            }
        display = cls(
            points=view.transform(data),
            gmm_labels=gmm_labels,
            kmeans_labels=kmeans_labels,
            means=params.means,
            covariances=params.covariances,
            weights=params.weights,
            kmeans_centers=view.transform(kmeans.cluster_centers_),
            radii=tuple(radii),
            ari=float(adjusted_rand_score(gmm_labels, kmeans_labels)),
            ari_truth=ari_truth,
            gmm_title=f"GaussianMixture ({estimator.covariance_type}, {n_components} components)",
            kmeans_title=f"KMeans ({len(kmeans.cluster_centers_)} clusters)",
            xlabel=view.labels[0],
            ylabel=view.labels[1],
            projection=view,
        )
        return display.plot(
            axes,
            colors=colors,
            scatter_kwargs=scatter_kwargs,
            ellipse_kwargs=ellipse_kwargs,
            fill_alpha=fill_alpha,
            mean_kwargs=mean_kwargs,
        )
