"""The classic Gaussian-mixture workflow, end to end.

Three well-separated blobs are standardised, clustered by a 3-component
full-covariance :class:`gaussmix.GaussianMixture` and by k-means, scored against
the true labels, and drawn as PNG figures.

Run it as::

    python -m gaussmix.demo --out demo_output          # metrics + figures
    python -m gaussmix.demo --out demo_output --no-figures

matplotlib is imported only when figures are drawn, so ``import gaussmix`` (and
``--no-figures``) work without the ``plots`` extra.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from gaussmix import GaussianMixture

__all__ = ["main", "run_demo"]

N_SAMPLES = 500
N_CLUSTERS = 3
CLUSTER_STD = 0.6
DATA_SEED = 0
MODEL_SEED = 42
SIGMA_LEVELS = (1, 2, 3)
DPI = 100

FIGURE_FILES = {
    "data": "data.png",
    "gmm_clusters": "gmm_clusters.png",
    "kmeans_vs_gmm": "kmeans_vs_gmm.png",
    "gmm_ellipses": "gmm_ellipses.png",
}

_XLABEL = "feature 1 (standardised)"
_YLABEL = "feature 2 (standardised)"


def _component_covariance(gmm: Any, k: int) -> np.ndarray:
    """Return the full (D, D) covariance matrix of component ``k`` of a fitted mixture.

    Parameters
    ----------
    gmm : GaussianMixture
        A fitted mixture with ``covariance_type`` in ``{"full", "tied", "diag",
        "spherical"}``; ``covariances_`` then has shape (K, D, D), (D, D), (K, D)
        or (K,) respectively.
    k : int
        Component index, ``0 <= k < n_components``.

    Returns
    -------
    numpy.ndarray
        The (D, D) covariance of component ``k``, a new float64 array.

    Raises
    ------
    ValueError
        If ``covariance_type`` is not one of the four known types.
    """
    cov = np.asarray(gmm.covariances_, dtype=np.float64)
    n_features = np.shape(gmm.means_)[1]
    kind = gmm.covariance_type
    if kind == "full":
        return cov[k].copy()
    if kind == "tied":
        # Every component shares one matrix, so k is deliberately ignored.
        return cov.copy()
    if kind == "diag":
        return np.diag(cov[k])
    if kind == "spherical":
        return cov[k] * np.eye(n_features)
    raise ValueError(
        f"unknown covariance_type {kind!r}; expected 'full', 'tied', 'diag' or 'spherical'"
    )


def _ellipse_params(cov: np.ndarray, n_std: float) -> tuple[float, float, float]:
    """Return ``(width, height, angle_degrees)`` of the ``n_std``-sigma ellipse of a 2x2 cov.

    Width runs along the leading eigenvector, so the angle is that vector's
    direction measured anticlockwise from the x axis, in ``(-180, 180]``.
    """
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (2, 2):
        raise ValueError(f"ellipses need a 2x2 covariance, got shape {cov.shape}")
    eigvals, eigvecs = np.linalg.eigh(cov)
    # eigh sorts ascending; the leading axis is the last one.
    eigvals = np.clip(eigvals[::-1], 0.0, None)
    leading = eigvecs[:, -1]
    width, height = 2.0 * n_std * np.sqrt(eigvals)
    angle = float(np.degrees(np.arctan2(leading[1], leading[0])))
    return float(width), float(height), angle


def _align_labels(labels: np.ndarray, reference: np.ndarray, n_clusters: int) -> np.ndarray:
    """Return ``mapping`` so that ``mapping[label]`` is the best-matching reference label.

    Cluster ids are arbitrary, so without this the same blob would get a
    different colour in every panel; the matching only permutes colours and
    never affects a metric.
    """
    contingency = np.zeros((n_clusters, n_clusters), dtype=np.int64)
    np.add.at(contingency, (labels, reference), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    mapping = np.arange(n_clusters)
    mapping[rows] = cols
    return mapping


def _pyplot() -> Any:
    """Import pyplot on the non-interactive Agg backend, with an install hint if missing."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            'The demo figures need matplotlib: pip install "gaussmix[plots]" '
            "(or run the demo with --no-figures)."
        ) from exc
    # Agg renders straight to files, so the demo runs headless (CI, ssh) without a display.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _limits(X: np.ndarray, pad: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = pad * (hi - lo)
    return (lo[0] - margin[0], hi[0] + margin[0]), (lo[1] - margin[1], hi[1] + margin[1])


def _plot_means(ax, means: np.ndarray, label: str) -> None:
    """Mark component means (or centroids) as large black crosses."""
    ax.scatter(
        means[:, 0],
        means[:, 1],
        marker="X",
        s=200,
        color="black",
        edgecolor="white",
        linewidth=1.5,
        label=label,
        zorder=3,
    )


