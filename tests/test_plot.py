"""Tests for ``gaussmix.plot``: what the figures show, checked on the artists and the pixels."""

from __future__ import annotations

import dataclasses
import importlib
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402

import gaussmix  # noqa: E402
from conftest import COVARIANCE_TYPES, mixture_data  # noqa: E402
from gaussmix import GaussianMixture, InvalidParameterError  # noqa: E402
from gaussmix.plot import (  # noqa: E402
    ClusterDisplay,
    ComparisonDisplay,
    DensityDisplay,
    PairsDisplay,
    SelectionDisplay,
    UncertaintyDisplay,
    ellipse_geometry,
    make_projection,
    match_labels,
)
from gaussmix.plot._base import mixture_covariances  # noqa: E402

# Three separated blobs with different shapes and weights: every component has
# its own orientation, so an ellipse drawn with the wrong covariance shows.
CENTRES = np.array([[0.0, 0.0], [9.0, 1.0], [3.0, 9.0]])
SHAPES = np.array([[[2.0, 1.2], [1.2, 1.0]], [[0.6, -0.3], [-0.3, 1.5]], [[1.0, 0.0], [0.0, 0.3]]])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    counts = (250, 150, 100)
    X = np.vstack(
        [
            rng.multivariate_normal(c, s, size=n)
            for c, s, n in zip(CENTRES, SHAPES, counts, strict=True)
        ]
    )
    y = np.repeat(np.arange(3), counts)
    return X, y


@pytest.fixture(scope="module")
def gm2(blobs):
    return GaussianMixture(3, random_state=0).fit(blobs[0])


@pytest.fixture(scope="module")
def data4():
    X, _ = mixture_data(600, 4, 3, seed=3)
    return X


@pytest.fixture(scope="module")
def gm4(data4):
    return GaussianMixture(3, random_state=0).fit(data4)


def render(fig) -> np.ndarray:
    """The figure as an (H, W, 4) uint8 RGBA array."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def pixel(image: np.ndarray, ax, xy) -> np.ndarray:
    """RGB (0-1) of the pixel under data point ``xy`` of ``ax``."""
    x, y = ax.transData.transform(np.asarray(xy, dtype=float))
    # Display coordinates start at the bottom left; image rows at the top.
    return image[int(image.shape[0] - y), int(x), :3] / 255.0


def ellipse_points(patch) -> np.ndarray:
    """Points on a drawn ellipse, in data coordinates (the Bezier knots, not controls)."""
    verts = patch.get_patch_transform().transform(patch.get_path().vertices)
    return verts[:-1:3]


def mahalanobis(points, mean, cov) -> np.ndarray:
    diff = points - mean
    return np.sqrt(np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff))


def component_covariance_from_precisions(est, k) -> np.ndarray:
    """Component k's covariance from ``precisions_``, independently of ``covariances_``."""
    prec = np.asarray(est.precisions_, dtype=float)
    n_features = est.means_.shape[1]
    p = {
        "full": lambda: prec[k],
        "tied": lambda: prec,
        "diag": lambda: np.diag(prec[k]),
        "spherical": lambda: prec[k] * np.eye(n_features),
    }[est.covariance_type]()
    return np.linalg.inv(p)


# --- the package -------------------------------------------------------------------------


def test_missing_matplotlib_gives_install_hint(monkeypatch):
    for name in [m for m in sys.modules if m == "gaussmix.plot" or m.startswith("gaussmix.plot.")]:
        monkeypatch.delitem(sys.modules, name)
    # A None entry makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "gaussmix\[plots\]"'):
        importlib.import_module("gaussmix.plot")


# --- cluster ellipses --------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_ellipses_lie_at_their_mahalanobis_distance(blobs, covariance_type):
    X, _ = blobs
    est = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    display = ClusterDisplay.from_estimator(est, X)
    assert len(display.ellipses_) == 3
    for k, row in enumerate(display.ellipses_):
        cov = component_covariance_from_precisions(est, k)
        assert len(row) == 3
        for radius, patch in zip((1, 2, 3), row, strict=True):
            np.testing.assert_allclose(patch.center, est.means_[k], rtol=1e-12)
            distance = mahalanobis(ellipse_points(patch), est.means_[k], cov)
            np.testing.assert_allclose(distance, radius, rtol=1e-6)


