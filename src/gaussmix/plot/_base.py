"""Shared pieces of the displays: input checks, the fitted mixture, colours, ellipses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2
from sklearn.utils.validation import check_is_fitted

from ..covariance import get_covariance_model
from ..exceptions import InvalidParameterError

__all__ = [
    "MixtureParams2D",
    "check_data",
    "component_colors",
    "draw_ellipses",
    "draw_means",
    "draw_points",
    "ellipse_geometry",
    "get_axes",
    "level_radii",
    "mixture_covariances",
    "set_labels",
]


def check_data(estimator: Any, X: Any) -> tuple[np.ndarray, list[str] | None]:
    """Check that ``estimator`` is fitted and ``X`` has its features; return X as float64.

    Returns the (n_samples, n_features) array and the estimator's feature names
    (``feature_names_in_``, or the columns of a DataFrame ``X``), or None.
    """
    check_is_fitted(estimator)
    n_features = np.shape(estimator.means_)[1]
    array = np.asarray(X, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"X must be a 2-D array of shape (n_samples, {n_features}); got an array "
            f"with shape {array.shape}. Reshape a single feature with X.reshape(-1, 1)."
        )
    if array.shape[1] != n_features:
        raise ValueError(
            f"X has {array.shape[1]} features, but {type(estimator).__name__} was fitted "
            f"with {n_features} features. Pass the data the model was fitted on (or "
            "data with the same columns)."
        )
    if array.shape[0] == 0:
        raise ValueError("X has no rows; a plot needs at least one sample.")
    if n_features < 2:
        raise ValueError(
            "These displays draw a 2-D view and need at least 2 features; the model has 1. "
            "Plot a histogram of X with the density from estimator.score_samples instead."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("X contains NaN or infinity; drop or impute those rows before plotting.")
    names = getattr(estimator, "feature_names_in_", None)
    if names is None and hasattr(X, "columns"):
        columns = [str(c) for c in X.columns]
        names = columns if len(columns) == n_features else None
    return array, None if names is None else [str(n) for n in names]


def mixture_covariances(estimator: Any) -> np.ndarray:
    """Every component's full covariance, shape (n_components, n_features, n_features).

    The covariance model knows its own storage layout, so this works for every
    covariance type (scikit-learn's four and mclust's models alike).
    """
    means = np.asarray(estimator.means_, dtype=np.float64)
    n_components, n_features = means.shape
    model = get_covariance_model(estimator.covariance_type)
    covariances = np.asarray(estimator.covariances_, dtype=np.float64)
    return np.stack(
        [
            np.array(model.component_covariance(covariances, k, n_features), dtype=np.float64)
            for k in range(n_components)
        ]
    )


@dataclass(frozen=True)
class MixtureParams2D:
    """A mixture in the 2-D view: weights (K,), means (K, 2) and covariances (K, 2, 2)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """Log-density of the 2-D mixture at ``points`` (n, 2), shape (n,)."""
        from scipy.special import logsumexp

        log_terms = []
        for weight, mean, cov in zip(self.weights, self.means, self.covariances, strict=True):
            chol = np.linalg.cholesky(cov)
            diff = np.linalg.solve(chol, (points - mean).T)
            maha = np.sum(diff**2, axis=0)
            log_det = 2.0 * np.sum(np.log(np.diag(chol)))
            log_terms.append(np.log(weight) - 0.5 * (maha + log_det + 2.0 * np.log(2.0 * np.pi)))
        return logsumexp(np.stack(log_terms), axis=0)


def level_radii(levels: Sequence[float], level_type: str) -> np.ndarray:
    """Mahalanobis radii of the ellipses for ``levels`` in sigma units or probability mass."""
    if level_type not in ("sigma", "mass"):
        raise InvalidParameterError(f"level_type must be 'sigma' or 'mass'; got {level_type!r}.")
    values = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if values.ndim != 1:
        raise InvalidParameterError(f"levels must be a sequence of numbers; got {levels!r}.")
    if level_type == "sigma":
        if not np.all((values > 0) & np.isfinite(values)):
            raise InvalidParameterError(
                f"levels must be positive Mahalanobis radii (e.g. (1, 2, 3)); got {levels!r}."
            )
        return values
    if not np.all((values > 0) & (values < 1)):
        raise InvalidParameterError(
            "with level_type='mass', levels must be probabilities in (0, 1) (e.g. "
            f"(0.5, 0.9)); got {levels!r}."
        )
    # The squared Mahalanobis distance of a 2-D Gaussian follows chi2 with 2 dof.
    return np.sqrt(chi2.ppf(values, df=2))


