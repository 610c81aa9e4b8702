"""select_model: the table, the choice, failures, parallel runs and weights."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from conftest import mixture_data
from gaussmix import GaussianMixture, InvalidParameterError, select_model
from gaussmix._selection import TABLE_COLUMNS


@pytest.fixture(scope="module")
def blobs():
    X, _ = mixture_data(900, 2, 3, seed=3)
    return X


@pytest.fixture(scope="module")
def result(blobs):
    return select_model(
        blobs, n_components=range(1, 5), covariance_types=["full", "diag", "VII"], random_state=0
    )


def test_table_has_one_row_per_cell_in_grid_order(result):
    table = result.table
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert len(table) == 4 * 3
    assert list(table["n_components"]) == [k for k in range(1, 5) for _ in range(3)]
    assert list(table["covariance_type"][:3]) == ["VVV", "VVI", "VII"]
    assert (table["error"] == "").all()


def test_criteria_columns_follow_their_definitions(result, blobs):
    table = result.table
    n = blobs.shape[0]
    expected_bic = -2 * table["log_likelihood"] + table["n_parameters"] * math.log(n)
    np.testing.assert_allclose(table["bic"], expected_bic, rtol=1e-12)
    np.testing.assert_allclose(table["bic_mclust"], -table["bic"])
    np.testing.assert_allclose(table["icl_mclust"], -table["icl"])
    np.testing.assert_allclose(
        table["aic"], -2 * table["log_likelihood"] + 2 * table["n_parameters"]
    )
    assert (table["icl"] >= table["bic"] - 1e-9).all()
    # Each cell's numbers are those of its fitted estimator.
    for (k, name), estimator in result.estimators_.items():
        row = table[(table["n_components"] == k) & (table["covariance_type"] == name)].iloc[0]
        assert row["bic"] == pytest.approx(estimator.bic(blobs), rel=1e-10)
        assert row["icl"] == pytest.approx(estimator.icl(blobs), rel=1e-10)
        assert row["n_iter"] == estimator.n_iter_


def test_best_is_the_minimum_of_the_criterion(result, blobs):
    table = result.table
    best = table.loc[table["bic"].idxmin()]
    assert result.best_params_ == {
        "n_components": int(best["n_components"]),
        "covariance_type": best["covariance_type"],
    }
    assert result.best_estimator_.n_components == 3  # the data have 3 clusters
    assert result.best_estimator_.bic(blobs) == pytest.approx(best["bic"], rel=1e-12)
    assert result.top(2).iloc[0]["bic"] == best["bic"]
    text = result.summary()
    assert f"{best['covariance_type']} with 3 component(s)" in text


@pytest.mark.parametrize("criterion", ["icl", "aic"])
def test_other_criteria_choose_their_minimum(blobs, criterion):
    res = select_model(
        blobs, n_components=[2, 3, 4], covariance_types="VVV", criterion=criterion, random_state=1
    )
    best = res.table.loc[res.table[criterion].idxmin()]
    assert res.best_params_["n_components"] == best["n_components"]
    assert res.criterion == criterion


def test_failing_cell_is_recorded_and_sweep_goes_on():
    X = np.random.default_rng(0).normal(size=(6, 2))
    res = select_model(
        X, n_components=[1, 2, 8], covariance_types=["full", "diag"], random_state=0
    )
    failed = res.table[res.table["n_components"] == 8]
    assert len(failed) == 2
    assert all("n_samples" in reason for reason in failed["error"])
    assert failed["bic"].isna().all()
    assert res.best_params_["n_components"] in (1, 2)
    assert "2 cell(s) failed" in res.summary()


def test_every_cell_failing_raises():
    X = np.random.default_rng(0).normal(size=(4, 2))
    with pytest.raises(ValueError, match="every cell"):
        select_model(X, n_components=[5, 6], covariance_types="full")


def test_parallel_cells_give_the_same_table(blobs):
    kwargs = dict(n_components=[1, 2, 3], covariance_types=["full", "spherical"], random_state=5)
    serial = select_model(blobs, n_jobs=1, **kwargs).table.drop(columns="seconds")
    parallel = select_model(blobs, n_jobs=2, **kwargs).table.drop(columns="seconds")
    pd.testing.assert_frame_equal(serial, parallel, rtol=1e-9)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_callback_sees_every_cell_in_grid_order_in_the_calling_thread(blobs, n_jobs):
    import threading

    calls = []

    def callback(row, done, total):
        calls.append((row, done, total, threading.current_thread()))

    result = select_model(
        blobs, [1, 2], ["full", "VII"], random_state=5, n_jobs=n_jobs, callback=callback
    )
    assert [(done, total) for _, done, total, _ in calls] == [(i, 4) for i in range(1, 5)]
    assert {thread for *_, thread in calls} == {threading.current_thread()}
    rows = pd.DataFrame([row for row, *_ in calls], columns=list(TABLE_COLUMNS))
    pd.testing.assert_frame_equal(rows, result.table)


def test_callback_exception_stops_the_sweep(blobs):
    def callback(row, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        select_model(blobs, [1, 2], "full", random_state=0, callback=callback)


def test_sample_weight_equals_repeated_rows():
    X, _ = mixture_data(200, 2, 2, seed=8)
    counts = np.random.default_rng(1).integers(1, 4, size=200)
    weighted = select_model(
        X, [1, 2], "full", sample_weight=counts, init_params="random_from_data", random_state=0
    )
    n = counts.sum()
    row = weighted.table.iloc[1]
    p = row["n_parameters"]
    assert row["bic"] == pytest.approx(-2 * row["log_likelihood"] + p * math.log(n), rel=1e-12)
    est = weighted.best_estimator_
    repeated = np.repeat(X, counts, axis=0)
    assert est.bic(repeated) == pytest.approx(
        weighted.table.set_index(["n_components", "covariance_type"]).loc[
            (est.n_components, "VVV"), "bic"
        ],
        rel=1e-10,
    )


def test_same_seed_same_table(blobs):
    a = select_model(blobs, [2, 3], "diag", random_state=3).table.drop(columns="seconds")
    b = select_model(blobs, [2, 3], "diag", random_state=3).table.drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"criterion": "bic2"}, "criterion"),
        ({"n_components": 0}, "n_components"),
        ({"n_components": []}, "n_components"),
        ({"covariance_types": "XYZ"}, "covariance_type"),
        ({"n_init": 0}, "n_init"),
        ({"covariance_type": "full"}, "set by select_model"),
        ({"n_jobs": 0}, "n_jobs must be None, a positive number"),
        ({"n_jobs": 1.5}, "n_jobs must be None, a positive number"),
    ],
)
def test_bad_arguments_are_explained(blobs, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        select_model(blobs, **kwargs)


def test_iris_mclust_bic_for_vvv_two_components():
    # mclust: Mclust(iris[, 1:4]) reports BIC -574.02 for VVV with 2 components.
    res = select_model(load_iris().data, n_components=[2], covariance_types="VVV", random_state=0)
    assert res.table["bic_mclust"].iloc[0] == pytest.approx(-574.02, abs=0.05)
    assert isinstance(res.best_estimator_, GaussianMixture)


def test_collapsed_component_fails_its_cell():
    # An isolated point: with 3 components VVV puts one on it, whose likelihood only
    # reg_covar keeps finite. That cell must not win; EEE (shared covariance) cannot
    # collapse and stays.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 6, [[30.0, -30.0]]])
    res = select_model(X, n_components=[2, 3], covariance_types=["VVV", "EEE"], random_state=0)
    table = res.table.set_index(["n_components", "covariance_type"])
    assert table.loc[(3, "VVV"), "error"].startswith("SpuriousFitError: spurious maximum")
    assert np.isnan(table.loc[(3, "VVV"), "bic"])
    assert table.loc[(3, "EEE"), "error"] == ""
    assert res.best_params_ != {"n_components": 3, "covariance_type": "VVV"}
    # The same fit on its own really is collapsed: one point, a variance ~ reg_covar.
    gm = GaussianMixture(3, init_params="hc", random_state=0, tol=1e-5).fit(X)
    assert np.min(np.linalg.eigvalsh(gm.covariances_)) < 1e-5


def test_further_starts_do_not_redraw_the_shared_partition(blobs, monkeypatch):
    # n_init=3 with k-means: the shared partition (drawn once per K) and two starts of
    # their own, each from a random state different from the partition's.
    import gaussmix._init

    states = []

    def spy(original):
        def wrapper(X, sample_weight, n_clusters, random_state, *args, **kwargs):
            state = random_state.get_state()
            states.append((state[1][:4].tobytes(), int(state[2])))
            return original(X, sample_weight, n_clusters, random_state, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(gaussmix._init, "kmeans_labels", spy(gaussmix._init.kmeans_labels))
    select_model(blobs, [3], "full", init_params="kmeans", n_init=3, random_state=0)
    assert len(states) == 3  # the shared partition, then two further starts
    assert len(set(states)) == 3


def test_bad_data_is_reported_once_not_per_cell():
    X = np.random.default_rng(0).normal(size=(50, 2))
    X[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        select_model(X, n_components=[1, 2], covariance_types="full")
    with pytest.raises(ValueError, match="minimum of 2"):
        select_model(X[:1, :1] * 0 + 1, n_components=[1], covariance_types="full")


def _weights(value=1.0, n=50, at=7):
    weight = np.ones(n)
    weight[at] = value
    return weight


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (_weights(np.nan), "sample_weight contains NaN or infinity"),
        (_weights(-1.0), "sample_weight must be non-negative"),
        (_weights(n=10), r"sample_weight must have shape \(50,\)"),
        (_weights(n=50) * 0, "sample_weight is all zero"),
    ],
)
def test_bad_weights_are_reported_once_before_any_cell(monkeypatch, weight, message):
    from gaussmix import _selection

    def no_cell(*args, **kwargs):
        raise AssertionError("a cell was fitted")

    monkeypatch.setattr(_selection, "_fit_cell", no_cell)
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match=message) as info:
        select_model(X, n_components=[1, 2, 3], covariance_types="all", sample_weight=weight)
    assert len(str(info.value)) < 200


def test_dataframe_feature_names_reach_the_models():
    X, _ = mixture_data(200, 2, 2, seed=1)
    frame = pd.DataFrame(X, columns=["height", "weight"])
    res = select_model(frame, n_components=[1, 2], covariance_types="full", random_state=0)
    assert list(res.best_estimator_.feature_names_in_) == ["height", "weight"]


def test_features_of_wildly_different_scales_are_not_called_collapsed():
    # Features of scales 1e-4, 1 and 1e8. Against the data's mean variance (that of
    # the 1e8 feature) every component would look collapsed in the small features;
    # with each feature scaled to variance 1 none does: every cell fits, and the
    # scale-invariant models' BIC is that of the unscaled data plus the log-Jacobian.
    X, _ = mixture_data(300, 3, 2, seed=1)
    factors = np.array([1.0, 1e8, 1e-4])
    grid = dict(n_components=[1, 2, 3], covariance_types="all", random_state=0)
    graded = select_model(X * factors, **grid, reg_covar="auto")
    assert (graded.table["error"] == "").all(), graded.table["error"].unique()
    standard = select_model(X, **grid, reg_covar="auto")
    scale_invariant = graded.table["covariance_type"].isin(["VVV", "EEE", "VVI", "EEI"])
    np.testing.assert_allclose(
        graded.table.loc[scale_invariant, "bic"] - 2 * 300 * np.log(factors).sum(),
        standard.table.loc[scale_invariant, "bic"],
        rtol=1e-6,
    )


def test_cells_on_degenerate_data_carry_a_clear_reason():
    # One huge outlier, constant features: cells may fail, each with a reason of
    # gaussmix's own (never a raw LinAlgError or FloatingPointError text).
    X = np.ones((17, 4))
    X[0, 1] = 0.0
    X[0, 2] = 7.34936819e19
    res = select_model(X, n_components=[1, 2, 3], covariance_types="all", random_state=0)
    errors = res.table["error"]
    assert (errors == "").any()
    for error in errors[errors != ""]:
        assert error.startswith(("SpuriousFitError: ", "NumericalError: ")), error