@pytest.mark.parametrize("radius", [1, 2, 3])
@pytest.mark.parametrize("theta_deg", [0.0, 30.0, 100.0, -45.0])
def test_ellipse_geometry_of_a_known_covariance(radius, theta_deg):
    theta = np.radians(theta_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cov = rot @ np.diag([4.0, 0.25]) @ rot.T
    width, height, angle = ellipse_geometry(cov, radius)
    assert (width, height) == pytest.approx((4.0 * radius, 1.0 * radius))
    # The leading eigenvector's sign is arbitrary: the angle is defined modulo 180.
    assert min((angle - theta_deg) % 180.0, -(angle - theta_deg) % 180.0) == pytest.approx(
        0.0, abs=1e-9
    )
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        ellipse_geometry(np.eye(3), radius)


def test_full_covariances_are_copies_for_every_type(blobs):
    for covariance_type in COVARIANCE_TYPES:
        est = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(blobs[0])
        before = np.array(est.covariances_, copy=True)
        full = mixture_covariances(est)
        assert full.shape == (3, 2, 2)
        for k in range(3):
            np.testing.assert_allclose(full[k], component_covariance_from_precisions(est, k))
        full[:] = 0.0
        np.testing.assert_array_equal(est.covariances_, before)


def test_mass_levels_enclose_that_fraction_of_the_component(gm2):
    display = ClusterDisplay.from_estimator(
        gm2, np.zeros((1, 2)), levels=(0.5, 0.9), level_type="mass", show_points=False
    )
    samples, labels = gm2.sample(40_000)
    for k, row in enumerate(display.ellipses_):
        inside = samples[labels == k]
        for mass, patch in zip((0.5, 0.9), row, strict=True):
            # Is each sample inside the drawn patch (the artist's own geometry)?
            path = patch.get_patch_transform().transform_path(patch.get_path())
            share = path.contains_points(inside).mean()
            assert share == pytest.approx(mass, abs=0.015)


def test_ellipse_opacity_is_proportional_to_weight(gm2, blobs):
    display = ClusterDisplay.from_estimator(gm2, blobs[0])
    fill = np.array([row[0].get_facecolor()[3] for row in display.ellipses_])
    np.testing.assert_allclose(fill / fill.max(), gm2.weights_ / gm2.weights_.max(), rtol=1e-9)
    assert fill.max() == pytest.approx(0.25 / 3)
    outlines = ClusterDisplay.from_estimator(gm2, blobs[0], fill_alpha=0.0)
    assert all(row[0].get_facecolor()[3] == 0.0 for row in outlines.ellipses_)
    with pytest.raises(InvalidParameterError, match="fill_alpha"):
        ClusterDisplay.from_estimator(gm2, blobs[0], fill_alpha=2.0)
    edge = np.array([row[0].get_edgecolor()[3] for row in display.ellipses_])
    assert np.all(np.diff(edge[np.argsort(gm2.weights_)]) >= 0)


def test_cluster_pixels_show_component_colours(gm2, blobs):
    X, _ = blobs
    display = ClusterDisplay.from_estimator(gm2, X, legend=False)
    image = render(display.figure_)
    for k in range(3):
        # The mean's marker is filled with the component's own colour.
        expected = np.array(to_rgba(f"C{k}")[:3])
        np.testing.assert_allclose(pixel(image, display.ax_, gm2.means_[k]), expected, atol=0.02)
        np.testing.assert_allclose(display.colors_[k], to_rgba(f"C{k}"))
    # Far outside every 3-sigma ellipse, the axes stay white.
    corner = [X[:, 0].min(), X[:, 1].max()]
    np.testing.assert_allclose(pixel(image, display.ax_, corner), 1.0, atol=0.02)
    # Points are grouped by predicted component.
    labels = gm2.predict(X)
    for k, scatter in enumerate(display.scatter_):
        np.testing.assert_allclose(scatter.get_offsets(), X[labels == k])
        assert to_rgba(scatter.get_facecolor()[0])[:3] == pytest.approx(to_rgba(f"C{k}")[:3])


def test_cluster_display_uses_given_axes_and_keeps_its_labels(gm2, blobs):
    fig, ax = plt.subplots()
    ax.set_xlabel("mine")
    display = ClusterDisplay.from_estimator(gm2, blobs[0], ax=ax, levels=())
    assert display.ax_ is ax and display.figure_ is fig
    assert ax.get_xlabel() == "mine" and ax.get_ylabel() == "feature 1"
    assert display.ellipses_ == [[], [], []]
    # The constructor alone draws from precomputed values.
    again = ClusterDisplay(
        means=display.means, covariances=display.covariances, weights=display.weights
    ).plot()
    assert len(again.ellipses_[0]) == 3 and again.scatter_ == []
    assert again.legend_.get_texts()[0].get_text().startswith("component 0")
    bare = ClusterDisplay(
        means=display.means, covariances=display.covariances, weights=display.weights, radii=()
    ).plot(legend=True)
    assert bare.legend_ is None and bare.ellipses_ == [[], [], []]


# --- projection --------------------------------------------------------------------------


def test_pca_projection_matches_scikit_learn(data4):
    view = make_projection(None, data4)
    pca = PCA(2).fit(data4)
    assert view.kind == "pca"
    # The same axes up to sign, and the same scores with that sign.
    signs = np.sign(np.sum(view.matrix * pca.components_.T, axis=0))
    np.testing.assert_allclose(view.matrix, pca.components_.T * signs, atol=1e-10)
    np.testing.assert_allclose(view.transform(data4), pca.transform(data4) * signs, atol=1e-9)
    np.testing.assert_allclose(view.explained_variance_ratio, pca.explained_variance_ratio_)
    assert view.labels == tuple(
        f"PC{i + 1} ({100 * r:.0f}% var)" for i, r in enumerate(pca.explained_variance_ratio_)
    )


@pytest.mark.parametrize("projection", ["pca", (3, 1), "matrix"])
def test_projected_ellipses_match_projected_samples(gm4, data4, projection):
    if projection == "matrix":
        projection = np.random.default_rng(5).normal(size=(4, 2))
    display = ClusterDisplay.from_estimator(gm4, data4, projection=projection)
    view = display.projection
    # Independent of the formula: the empirical distribution of projected draws.
    samples, labels = gm4.sample(300_000)
    projected = view.transform(samples)
    for k, row in enumerate(display.ellipses_):
        z = projected[labels == k]
        mean, cov = z.mean(axis=0), np.cov(z.T)
        scale = np.sqrt(np.diag(cov))
        np.testing.assert_allclose(display.means[k], mean, atol=0.02 * scale.max())
        np.testing.assert_allclose(
            display.covariances[k], cov, atol=0.02 * scale.max() ** 2, rtol=0.02
        )
        for radius, patch in zip((1, 2, 3), row, strict=True):
            distance = mahalanobis(ellipse_points(patch), mean, cov)
            np.testing.assert_allclose(distance, radius, rtol=0.03)


def test_feature_pair_axes_are_named(data4):
    import pandas as pd

    frame = pd.DataFrame(data4, columns=["a", "b", "c", "d"])
    est = GaussianMixture(2, covariance_type="diag", random_state=0).fit(frame)
    display = ClusterDisplay.from_estimator(est, frame, projection=("d", "b"))
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == ("d", "b")
    labels = est.predict(frame)
    np.testing.assert_allclose(display.scatter_[0].get_offsets(), data4[labels == 0][:, [3, 1]])
    np.testing.assert_allclose(display.means, est.means_[:, [3, 1]])
    with pytest.raises(InvalidParameterError, match="'e'"):
        ClusterDisplay.from_estimator(est, frame, projection=("a", "e"))


@pytest.mark.parametrize(
    ("projection", "match"),
    [
        ("tsne", "pca"),
        ((0, 0), "two different"),
        ((0, 4), "out of range"),
        (("a", "b"), "no feature names"),
        ((0.5, 1), "integers or names"),
        ((True, 1), "integers or names"),
        (np.ones((3, 2)), "shape"),
        (np.ones((4, 2)), "rank 2"),
        (np.full((4, 2), np.nan), "NaN"),
        (np.zeros((4, 2, 1)), "projection must be"),
        (3, "projection must be"),
    ],
)
def test_bad_projection_is_refused(gm4, data4, projection, match):
    with pytest.raises(InvalidParameterError, match=match):
        ClusterDisplay.from_estimator(gm4, data4, projection=projection)


# --- density -----------------------------------------------------------------------------


def test_heatmap_is_score_samples_on_the_grid(gm2, blobs):
    display = DensityDisplay.from_estimator(gm2, blobs[0], grid_resolution=40)
    grid = np.column_stack([display.xx.ravel(), display.yy.ravel()])
    expected = gm2.score_samples(grid).reshape(display.xx.shape)
    np.testing.assert_allclose(display.log_density, expected, rtol=1e-10)
    np.testing.assert_allclose(display.heatmap_.get_array().reshape(expected.shape), expected)
    # The projected-mixture route (taken for any non-identity view) agrees with it.
    rotated = DensityDisplay.from_estimator(
        gm2, blobs[0], projection=np.eye(2), grid_resolution=40
    )
    np.testing.assert_allclose(rotated.log_density, expected, rtol=1e-10, atol=1e-10)


def test_brightest_heatmap_cell_is_at_the_highest_density_mean(gm2, blobs):
    display = DensityDisplay.from_estimator(
        gm2,
        blobs[0],
        kind="heatmap",
        show_points=False,
        show_means=False,
        colorbar=False,
        grid_resolution=120,
    )
    peaks = gm2.weights_ / np.sqrt(np.linalg.det(gm2.covariances_))
    top = gm2.means_[np.argmax(peaks)]
    values = display.heatmap_.get_array().reshape(display.xx.shape)
    row, col = np.unravel_index(np.argmax(values), values.shape)
    step = np.array([display.xx[0, 1] - display.xx[0, 0], display.yy[1, 0] - display.yy[0, 0]])
    cell = np.array([display.xx[row, col], display.yy[row, col]])
    assert np.all(np.abs(cell - top) <= 1.5 * step)
    # In the rendered image, the most yellow (brightest viridis) pixel is there too.
    image = render(display.figure_)
    bbox = display.ax_.get_window_extent()
    h = image.shape[0]
    crop = image[int(h - bbox.y1) + 2 : int(h - bbox.y0) - 2, int(bbox.x0) + 2 : int(bbox.x1) - 2]
    brightness = crop[..., :3].astype(float).sum(axis=2)
    # Colours are quantised to bytes, so the top colour covers a patch: take its centre.
    rows, cols = np.nonzero(brightness == brightness.max())
    x_px, y_px = display.ax_.transData.transform(top)
    assert abs(bbox.x0 + 2 + cols.mean() - x_px) < 5
    assert abs(h - bbox.y1 + 2 + rows.mean() - (h - y_px)) < 5


def test_projected_density_matches_projected_samples(gm4, data4):
    display = DensityDisplay.from_estimator(gm4, data4, grid_resolution=60, kind="contour")
    assert display.contour_ is not None and display.heatmap_ is None
    view = display.projection
    # Independent of the formula: a histogram of projected draws from the model.
    samples, _ = gm4.sample(400_000)
    z = view.transform(samples)
    x_edges = np.linspace(display.xx.min(), display.xx.max(), 16)
    y_edges = np.linspace(display.yy.min(), display.yy.max(), 16)
    counts, _, _ = np.histogram2d(z[:, 0], z[:, 1], bins=[x_edges, y_edges])
    # The model's probability of each bin: its density averaged on a 10 x 10 sub-grid.
    sub = (np.arange(10) + 0.5) / 10
    fine_x = (x_edges[:-1, None] + np.diff(x_edges)[:, None] * sub).ravel()
    fine_y = (y_edges[:-1, None] + np.diff(y_edges)[:, None] * sub).ravel()
    fx, fy = np.meshgrid(fine_x, fine_y, indexing="ij")
    density = np.exp(
        view.project_mixture(gm4).log_density(np.column_stack([fx.ravel(), fy.ravel()]))
    )
    mean_density = density.reshape(15, 10, 15, 10).mean(axis=(1, 3))
    area = np.diff(x_edges)[0] * np.diff(y_edges)[0]
    dense = counts > 2000
    assert dense.sum() > 10
    np.testing.assert_allclose(counts[dense] / len(z), mean_density[dense] * area, rtol=0.08)
    # The drawn contour levels are levels of that density.
    assert len(display.contour_.levels) == 10
    assert display.contour_.levels.max() < display.log_density.max()


# --- selection ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selection(blobs):
    return gaussmix.select_model(
        blobs[0], range(1, 5), ["VII", "VVI", "EEE", "VVV"], random_state=0
    )


def test_selection_curves_come_from_the_table(selection):
    display = SelectionDisplay.from_selection(selection)
    table = selection.table
    assert set(display.lines_) == {"VII", "VVI", "EEE", "VVV"}
    for name, line in display.lines_.items():
        rows = table[table["covariance_type"] == name].sort_values("n_components")
        np.testing.assert_array_equal(line.get_xdata(), rows["n_components"])
        np.testing.assert_allclose(line.get_ydata(), rows["bic"])
    best = selection.best_params_
    assert display.best == (best["n_components"], best["covariance_type"])
    x, y = display.best_marker_.get_xdata()[0], display.best_marker_.get_ydata()[0]
    cell = table[
        (table["n_components"] == best["n_components"])
        & (table["covariance_type"] == best["covariance_type"])
    ]
    assert x == best["n_components"] and y == pytest.approx(cell["bic"].item())
    assert y == pytest.approx(np.nanmin([line.get_ydata() for line in display.lines_.values()]))
    # The black ring is drawn there.
    image = render(display.figure_)
    cx, cy = display.ax_.transData.transform((x, y))
    h = image.shape[0]
    window = image[int(h - cy) - 14 : int(h - cy) + 15, int(cx) - 14 : int(cx) + 15, :3]
    assert (window.max(axis=2) < 60).sum() > 30


def test_selection_mclust_sign_marks_the_maximum(selection):
    display = SelectionDisplay.from_selection(selection, sign="mclust")
    table = selection.table
    for name, line in display.lines_.items():
        rows = table[table["covariance_type"] == name].sort_values("n_components")
        np.testing.assert_allclose(line.get_ydata(), rows["bic_mclust"])
    y = display.best_marker_.get_ydata()[0]
    assert y == pytest.approx(np.nanmax([line.get_ydata() for line in display.lines_.values()]))
    assert "higher is better" in display.ax_.get_ylabel()
    aic = SelectionDisplay.from_selection(selection, "aic", sign="mclust")
    best = aic.best
    row = table[(table["n_components"] == best[0]) & (table["covariance_type"] == best[1])]
    assert aic.best_marker_.get_ydata()[0] == pytest.approx(-row["aic"].item())
    assert -row["aic"].item() == pytest.approx(-table["aic"].min())


def test_selection_other_criterion_marks_its_own_best(selection):
    display = SelectionDisplay.from_selection(selection, "icl", models=["full", "VII"])
    assert set(display.lines_) == {"VVV", "VII"}
    table = selection.table[selection.table["covariance_type"].isin(["VVV", "VII"])]
    best = table.loc[table["icl"].idxmin()]
    assert display.best == (best["n_components"], best["covariance_type"])
    assert display.best_marker_.get_ydata()[0] == pytest.approx(best["icl"])
    with pytest.raises(InvalidParameterError, match="covariance_type must be one of"):
        SelectionDisplay.from_selection(selection, models=["VVV", "x"])
    table = selection.table
    partial = dataclasses.replace(selection, table=table[table["covariance_type"] != "VII"])
    with pytest.raises(InvalidParameterError, match=r"\['VII'\] are not in the selection"):
        SelectionDisplay.from_selection(partial, models=["full", "spherical"])


def test_failed_cells_are_gaps(selection):
    table = selection.table.copy()
    best = selection.best_params_
    failed = (table["n_components"] == best["n_components"]) & (
        table["covariance_type"] == best["covariance_type"]
    )
    numeric = ["log_likelihood", "n_parameters", "bic", "bic_mclust", "icl", "icl_mclust", "aic"]
    table.loc[failed, numeric] = np.nan
    table.loc[failed, "error"] = "LinAlgError: singular"
    broken = dataclasses.replace(selection, table=table)
    display = SelectionDisplay.from_selection(broken)
    ydata = display.lines_[best["covariance_type"]].get_ydata()
    assert np.isnan(ydata[best["n_components"] - 1])
    assert np.isfinite(np.delete(ydata, best["n_components"] - 1)).all()
    # The mark moves to the best cell that did not fail.
    ok = table[table["error"] == ""]
    runner_up = ok.loc[ok["bic"].idxmin()]
    assert display.best == (runner_up["n_components"], runner_up["covariance_type"])


def test_selection_rejects_bad_options(selection):
    with pytest.raises(InvalidParameterError, match="criterion"):
        SelectionDisplay.from_selection(selection, "loglik")
    with pytest.raises(InvalidParameterError, match="sign"):
        SelectionDisplay.from_selection(selection, sign="R")


# --- comparison --------------------------------------------------------------------------


def test_match_labels_recovers_a_permutation():
    reference = np.repeat([0, 1, 2], 10)
    labels = np.array([2, 0, 1])[reference]
    mapping = match_labels(labels, reference)
    np.testing.assert_array_equal(mapping[labels], reference)
    # An extra label gets a new colour slot after the reference's.
    extra = np.append(labels, 3)
    np.testing.assert_array_equal(match_labels(extra, np.append(reference, 0)), [1, 2, 0, 3])


def test_comparison_colours_match_between_panels(gm2, blobs):
    X, y = blobs
    # Fitted beforehand, with cluster ids in another order than the mixture's.
    kmeans = KMeans(3, n_init=10, random_state=1).fit(X)
    display = ComparisonDisplay.from_estimator(gm2, X, kmeans=kmeans, y=y)
    gmm_labels, km_labels = gm2.predict(X), kmeans.predict(X)
    ax_gmm, ax_km = display.axes_
    image = render(display.figure_)
    for j in range(3):
        k = np.bincount(gmm_labels[km_labels == j], minlength=3).argmax()
        assert display.color_mapping_[j] == k
        gmm_colour = display.gmm_scatter_[k].get_facecolor()[0]
        km_colour = display.kmeans_scatter_[j].get_facecolor()[0]
        np.testing.assert_allclose(gmm_colour, km_colour)
        # On screen: the mean's marker and the matched centroid's have one colour.
        np.testing.assert_allclose(
            pixel(image, ax_gmm, gm2.means_[k]),
            pixel(image, ax_km, kmeans.cluster_centers_[j]),
            atol=0.02,
        )
        np.testing.assert_allclose(
            pixel(image, ax_km, kmeans.cluster_centers_[j]), km_colour[:3], atol=0.02
        )
    ari = adjusted_rand_score(gmm_labels, km_labels)
    assert f"{ari:.3f}" in ax_gmm.get_title() and f"{ari:.3f}" in ax_km.get_title()
    assert f"{adjusted_rand_score(y, gmm_labels):.3f}" in ax_gmm.get_title()
    assert f"{adjusted_rand_score(y, km_labels):.3f}" in ax_km.get_title()
    assert len(display.ellipses_) == 3


def test_comparison_with_more_clusters_and_default_kmeans(gm2, blobs):
    X, _ = blobs
    display = ComparisonDisplay.from_estimator(gm2, X, kmeans=KMeans(4, n_init=3, random_state=0))
    assert sorted(display.color_mapping_) == [0, 1, 2, 3]
    assert len(display.colors_) == 4
    default = ComparisonDisplay.from_estimator(gm2, X)
    assert len(default.kmeans_scatter_) == 3
    with pytest.raises(ValueError, match="one label per row"):
        ComparisonDisplay.from_estimator(gm2, X, y=np.zeros(3))


def test_comparison_in_a_pca_view_draws_on_shared_and_separate_axes(gm4, data4):
    # matplotlib refuses an equal aspect by data limits on axes sharing x and y,
    # but only when drawing: render both layouts.
    shared = ComparisonDisplay.from_estimator(gm4, data4)
    render(shared.figure_)
    for ax in shared.axes_:
        assert ax.get_aspect() == 1.0 and ax.get_adjustable() == "box"
    _, axes = plt.subplots(1, 2)
    separate = ComparisonDisplay.from_estimator(gm4, data4, axes=axes)
    render(separate.figure_)
    assert axes[0].get_aspect() == 1.0 and axes[0].get_adjustable() == "datalim"


# --- uncertainty -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overlap():
    """Two overlapping clusters: uncertainties spread over the whole scale."""
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + np.array([2.0, 0.5])])
    return X, GaussianMixture(2, random_state=0).fit(X)