def _style_axes(ax: Any, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    # Standardised features share one unit, and equal scaling keeps ellipse angles true.
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(_XLABEL)
    ax.set_ylabel(_YLABEL)
    ax.grid(True, alpha=0.3)


def _scatter_by_label(
    ax: Any, X: np.ndarray, labels: np.ndarray, colours: Sequence[str], names: Sequence[str]
) -> None:
    for idx, (colour, name) in enumerate(zip(colours, names, strict=True)):
        mask = labels == idx
        ax.scatter(X[mask, 0], X[mask, 1], s=12, color=colour, alpha=0.7, label=name)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _draw_figures(
    out_dir: Path,
    X: np.ndarray,
    y_true: np.ndarray,
    gmm: Any,
    gmm_labels: np.ndarray,
    km_labels: np.ndarray,
    metrics: dict[str, Any],
) -> dict[str, Path]:
    plt = _pyplot()
    from matplotlib.patches import Ellipse

    out_dir.mkdir(parents=True, exist_ok=True)
    k = N_CLUSTERS
    colours = [f"C{i}" for i in range(k)]
    xlim, ylim = _limits(X)
    gmm_map = _align_labels(gmm_labels, y_true, k)
    km_map = _align_labels(km_labels, y_true, k)
    gmm_col = gmm_map[gmm_labels]
    km_col = km_map[km_labels]
    # Components listed in the colour order of the true blobs, for a stable legend.
    order = np.argsort(gmm_map)
    weights = np.asarray(gmm.weights_)
    means = np.asarray(gmm.means_)
    paths: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    _scatter_by_label(ax, X, y_true, colours, [f"blob {i}" for i in range(k)])
    _style_axes(ax, xlim, ylim)
    ax.set_title(f"Standardised make_blobs data (n={len(X)}), true labels")
    ax.legend(loc="best")
    paths["data"] = _save(fig, plt, out_dir / FIGURE_FILES["data"])

    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    for c in order:
        mask = gmm_labels == c
        ax.scatter(
            X[mask, 0],
            X[mask, 1],
            s=12,
            color=colours[gmm_map[c]],
            alpha=0.7,
            label=f"component {c} (weight {weights[c]:.2f})",
        )
    _plot_means(ax, means, "component means")
    _style_axes(ax, xlim, ylim)
    ax.set_title(f"GaussianMixture (full, {k} components): predicted clusters")
    ax.legend(loc="best")
    paths["gmm_clusters"] = _save(fig, plt, out_dir / FIGURE_FILES["gmm_clusters"])

    fig, (ax_km, ax_gmm) = plt.subplots(
        1, 2, figsize=(12, 6), sharex=True, sharey=True, layout="constrained"
    )
    _scatter_by_label(ax_km, X, km_col, colours, [f"cluster {i}" for i in range(k)])
    _scatter_by_label(ax_gmm, X, gmm_col, colours, [f"cluster {i}" for i in range(k)])
    _plot_means(ax_km, np.asarray(metrics["kmeans_centers"]), "centroids")
    _plot_means(ax_gmm, means, "means")
    for ax in (ax_km, ax_gmm):
        _style_axes(ax, xlim, ylim)
        ax.legend(loc="best", fontsize="small")
    ax_km.set_title(f"KMeans: ARI vs truth = {metrics['kmeans_ari']:.3f}")
    ax_gmm.set_title(f"GaussianMixture: ARI vs truth = {metrics['gmm_ari']:.3f}")
    fig.suptitle(f"KMeans vs GaussianMixture (ARI between them = {metrics['gmm_kmeans_ari']:.3f})")
    paths["kmeans_vs_gmm"] = _save(fig, plt, out_dir / FIGURE_FILES["kmeans_vs_gmm"])

    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    ax.scatter(X[:, 0], X[:, 1], s=6, color="0.55", alpha=0.6, label="data")
    # Heavier components are drawn more opaque, so the weights are visible at a glance.
    rel_weight = weights / weights.max()
    for c in order:
        cov = _component_covariance(gmm, int(c))
        colour = colours[gmm_map[c]]
        for n_std in SIGMA_LEVELS:
            width, height, angle = _ellipse_params(cov, n_std)
            ax.add_patch(
                Ellipse(
                    xy=(means[c, 0], means[c, 1]),
                    width=width,
                    height=height,
                    angle=angle,
                    facecolor=colour,
                    edgecolor=colour,
                    linewidth=1.5,
                    alpha=float(0.15 + 0.35 * rel_weight[c]) / n_std,
                    label=f"component {c} (weight {weights[c]:.2f}), 1/2/3 $\\sigma$"
                    if n_std == SIGMA_LEVELS[0]
                    else None,
                )
            )
    _plot_means(ax, means, "component means")
    _style_axes(ax, xlim, ylim)
    ax.set_title(f"GaussianMixture ({gmm.covariance_type}): 1-, 2- and 3-$\\sigma$ ellipses")
    ax.legend(loc="best", fontsize="small")
    paths["gmm_ellipses"] = _save(fig, plt, out_dir / FIGURE_FILES["gmm_ellipses"])
    return paths


def _format_report(metrics: dict[str, Any]) -> str:
    converged = "yes" if metrics["gmm_converged"] else "NO"
    rows = [
        ("GaussianMixture (full covariance, 3 components)", None),
        ("converged", f"{converged} (in {metrics['gmm_n_iter']} iterations)"),
        ("log-likelihood per sample", f"{metrics['gmm_log_likelihood']:.4f}"),
        ("AIC", f"{metrics['gmm_aic']:.2f}"),
        ("BIC", f"{metrics['gmm_bic']:.2f}"),
        ("silhouette score", f"{metrics['gmm_silhouette']:.4f}"),
        ("adjusted Rand index vs truth", f"{metrics['gmm_ari']:.4f}"),
        ("KMeans (3 clusters)", None),
        ("silhouette score", f"{metrics['kmeans_silhouette']:.4f}"),
        ("adjusted Rand index vs truth", f"{metrics['kmeans_ari']:.4f}"),
        ("Agreement", None),
        ("adjusted Rand index GMM vs KMeans", f"{metrics['gmm_kmeans_ari']:.4f}"),
    ]
    width = max(len(name) for name, value in rows if value is not None)
    lines = [
        f"gaussmix demo: make_blobs(n_samples={N_SAMPLES}, centers={N_CLUSTERS}, "
        f"cluster_std={CLUSTER_STD}), standardised",
    ]
    for name, value in rows:
        if value is None:
            lines.extend(["", name])
        else:
            lines.append(f"  {name:<{width}}  {value}")
    return "\n".join(lines)


def run_demo(
    out_dir: str | os.PathLike[str] = "demo_output", *, make_figures: bool = True
) -> dict[str, Any]:
    """Fit a Gaussian mixture and k-means to three blobs, print the metrics, save figures.

    Parameters
    ----------
    out_dir : str or os.PathLike, default "demo_output"
        Directory for the PNG figures; created if needed (only when figures are made).
    make_figures : bool, default True
        Draw and save ``data.png``, ``gmm_clusters.png``, ``kmeans_vs_gmm.png`` and
        ``gmm_ellipses.png``. Needs matplotlib.

    Returns
    -------
    dict
        ``"metrics"``: a dict with ``gmm_silhouette``, ``gmm_aic``, ``gmm_bic``,
        ``gmm_log_likelihood`` (mean per sample), ``gmm_converged``, ``gmm_n_iter``,
        ``gmm_ari`` (vs the true labels), ``kmeans_silhouette``, ``kmeans_ari`` and
        ``gmm_kmeans_ari``; ``"figures"``: figure name to :class:`pathlib.Path`
        (empty without figures); ``"out_dir"``: the output directory as a Path;
        ``"estimator"``: the fitted GaussianMixture; ``"X"``: the standardised data.

    Raises
    ------
    ImportError
        If ``make_figures`` is true and matplotlib is not installed.
    """
    out_path = Path(out_dir)
    X_raw, y_true = make_blobs(
        n_samples=N_SAMPLES, centers=N_CLUSTERS, cluster_std=CLUSTER_STD, random_state=DATA_SEED
    )
    X = StandardScaler().fit_transform(X_raw)

    gmm = GaussianMixture(n_components=N_CLUSTERS, covariance_type="full", random_state=MODEL_SEED)
    gmm.fit(X)
    gmm_labels = gmm.predict(X)
    km = KMeans(n_clusters=N_CLUSTERS, random_state=MODEL_SEED, n_init="auto")
    km_labels = km.fit_predict(X)

    metrics: dict[str, Any] = {
        "gmm_silhouette": float(silhouette_score(X, gmm_labels)),
        "gmm_aic": float(gmm.aic(X)),
        "gmm_bic": float(gmm.bic(X)),
        "gmm_log_likelihood": float(gmm.score(X)),
        "gmm_converged": bool(gmm.converged_),
        "gmm_n_iter": int(gmm.n_iter_),
        "gmm_ari": float(adjusted_rand_score(y_true, gmm_labels)),
        "kmeans_silhouette": float(silhouette_score(X, km_labels)),
        "kmeans_ari": float(adjusted_rand_score(y_true, km_labels)),
        "gmm_kmeans_ari": float(adjusted_rand_score(gmm_labels, km_labels)),
    }
    print(_format_report(metrics))

    figures: dict[str, Path] = {}
    if make_figures:
        plot_info = {**metrics, "kmeans_centers": km.cluster_centers_}
        figures = _draw_figures(out_path, X, y_true, gmm, gmm_labels, km_labels, plot_info)

    print()
    print(f"Output directory: {out_path.resolve()}")
    if figures:
        for path in figures.values():
            print(f"  wrote {path}")
    else:
        print("  no files written (figures disabled)")
    return {
        "metrics": metrics,
        "figures": figures,
        "out_dir": out_path,
        "estimator": gmm,
        "X": X,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m gaussmix.demo [--out DIR] [--no-figures]``."""
    parser = argparse.ArgumentParser(
        prog="python -m gaussmix.demo",
        description="Fit a 3-component GaussianMixture and KMeans to three blobs; "
        "print the metrics and save PNG figures.",
    )
    parser.add_argument(
        "--out",
        default="demo_output",
        metavar="DIR",
        help="directory for the figures (default: %(default)s)",
    )
    parser.add_argument(
        "--no-figures", action="store_true", help="print the metrics only; skip matplotlib"
    )
    args = parser.parse_args(argv)
    run_demo(args.out, make_figures=not args.no_figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
