"""The classic Gaussian-mixture workflow, end to end.

Three well-separated blobs are standardised, clustered by a 3-component
full-covariance :class:`gaussmix.GaussianMixture` and by k-means, scored against
the true labels, and drawn as PNG figures. A small model selection
(:func:`gaussmix.select_model`) then picks the number of components and the
covariance model by BIC, and its HTML report (:mod:`gaussmix.report`) is written
beside the figures.

Run it as::

    python -m gaussmix.demo --out demo_output          # metrics, figures, report
    python -m gaussmix.demo --out demo_output --no-figures

matplotlib is imported only when figures are drawn, so ``import gaussmix`` (and
``--no-figures``, which also skips the selection and the report) work without
the ``plots`` extra.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from ._mixture import GaussianMixture
from ._selection import select_model

__all__ = ["main", "run_demo"]

N_SAMPLES = 500
N_CLUSTERS = 3
CLUSTER_STD = 0.6
DATA_SEED = 0
MODEL_SEED = 42
SIGMA_LEVELS = (1, 2, 3)
DPI = 100
# The selection tries every covariance model gaussmix has with 1 to 5 components.
SELECTION_COMPONENTS = range(1, 6)
REPORT_FILE = "report.html"

FIGURE_FILES = {
    "data": "data.png",
    "gmm_clusters": "gmm_clusters.png",
    "kmeans_vs_gmm": "kmeans_vs_gmm.png",
    "gmm_ellipses": "gmm_ellipses.png",
}

_XLABEL = "feature 1 (standardised)"
_YLABEL = "feature 2 (standardised)"


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


def _style_axes(ax: Any, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    # Standardised features share one unit, and equal scaling keeps ellipse angles true.
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(_XLABEL)
    ax.set_ylabel(_YLABEL)
    ax.grid(True, alpha=0.3)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _draw_figures(
    out_dir: Path,
    X: np.ndarray,
    y_true: np.ndarray,
    gmm: Any,
    km: Any,
) -> dict[str, Path]:
    plt = _pyplot()
    from gaussmix.plot import ClusterDisplay, ComparisonDisplay, match_labels

    out_dir.mkdir(parents=True, exist_ok=True)
    k = N_CLUSTERS
    xlim, ylim = _limits(X)
    # Cluster ids are arbitrary: colour each component like the true blob it matches,
    # so the same blob has the same colour in every figure.
    blob_of_component = match_labels(gmm.predict(X), y_true, k, k)
    colours = [f"C{blob}" for blob in blob_of_component]
    paths: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    for blob in range(k):
        mask = y_true == blob
        ax.scatter(X[mask, 0], X[mask, 1], s=12, color=f"C{blob}", alpha=0.7, label=f"blob {blob}")
    _style_axes(ax, xlim, ylim)
    ax.set_title(f"Standardised make_blobs data (n={len(X)}), true labels")
    ax.legend(loc="best")
    paths["data"] = _save(fig, plt, out_dir / FIGURE_FILES["data"])

    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    ClusterDisplay.from_estimator(gmm, X, levels=(), ax=ax, colors=colours)
    _style_axes(ax, xlim, ylim)
    ax.set_title(f"GaussianMixture (full, {k} components): predicted clusters")
    paths["gmm_clusters"] = _save(fig, plt, out_dir / FIGURE_FILES["gmm_clusters"])

    fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharex=True, sharey=True, layout="constrained")
    ComparisonDisplay.from_estimator(
        gmm, X, kmeans=km, y=y_true, levels=(), axes=axes, colors=colours
    )
    for ax in axes:
        _style_axes(ax, xlim, ylim)
    fig.suptitle("GaussianMixture vs KMeans, clusters matched in colour")
    paths["kmeans_vs_gmm"] = _save(fig, plt, out_dir / FIGURE_FILES["kmeans_vs_gmm"])

    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    # Stronger fills than the display's default: the ellipses are this figure's subject.
    ClusterDisplay.from_estimator(
        gmm, X, levels=SIGMA_LEVELS, ax=ax, colors=colours, fill_alpha=0.5
    )
    _style_axes(ax, xlim, ylim)
    ax.set_title(f"GaussianMixture ({gmm.covariance_type}): 1-, 2- and 3-$\\sigma$ ellipses")
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
    """Fit a Gaussian mixture and k-means to three blobs; print metrics, save figures and a report.

    Parameters
    ----------
    out_dir : str or os.PathLike, default "demo_output"
        Directory for the PNG figures; created if needed (only when figures are made).
    make_figures : bool, default True
        Draw and save ``data.png``, ``gmm_clusters.png``, ``kmeans_vs_gmm.png`` and
        ``gmm_ellipses.png``, run a model selection over every covariance model with
        1 to 5 components, and write its HTML report ``report.html``. Needs matplotlib.

    Returns
    -------
    dict
        ``"metrics"``: a dict with ``gmm_silhouette``, ``gmm_aic``, ``gmm_bic``,
        ``gmm_log_likelihood`` (mean per sample), ``gmm_converged``, ``gmm_n_iter``,
        ``gmm_ari`` (vs the true labels), ``kmeans_silhouette``, ``kmeans_ari`` and
        ``gmm_kmeans_ari``; ``"figures"``: figure name to :class:`pathlib.Path`
        (empty without figures); ``"out_dir"``: the output directory as a Path;
        ``"estimator"``: the fitted GaussianMixture; ``"X"``: the standardised data.
        ``"selection"``: the :class:`gaussmix.ModelSelection` and ``"report"``: the
        report's Path (both None without figures).

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
    selection = None
    report = None
    if make_figures:
        figures = _draw_figures(out_path, X, y_true, gmm, km)
        selection = select_model(X, SELECTION_COMPONENTS, random_state=MODEL_SEED)
        print()
        print(selection.summary())
        from gaussmix.report import write_report

        report = write_report(
            out_path / REPORT_FILE,
            selection.best_estimator_,
            X,
            selection=selection,
            title="gaussmix demo: three standardised blobs",
        )

    print()
    print(f"Output directory: {out_path.resolve()}")
    if figures:
        names = ", ".join(path.name for path in figures.values())
        print(f"Figures: {out_path}{os.sep} ({names})")
        print(f"Report:  {report}")
    else:
        print("  no files written (figures disabled)")
    return {
        "metrics": metrics,
        "figures": figures,
        "out_dir": out_path,
        "estimator": gmm,
        "X": X,
        "selection": selection,
        "report": report,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m gaussmix.demo [--out DIR] [--no-figures]``."""
    parser = argparse.ArgumentParser(
        prog="python -m gaussmix.demo",
        description="Fit a 3-component GaussianMixture and KMeans to three blobs; "
        "print the metrics, save PNG figures and write an HTML report of a model selection.",
    )
    parser.add_argument(
        "--out",
        default="demo_output",
        metavar="DIR",
        help="directory for the figures and the report (default: %(default)s)",
    )
    parser.add_argument(
        "--no-figures",
        action="store_true",
        help="print the metrics only; no figures, no report, no matplotlib",
    )
    args = parser.parse_args(argv)
    run_demo(args.out, make_figures=not args.no_figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