def test_uncertainty_sizes_and_colours_are_monotone(overlap):
    X, est = overlap
    display = UncertaintyDisplay.from_estimator(est, X, show_means=False)
    expected = 1.0 - est.predict_proba(X).max(axis=1)
    assert expected.max() > 0.45
    np.testing.assert_allclose(display.uncertainty, expected, atol=1e-12)
    drawn = display.uncertainty[display.order_]
    np.testing.assert_allclose(display.scatter_.get_offsets(), X[display.order_])
    np.testing.assert_allclose(display.scatter_.get_array(), drawn)
    assert np.all(np.diff(drawn) >= 0)
    sizes = display.scatter_.get_sizes()
    assert np.all(np.diff(sizes) >= 0) and sizes[-1] > 5 * sizes[0]
    # Colours darken along viridis_r: luminance falls as uncertainty rises.
    image = render(display.figure_)
    rgba = display.scatter_.get_facecolors()
    luminance = rgba[:, :3] @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(luminance[drawn > 1e-3]) <= 1e-9)
    # The most uncertain point, drawn last and largest, shows its own colour.
    top = pixel(image, display.ax_, X[display.order_[-1]])
    blended = 0.85 * rgba[-1, :3] + 0.15
    np.testing.assert_allclose(top, blended, atol=0.06)
    assert display.colorbar_ is not None


