"""Classification uncertainty: points sized and coloured by 1 - max responsibility."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .._validation import check_option
from ..exceptions import InvalidParameterError
from ._base import check_data, get_axes, set_labels
from ._projection import Projection, make_projection

__all__ = ["UncertaintyDisplay"]

_ENCODINGS = ("both", "size", "color")


class UncertaintyDisplay:
    """Each point's classification uncertainty ``1 - max_k r_ik`` in a 2-D view.

    Points are coloured and sized by their uncertainty, both increasing with it,
    on the fixed scale ``[0, 1 - 1/n_components]`` (0: assigned with certainty;
    the top: shared equally by every component), so two displays of the same
    number of components compare directly. The most uncertain points are drawn
    last, on top. Uncertainty is computed in the full feature space; only the
    points' positions are projected.

    Build it with :meth:`from_estimator`; the constructor takes precomputed values.

    Parameters
    ----------
    points : ndarray of shape (n_samples, 2)
        Data in the view.
    uncertainty : ndarray of shape (n_samples,)
        Uncertainty of each point, in ``[0, 1 - 1/n_components]``.
    n_components : int
        Sets the top of the scale.
    means : ndarray of shape (n_components, 2), default=None
        Component means in the view, marked; None for none.
    xlabel, ylabel : str, default=None
    projection : Projection, default=None

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    scatter_ : PathCollection
        The points, in drawing order (ascending uncertainty); ``get_sizes()`` holds
        their marker areas and, with colour encoding, ``get_array()`` their
        uncertainties.
    order_ : ndarray of shape (n_samples,)
        Row of ``points`` drawn at each position of ``scatter_``.
    colorbar_ : Colorbar or None
    mean_markers_ : PathCollection or None
    """

    def __init__(
        self,
        *,
        points: np.ndarray,
        uncertainty: np.ndarray,
        n_components: int,
        means: np.ndarray | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        projection: Projection | None = None,
    ) -> None:
        self.points = points
        self.uncertainty = uncertainty
        self.n_components = n_components
        self.means = means
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.projection = projection

    def plot(
        self,
        ax: Any = None,
        *,
        encode: Literal["both", "size", "color"] = "both",
        sizes: tuple[float, float] = (4.0, 80.0),
        cmap: Any = "viridis_r",
        colorbar: bool = True,
        scatter_kwargs: dict | None = None,
        mean_kwargs: dict | None = None,
    ) -> UncertaintyDisplay:
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        encode : {"both", "size", "color"}, default="both"
            Show uncertainty by marker size, colour, or both.
        sizes : (float, float), default=(4.0, 80.0)
            Marker areas (points^2) at zero and at the largest possible uncertainty;
            the area grows linearly in between.
        cmap : str or Colormap, default="viridis_r"
            Colour map from certain to uncertain (the default fades certain points
            to yellow and darkens uncertain ones).
        colorbar : bool, default=True
            Add a colour bar (with colour encoding).
        scatter_kwargs, mean_kwargs : dict, default=None
            Passed to ``Axes.scatter`` for the points and for the means.

        Returns
        -------
        UncertaintyDisplay
        """
        from matplotlib.colors import Normalize

        check_option(encode, "encode", _ENCODINGS)
        small, large = (float(s) for s in sizes)
        if not 0 <= small <= large:
            raise InvalidParameterError(
                f"sizes must be (smallest, largest) marker areas with 0 <= smallest <= "
                f"largest; got {sizes!r}."
            )
        ax = get_axes(ax)
        points = np.asarray(self.points, dtype=np.float64)
        uncertainty = np.asarray(self.uncertainty, dtype=np.float64)
        top = 1.0 - 1.0 / self.n_components if self.n_components > 1 else 1.0
        self.order_ = np.argsort(uncertainty, kind="stable")
        drawn = uncertainty[self.order_]
        options: dict[str, Any] = {"linewidths": 0, "alpha": 0.85, "zorder": 2}
        if encode in ("both", "size"):
            options["s"] = small + (large - small) * np.clip(drawn / top, 0.0, 1.0)
        else:
            options["s"] = 0.5 * (small + large)
        if encode in ("both", "color"):
            options.update(c=drawn, cmap=cmap, norm=Normalize(0.0, top))
        else:
            options["color"] = "black"
        options.update(scatter_kwargs or {})
        self.scatter_ = ax.scatter(points[self.order_, 0], points[self.order_, 1], **options)
        self.colorbar_ = None
        if colorbar and encode in ("both", "color"):
            self.colorbar_ = ax.figure.colorbar(
                self.scatter_, ax=ax, label="uncertainty (1 - max responsibility)"
            )
        self.mean_markers_ = None
        if self.means is not None:
            options = {
                "marker": "X",
                "s": 120,
                "color": "white",
                "edgecolors": "black",
                "linewidths": 1.0,
                "zorder": 4,
            }
            options.update(mean_kwargs or {})
            means = np.asarray(self.means, dtype=np.float64)
            self.mean_markers_ = ax.scatter(means[:, 0], means[:, 1], **options)
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
        show_means: bool = True,
        ax: Any = None,
        encode: Literal["both", "size", "color"] = "both",
        sizes: tuple[float, float] = (4.0, 80.0),
        cmap: Any = "viridis_r",
        colorbar: bool = True,
        scatter_kwargs: dict | None = None,
        mean_kwargs: dict | None = None,
    ) -> UncertaintyDisplay:
        """Draw the classification uncertainty of a fitted mixture on data ``X``.

        Parameters
        ----------
        estimator : fitted GaussianMixture
            Its ``uncertainty(X)`` is used; for an estimator without one (scikit-learn's),
            ``1 - predict_proba(X).max(axis=1)``.
        X : array-like of shape (n_samples, n_features)
        projection : None, "pca", pair of int or str, or array of shape (n_features, 2)
            The 2-D view; see :func:`~gaussmix.plot.make_projection`.
        show_means : bool, default=True
            Mark the component means.
        ax, encode, sizes, cmap, colorbar, scatter_kwargs, mean_kwargs
            See :meth:`plot`.

        Returns
        -------
        UncertaintyDisplay
        """
        data, names = check_data(estimator, X)
        view = make_projection(projection, data, names)
        if hasattr(estimator, "uncertainty"):
            uncertainty = np.asarray(estimator.uncertainty(X), dtype=np.float64)
        else:
            uncertainty = 1.0 - np.max(estimator.predict_proba(X), axis=1)
        n_components = int(np.shape(estimator.means_)[0])
        display = cls(
            points=view.transform(data),
            uncertainty=uncertainty,
            n_components=n_components,
            means=view.transform(estimator.means_) if show_means else None,
            xlabel=view.labels[0],
            ylabel=view.labels[1],
            projection=view,
        )
        return display.plot(
            ax,
            encode=encode,
            sizes=sizes,
            cmap=cmap,
            colorbar=colorbar,
            scatter_kwargs=scatter_kwargs,
            mean_kwargs=mean_kwargs,
        )