def ellipse_geometry(covariance: np.ndarray, radius: float) -> tuple[float, float, float]:
    """``(width, height, angle)`` of the ellipse at Mahalanobis distance ``radius``.

    The ellipse is ``{z : (z - mean)^T covariance^-1 (z - mean) = radius^2}`` for a
    (2, 2) covariance; the width runs along the leading eigenvector, whose
    direction anticlockwise from the x axis is the angle in degrees.
    """
    covariance = np.asarray(covariance, dtype=np.float64)
    if covariance.shape != (2, 2):
        raise ValueError(f"ellipses need a (2, 2) covariance; got shape {covariance.shape}.")
    eigvals, eigvecs = np.linalg.eigh(covariance)
    # eigh sorts ascending; round-off can leave a tiny negative on a flat component.
    eigvals = np.clip(eigvals, 0.0, None)
    leading = eigvecs[:, 1]
    angle = float(np.degrees(np.arctan2(leading[1], leading[0])))
    return (
        2.0 * radius * float(np.sqrt(eigvals[1])),
        2.0 * radius * float(np.sqrt(eigvals[0])),
        angle,
    )


def component_colors(n_colors: int, colors: Sequence[Any] | None = None) -> np.ndarray:
    """RGBA colours (n_colors, 4): the given ones, else tab10, tab20 or an even spread."""
    import matplotlib as mpl
    from matplotlib.colors import to_rgba_array

    if colors is not None:
        rgba = to_rgba_array(colors)
        if len(rgba) < n_colors:
            raise InvalidParameterError(
                f"colors must give at least one colour per component ({n_colors}); "
                f"got {len(rgba)}."
            )
        return rgba[:n_colors]
    if n_colors <= 10:
        return to_rgba_array([f"C{i}" for i in range(n_colors)]) if n_colors else np.empty((0, 4))
    if n_colors <= 20:
        return mpl.colormaps["tab20"](np.arange(n_colors))
    return mpl.colormaps["turbo"](np.linspace(0.05, 0.95, n_colors))


def get_axes(ax: Any) -> Any:
    """``ax``, or the axes of a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


def set_labels(ax: Any, xlabel: str | None, ylabel: str | None) -> None:
    # Labels the user already put on the axes win, as in scikit-learn's displays.
    if xlabel is not None and not ax.get_xlabel():
        ax.set_xlabel(xlabel)
    if ylabel is not None and not ax.get_ylabel():
        ax.set_ylabel(ylabel)


def draw_points(
    ax: Any,
    points: np.ndarray,
    labels: np.ndarray,
    colors: np.ndarray,
    names: Sequence[str] | None,
    kwargs: dict | None,
) -> list[Any]:
    """One scatter per label (so the legend lists components); returns the collections."""
    options = {"s": 12, "alpha": 0.7, "linewidths": 0, "zorder": 2}
    options.update(kwargs or {})
    collections = []
    for k, colour in enumerate(colors):
        mask = labels == k
        label = names[k] if names is not None else None
        collections.append(
            ax.scatter(
                points[mask, 0], points[mask, 1], **{"color": colour, "label": label, **options}
            )
        )
    return collections


def draw_ellipses(
    ax: Any,
    params: MixtureParams2D,
    radii: np.ndarray,
    colors: np.ndarray,
    kwargs: dict | None,
    fill_alpha: float = 0.25,
) -> list[list[Any]]:
    """Ellipses per component and radius (fill and edge opacity grow with the weight).

    Each of the heaviest component's nested fills has opacity ``fill_alpha / n_radii``,
    so they stack to about ``fill_alpha`` at its centre; another component's fills
    are scaled by its weight relative to the heaviest.
    """
    from matplotlib.patches import Ellipse

    if not 0.0 <= fill_alpha <= 1.0:
        raise InvalidParameterError(f"fill_alpha must be in [0, 1]; got {fill_alpha!r}.")
    weights = np.asarray(params.weights, dtype=np.float64)
    relative = weights / weights.max() if weights.size and weights.max() > 0 else weights
    options = {"linewidth": 1.2, "zorder": 1}
    options.update(kwargs or {})
    ellipses = []
    for k, (mean, cov, colour) in enumerate(
        zip(params.means, params.covariances, colors, strict=True)
    ):
        # Nested fills add up, so the centre of a heavy component is the most opaque;
        # a light component stays visible through its edge.
        face = (*colour[:3], fill_alpha * relative[k] / max(len(radii), 1))
        edge = (*colour[:3], 0.3 + 0.7 * relative[k])
        row = []
        for radius in radii:
            width, height, angle = ellipse_geometry(cov, float(radius))
            patch = Ellipse(
                xy=(float(mean[0]), float(mean[1])),
                width=width,
                height=height,
                angle=angle,
                **{"facecolor": face, "edgecolor": edge, **options},
            )
            row.append(ax.add_patch(patch))
        ellipses.append(row)
    return ellipses


def draw_means(ax: Any, means: np.ndarray, colors: np.ndarray, kwargs: dict | None) -> Any:
    """Mark the means with crosses in the component colours, outlined so they stand out."""
    options = {"marker": "X", "s": 140, "edgecolors": "black", "linewidths": 1.0, "zorder": 4}
    options.update(kwargs or {})
    if "color" not in options and "c" not in options and "facecolors" not in options:
        options["facecolors"] = colors
    return ax.scatter(means[:, 0], means[:, 1], **options)