def test_uncertainty_size_only_and_sklearn_estimator(blobs):
    X, _ = blobs
    sk = SkGaussianMixture(3, random_state=0).fit(X)
    display = UncertaintyDisplay.from_estimator(sk, X, encode="size", colorbar=False)
    drawn = (1.0 - sk.predict_proba(X).max(axis=1))[display.order_]
    np.testing.assert_allclose(display.scatter_.get_sizes(), 4 + 76 * drawn / (2 / 3))
    assert display.colorbar_ is None


# --- pairs -------------------------------------------------------------------------------


def test_pairs_panels_show_the_marginals(gm4, data4):
    display = PairsDisplay.from_estimator(gm4, data4, features=[0, 2, 3], bins=10)
    assert display.axes_.shape == (3, 3)
    cov = np.stack([component_covariance_from_precisions(gm4, k) for k in range(3)])
    features = [0, 2, 3]
    for i in range(3):
        for j in range(3):
            if i == j:
                assert display.ellipses_[i, j] is None
                continue
            pair = [features[j], features[i]]
            for k, row in enumerate(display.ellipses_[i, j]):
                sub = cov[k][np.ix_(pair, pair)]
                distance = mahalanobis(ellipse_points(row[1]), gm4.means_[k, pair], sub)
                np.testing.assert_allclose(distance, 2.0, rtol=1e-6)
    # The diagonal's mixture curve integrates to one over its range.
    total = display.density_lines_[0][-1]
    x, density = total.get_xdata(), total.get_ydata()
    assert np.trapezoid(density, x) == pytest.approx(1.0, abs=0.02)
    assert display.axes_[2, 1].get_xlabel() == "feature 2"


