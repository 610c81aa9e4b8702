"""A scatter-plot matrix of a few features, with the mixture's marginals in every panel."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any, Literal

import numpy as np

from .._validation import check_scalar_param
from ..exceptions import InvalidParameterError
from ._base import (
    MixtureParams2D,
    check_data,
    component_colors,
    draw_ellipses,
    draw_means,
    draw_points,
    level_radii,
    mixture_covariances,
)
from ._projection import feature_index

__all__ = ["PairsDisplay"]

MAX_PAIRS_FEATURES = 6


class PairsDisplay:
    """Every pair of a few features, with the mixture's exact marginals drawn in each panel.

    Panel (i, j) off the diagonal shows feature j against feature i: points by
    predicted component, and each component's ellipses of the marginal
    distribution of those two features (its mean and covariance restricted to
    them: a Gaussian's marginal is Gaussian). Diagonal panels show a histogram of
    the feature with each component's weighted marginal density and their sum.

    Build it with :meth:`from_estimator`; the constructor takes precomputed values.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_selected)
        The selected features of the data.
    labels : ndarray of shape (n_samples,)
        Predicted component of each row.
    means : ndarray of shape (n_components, n_selected)
    covariances : ndarray of shape (n_components, n_selected, n_selected)
    weights : ndarray of shape (n_components,)
        The mixture restricted to the selected features.
    feature_names : sequence of str
    radii : sequence of float, default=(1, 2)
        Mahalanobis radii of the ellipses (see :class:`ClusterDisplay`).

    Attributes
    ----------
    axes_ : ndarray of Axes, shape (n_selected, n_selected)
    figure_ : matplotlib Figure or SubFigure
        The figure drawn on.
    scatter_ : ndarray of object, shape (n_selected, n_selected)
        List of per-component scatters in each off-diagonal panel; None on the diagonal.
    ellipses_ : ndarray of object, shape (n_selected, n_selected)
        ``ellipses_[i, j][k][r]``: component k's ellipse of radius ``radii[r]``.
    density_lines_ : list of list of Line2D
        Per diagonal panel: one line per component, then the mixture's.
    colors_ : ndarray of shape (n_components, 4)
    """

    def __init__(
        self,
        *,
        data: np.ndarray,
        labels: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        weights: np.ndarray,
        feature_names: Sequence[str],
        radii: Sequence[float] = (1, 2),
    ) -> None:
        self.data = data
        self.labels = labels
        self.means = means
        self.covariances = covariances
        self.weights = weights
        self.feature_names = feature_names
        self.radii = radii

    def plot(
        self,
        *,
        figure: Any = None,
        colors: Sequence[Any] | None = None,
        bins: int = 30,
        scatter_kwargs: dict | None = None,
        ellipse_kwargs: dict | None = None,
        fill_alpha: float = 0.25,
        mean_kwargs: dict | None = None,
    ) -> PairsDisplay:
        """Draw the display.

        Parameters
        ----------
        figure : matplotlib Figure, default=None
            An empty figure (or subfigure) to fill; None makes a new one.
        colors : sequence of colours, default=None
            One per component.
        bins : int, default=30
            Histogram bins on the diagonal.
        scatter_kwargs, ellipse_kwargs, mean_kwargs : dict, default=None
            Passed to ``Axes.scatter`` (points), ``matplotlib.patches.Ellipse``
            and ``Axes.scatter`` (means).
        fill_alpha : float, default=0.25
            Fill opacity of the heaviest component's ellipses (see
            :meth:`ClusterDisplay.plot`).

        Returns
        -------
        PairsDisplay
        """
        from scipy.stats import norm

        check_scalar_param(bins, "bins", Integral, minimum=1)
        data = np.asarray(self.data, dtype=np.float64)
        labels = np.asarray(self.labels)
        means = np.asarray(self.means, dtype=np.float64)
        covariances = np.asarray(self.covariances, dtype=np.float64)
        weights = np.asarray(self.weights, dtype=np.float64)
        n = data.shape[1]
        if figure is None:
            import matplotlib.pyplot as plt

            figure = plt.figure(figsize=(2.2 * n + 0.5, 2.2 * n), layout="constrained")
        # Every panel of column j has feature j on its x axis, the diagonal included.
        axes = np.asarray(figure.subplots(n, n, sharex="col", squeeze=False))
        self.colors_ = component_colors(means.shape[0], colors)
        radii = np.asarray(self.radii, dtype=np.float64)
        self.scatter_ = np.empty((n, n), dtype=object)
        self.ellipses_ = np.empty((n, n), dtype=object)
        self.density_lines_ = []
        for i in range(n):
            for j in range(n):
                ax = axes[i, j]
                if i == j:
                    ax.hist(data[:, i], bins=bins, density=True, color="0.8")
                    lo, hi = data[:, i].min(), data[:, i].max()
                    pad = 0.1 * (hi - lo) if hi > lo else 1.0
                    grid = np.linspace(lo - pad, hi + pad, 200)
                    scale = np.sqrt(covariances[:, i, i])
                    parts = weights[:, None] * norm.pdf(grid, means[:, i, None], scale[:, None])
                    lines = [
                        ax.plot(grid, part, color=colour, linewidth=1.0)[0]
                        for part, colour in zip(parts, self.colors_, strict=True)
                    ]
                    lines.append(ax.plot(grid, parts.sum(axis=0), color="black", linewidth=1.4)[0])
                    self.density_lines_.append(lines)
                    ax.set_yticks([])
                    continue
                pair = [j, i]
                params = MixtureParams2D(weights, means[:, pair], covariances[:, pair][:, :, pair])
                self.scatter_[i, j] = draw_points(
                    ax,
                    data[:, pair],
                    labels,
                    self.colors_,
                    None,
                    {"s": 5, **(scatter_kwargs or {})},
                )
                self.ellipses_[i, j] = draw_ellipses(
                    ax, params, radii, self.colors_, ellipse_kwargs, fill_alpha
                )
                draw_means(ax, params.means, self.colors_, {"s": 60, **(mean_kwargs or {})})
                ax.autoscale_view()
        for i, name in enumerate(self.feature_names):
            axes[n - 1, i].set_xlabel(name)
            axes[i, 0].set_ylabel(name)
        self.axes_ = axes
        self.figure_ = figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: Any,
        *,
        features: Sequence[int | str] | None = None,
        levels: Sequence[float] = (1, 2),
        level_type: Literal["sigma", "mass"] = "sigma",
        figure: Any = None,
        colors: Sequence[Any] | None = None,
        bins: int = 30,
        scatter_kwargs: dict | None = None,
        ellipse_kwargs: dict | None = None,
        fill_alpha: float = 0.25,
        mean_kwargs: dict | None = None,
    ) -> PairsDisplay:
        """Draw every pair of (a few) features of ``X`` with the fitted mixture's marginals.

        Parameters
        ----------
        estimator : fitted GaussianMixture
        X : array-like of shape (n_samples, n_features)
        features : sequence of int or str, default=None
            Features to show, by index or name (2 to 6 of them); None for all,
            which needs ``n_features <= 6`` (beyond that, pick features or use
            :class:`ClusterDisplay` with ``projection="pca"``).
        levels : sequence of float, default=(1, 2)
        level_type : {"sigma", "mass"}, default="sigma"
            The ellipses, as for :meth:`ClusterDisplay.from_estimator`.
        figure, colors, bins, scatter_kwargs, ellipse_kwargs, mean_kwargs, fill_alpha
            See :meth:`plot`.

        Returns
        -------
        PairsDisplay
        """
        data, names = check_data(estimator, X)
        radii = level_radii(levels, level_type)
        all_names = names or [f"feature {i}" for i in range(data.shape[1])]
        if features is None:
            if data.shape[1] > MAX_PAIRS_FEATURES:
                raise InvalidParameterError(
                    f"a pairs grid of all {data.shape[1]} features would be unreadable; pass "
                    f"features= with at most {MAX_PAIRS_FEATURES} of them, or use "
                    "ClusterDisplay.from_estimator(..., projection='pca')."
                )
            index = list(range(data.shape[1]))
        else:
            if isinstance(features, str) or not 2 <= len(features) <= MAX_PAIRS_FEATURES:
                raise InvalidParameterError(
                    f"features must list 2 to {MAX_PAIRS_FEATURES} features by index or "
                    f"name; got {features!r}."
                )
            index = [feature_index(f, all_names, names is not None) for f in features]
            if len(set(index)) != len(index):
                raise InvalidParameterError(f"features repeats a feature: {features!r}.")
        covariances = mixture_covariances(estimator)[:, index][:, :, index]
        display = cls(
            data=data[:, index],
            labels=np.asarray(estimator.predict(X)),
            means=np.asarray(estimator.means_, dtype=np.float64)[:, index],
            covariances=covariances,
            weights=np.asarray(estimator.weights_, dtype=np.float64),
            feature_names=[all_names[i] for i in index],
            radii=tuple(radii),
        )
        return display.plot(
            figure=figure,
            colors=colors,
            bins=bins,
            scatter_kwargs=scatter_kwargs,
            ellipse_kwargs=ellipse_kwargs,
            fill_alpha=fill_alpha,
            mean_kwargs=mean_kwargs,
        )
