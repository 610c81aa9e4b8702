"""Tests for the ``python -m gaussmix.demo`` workflow."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gaussmix import demo
from report_html import image_bytes, parse, table_body

FIGURES = ("data", "gmm_clusters", "kmeans_vs_gmm", "gmm_ellipses")
REPORT_FIGURES = ("clusters", "density", "uncertainty", "selection", "comparison")


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory):
    return demo.run_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def images(demo_result):
    import matplotlib.image as mpimg

    return {name: mpimg.imread(demo_result["figures"][name]) for name in FIGURES}


# --- figures -----------------------------------------------------------------------------


def test_all_four_pngs_written(demo_result):
    out_dir = demo_result["out_dir"]
    assert set(demo_result["figures"]) == set(FIGURES)
    for name in FIGURES:
        path = demo_result["figures"][name]
        assert path == out_dir / f"{name}.png"
        assert path.is_file()
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", FIGURES)
def test_png_has_real_content(images, name):
    img = images[name]
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    rgb = img[..., :3]
    # A blank or single-colour canvas has tiny spread and only a handful of colours.
    assert rgb.std() > 0.05
    n_colours = len(np.unique((rgb * 255).round().astype(np.uint8).reshape(-1, 3), axis=0))
    assert n_colours > 100
    # The clusters are drawn in colour, not just black axes and text on white.
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    assert (saturation > 0.3).sum() > 2_000


def test_figure_sizes(images):
    h, w = images["kmeans_vs_gmm"].shape[:2]
    assert 1.8 < w / h < 2.2
    for name in ("data", "gmm_clusters", "gmm_ellipses"):
        h, w = images[name].shape[:2]
        assert 0.8 < w / h < 1.4
        assert min(h, w) >= 400


def test_ellipses_figure_differs_from_clusters_figure(images):
    ellipses, clusters = images["gmm_ellipses"][..., :3], images["gmm_clusters"][..., :3]
    assert ellipses.shape == clusters.shape
    changed = np.abs(ellipses - clusters).max(axis=2) > 0.1
    assert changed.mean() > 0.2

    # Filled ellipses tint a large area that is white background in the cluster plot.
    def tinted(rgb):
        return ((rgb.max(axis=2) - rgb.min(axis=2)) > 0.1).mean()

    assert tinted(ellipses) > 0.1
    assert tinted(ellipses) > 3 * tinted(clusters)


def test_side_by_side_panels_both_coloured(images):
    rgb = images["kmeans_vs_gmm"][..., :3]
    half = rgb.shape[1] // 2
    for panel in (rgb[:, :half], rgb[:, half:]):
        saturation = panel.max(axis=2) - panel.min(axis=2)
        assert (saturation > 0.3).sum() > 1_000


# --- report ------------------------------------------------------------------------------


def test_report_written_beside_the_figures(demo_result):
    path = demo_result["report"]
    assert path == demo_result["out_dir"] / "report.html"
    page = parse(path.read_text(encoding="utf-8"))
    assert page.errors == []
    figures = sorted(i.removeprefix("figure-") for i in page.ids if i.startswith("figure-"))
    assert figures == sorted(REPORT_FIGURES)
    for img in page.images:
        png = image_bytes(img)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    selection = demo_result["selection"]
    assert len(table_body(page, "selection-table")) == len(selection.table)
    best = selection.best_params_
    assert best["n_components"] == 3
    assert f"{best['covariance_type']} with 3 components has the lowest BIC" in page.text


# --- metrics -----------------------------------------------------------------------------


def test_metrics(demo_result):
    m = demo_result["metrics"]
    assert m["gmm_ari"] > 0.95
    assert m["kmeans_ari"] > 0.95
    assert m["gmm_kmeans_ari"] > 0.9
    assert 0.5 < m["gmm_silhouette"] < 1.0
    assert 0.5 < m["kmeans_silhouette"] < 1.0
    assert np.isfinite(m["gmm_aic"]) and np.isfinite(m["gmm_bic"])
    # BIC - AIC = p (log n - 2) > 0 for n = 500 and p = 17 free parameters.
    n_params = 3 * 2 + 3 * 3 + (3 - 1)  # means + full covariances + free weights
    assert m["gmm_bic"] - m["gmm_aic"] == pytest.approx(n_params * (np.log(500) - 2), rel=1e-6)
    assert m["gmm_bic"] > m["gmm_aic"]
    assert np.isfinite(m["gmm_log_likelihood"])
    # AIC = 2p - 2 n loglik, so the printed per-sample log-likelihood must agree with it.
    assert m["gmm_aic"] == pytest.approx(2 * n_params - 2 * 500 * m["gmm_log_likelihood"])
    assert m["gmm_converged"] is True
    assert isinstance(m["gmm_n_iter"], int) and m["gmm_n_iter"] >= 1


def test_no_figures_writes_nothing(tmp_path):
    out = tmp_path / "never_created"
    result = demo.run_demo(out, make_figures=False)
    assert result["figures"] == {}
    assert result["report"] is None and result["selection"] is None
    assert not out.exists()
    assert result["metrics"]["gmm_ari"] > 0.95


def test_main_prints_metrics(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    for label in (
        "silhouette score",
        "AIC",
        "BIC",
        "log-likelihood per sample",
        "converged",
        "adjusted Rand index vs truth",
        "adjusted Rand index GMM vs KMeans",
        "KMeans",
        str(tmp_path.resolve()),
    ):
        assert label in out
    assert "yes (in " in out
    assert list(tmp_path.iterdir()) == []


def test_main_writes_figures_and_report(tmp_path, capsys):
    demo.main(["--out", str(tmp_path / "figs")])
    out = capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert written == sorted([*(f"{name}.png" for name in FIGURES), "report.html"])
    for name in written:
        assert name in out
    # It ends by saying where the figures and the report are.
    last = out.strip().splitlines()[-2:]
    assert last[0].startswith(f"Figures: {tmp_path / 'figs'}")
    assert last[1] == f"Report:  {tmp_path / 'figs' / 'report.html'}"
    assert "Best model by BIC:" in out


def test_missing_matplotlib_gives_install_hint(monkeypatch, tmp_path):
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"gaussmix\[plots\]"):
        demo.run_demo(tmp_path)


def test_importing_gaussmix_does_not_import_matplotlib():
    import subprocess

    code = "import sys, gaussmix.demo; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