def test_pairs_refuses_too_many_features(blobs):
    X = np.random.default_rng(0).normal(size=(100, 7))
    est = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    with pytest.raises(InvalidParameterError, match="features="):
        PairsDisplay.from_estimator(est, X)
    with pytest.raises(InvalidParameterError, match="repeats"):
        PairsDisplay.from_estimator(est, X, features=[1, 1])


# --- errors ------------------------------------------------------------------------------

BUILDERS = [
    ClusterDisplay.from_estimator,
    DensityDisplay.from_estimator,
    UncertaintyDisplay.from_estimator,
    ComparisonDisplay.from_estimator,
    PairsDisplay.from_estimator,
]


@pytest.mark.parametrize("build", BUILDERS)
def test_unfitted_estimator_is_refused(build, blobs):
    with pytest.raises(NotFittedError):
        build(GaussianMixture(3), blobs[0])


@pytest.mark.parametrize("build", BUILDERS)
def test_wrong_feature_count_is_refused(build, gm4, blobs):
    with pytest.raises(
        ValueError, match="X has 2 features, but GaussianMixture was fitted with 4"
    ):
        build(gm4, blobs[0])


def test_other_bad_inputs(gm2, blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="2-D"):
        ClusterDisplay.from_estimator(gm2, X[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        ClusterDisplay.from_estimator(gm2, np.where(X == X[0, 0], np.nan, X))
    one = GaussianMixture(2, random_state=0).fit(X[:, :1])
    with pytest.raises(ValueError, match="at least 2 features"):
        ClusterDisplay.from_estimator(one, X[:, :1])
    with pytest.raises(InvalidParameterError, match="level_type"):
        ClusterDisplay.from_estimator(gm2, X, level_type="percent")
    with pytest.raises(InvalidParameterError, match="positive"):
        ClusterDisplay.from_estimator(gm2, X, levels=(-1,))
    with pytest.raises(InvalidParameterError, match=r"\(0, 1\)"):
        ClusterDisplay.from_estimator(gm2, X, levels=(1.5,), level_type="mass")
    with pytest.raises(InvalidParameterError, match="kind"):
        DensityDisplay.from_estimator(gm2, X, kind="surface")
    with pytest.raises(InvalidParameterError, match="grid_resolution"):
        DensityDisplay.from_estimator(gm2, X, grid_resolution=1)
    with pytest.raises(InvalidParameterError, match="encode"):
        UncertaintyDisplay.from_estimator(gm2, X, encode="alpha")
    with pytest.raises(InvalidParameterError, match="colors"):
        ClusterDisplay.from_estimator(gm2, X, colors=["red"])


def test_float32_model_and_sklearn_model_draw(blobs):
    X, _ = blobs
    est = GaussianMixture(3, covariance_type="tied", random_state=0).fit(X.astype(np.float32))
    display = DensityDisplay.from_estimator(est, X.astype(np.float32), grid_resolution=30)
    assert np.isfinite(display.log_density).all()
    sk = SkGaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    cluster = ClusterDisplay.from_estimator(sk, X)
    for k, row in enumerate(cluster.ellipses_):
        cov = np.diag(sk.covariances_[k])
        distance = mahalanobis(ellipse_points(row[2]), sk.means_[k], cov)
        np.testing.assert_allclose(distance, 3.0, rtol=1e-6)
