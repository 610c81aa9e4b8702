"""Dask collections: exact EM on a real two-worker cluster, lazy predictions, faults.

One ``distributed.LocalCluster`` (two worker processes of one thread each) serves the
module. A fit on a Dask array or DataFrame must give the in-memory model (same start,
same seed), keep the data on the workers, survive a worker killed mid-fit, and its
predictions on Dask input must stay lazy.
"""

from __future__ import annotations

import logging
import os
import signal
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import gaussmix._init
from conftest import mixture_data, start_params
from gaussmix import GaussianMixture, OutlierDetector, select_model
from gaussmix._em import em_progress
from gaussmix.anomaly._dask_threshold import dask_weighted_threshold
from gaussmix.anomaly._detector import weighted_threshold

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_cholesky_")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, direct_to_workers=True) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def X():
    return mixture_data(3000, 3, 3, seed=21)[0]


def fit(data, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(**params).fit(data, sample_weight=sample_weight)


def assert_same_model(got, expected, rtol):
    for name in ATTRIBUTES:
        np.testing.assert_allclose(
            getattr(got, name), getattr(expected, name), rtol=rtol, atol=0, err_msg=name
        )
    np.testing.assert_allclose(got.lower_bounds_, expected.lower_bounds_, rtol=rtol)
    assert got.n_iter_ == expected.n_iter_


# ------------------------------------------------------------------ equality


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied", "VEV"])
def test_same_model_from_an_explicit_start(client, X, covariance_type):
    start = start_params(X, 3, "full")
    if covariance_type != "full":
        start.pop("precisions_init")
    params = dict(
        n_components=3, covariance_type=covariance_type, tol=0.0, max_iter=8, random_state=0
    )
    in_memory = fit(X, **params, **start)
    for chunks in (500, 1001, 3000):
        on_cluster = fit(da.from_array(X, chunks=(chunks, 3)), **params, **start)
        assert_same_model(on_cluster, in_memory, rtol=1e-10)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_same_model_from_the_same_seed(client, X, init_params):
    params = dict(n_components=3, tol=0.0, max_iter=6, random_state=7, init_params=init_params)
    in_memory = fit(X, **params)
    on_cluster = fit(da.from_array(X, chunks=(700, 3)), **params)
    assert_same_model(on_cluster, in_memory, rtol=1e-10)


def test_same_seed_draws_the_same_sample_of_rows(client):
    # More rows than the start's sample: the in-memory fit and the cluster fit draw
    # the same 100,000 indices from the seed; the cluster selects them on the workers.
    X = mixture_data(gaussmix._init.INIT_SAMPLE_ROWS + 20_000, 2, 3, seed=3)[0]
    params = dict(n_components=3, covariance_type="diag", tol=0.0, max_iter=3, random_state=11)
    in_memory = fit(X, **params)
    on_cluster = fit(da.from_array(X, chunks=(25_000, 2)), **params)
    assert_same_model(on_cluster, in_memory, rtol=1e-10)


def test_float32_stays_float32_with_weights(client, X):
    X32 = X.astype(np.float32)
    weight = np.random.default_rng(0).integers(0, 3, size=len(X)).astype(float)
    start = start_params(X, 3, "full")
    params = dict(n_components=3, tol=0.0, max_iter=5, **start)
    in_memory = fit(X32, sample_weight=weight, **params)
    for chunks in (600, 2000):
        X_dask = da.from_array(X32, chunks=(chunks, 3))
        # The weights as a Dask array chunked unlike the rows: aligned by the fit.
        weight_dask = da.from_array(weight, chunks=chunks + 1)
        on_cluster = fit(X_dask, sample_weight=weight_dask, **params)
        assert on_cluster.means_.dtype == np.float32
        np.testing.assert_allclose(on_cluster.means_, in_memory.means_, rtol=1e-6)
        np.testing.assert_allclose(on_cluster.covariances_, in_memory.covariances_, rtol=1e-5)


def test_weights_as_a_numpy_array_and_their_checks(client, X):
    weight = np.random.default_rng(1).uniform(0.5, 2.0, size=len(X))
    params = dict(n_components=3, tol=0.0, max_iter=4, random_state=0)
    in_memory = fit(X, sample_weight=weight, **params)
    on_cluster = fit(da.from_array(X, chunks=(800, 3)), sample_weight=weight, **params)
    assert_same_model(on_cluster, in_memory, rtol=1e-10)
    X_dask = da.from_array(X, chunks=(800, 3))
    bad = weight.copy()
    bad[5] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        fit(X_dask, sample_weight=da.from_array(bad, chunks=800), n_components=3)
    with pytest.raises(ValueError, match=r"shape \(3000,\)"):
        fit(X_dask, sample_weight=da.ones(2999, chunks=800), n_components=3)


def test_dataframe_keeps_feature_names(client, X):
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    params = dict(n_components=3, tol=0.0, max_iter=5, random_state=0)
    in_memory = fit(frame, **params)
    on_cluster = fit(dd.from_pandas(frame, npartitions=4), **params)
    assert list(on_cluster.feature_names_in_) == ["a", "b", "c"]
    assert_same_model(on_cluster, in_memory, rtol=1e-10)
    renamed = dd.from_pandas(frame.rename(columns={"c": "z"}), npartitions=2)
    with pytest.raises(ValueError, match="differ from those seen in fit"):
        on_cluster.predict(renamed)


def test_column_chunks_are_joined_or_refused(client, X, monkeypatch):
    params = dict(n_components=3, tol=0.0, max_iter=3, random_state=0)
    in_memory = fit(X, **params)
    on_cluster = fit(da.from_array(X, chunks=(1000, 1)), **params)
    assert_same_model(on_cluster, in_memory, rtol=1e-10)
    # Joined chunks above the limit are refused with the fix, before any pass.
    monkeypatch.setattr("gaussmix.backends._dask._MAX_JOINED_CHUNK_BYTES", 1000)
    with pytest.raises(ValueError, match=r"rechunk it by rows.*X\.rechunk"):
        fit(da.from_array(X, chunks=(1000, 1)), **params)


def test_bad_values_and_shapes_are_refused(client, X):
    with_nan = X.copy()
    with_nan[1234, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit(da.from_array(with_nan, chunks=(1000, 3)), n_components=2)
    with pytest.raises(ValueError, match="magnitude"):
        fit(da.from_array(X * 1e160, chunks=(1000, 3)), n_components=2)
    with pytest.raises(ValueError, match="2-D"):
        fit(da.from_array(X[:, 0], chunks=1000), n_components=2)


# --------------------------------------------------------------- predictions


def test_predictions_are_lazy_and_equal(client, X):
    gm = fit(X, n_components=3, random_state=0)
    X_dask = da.from_array(X, chunks=(700, 3))
    labels, resp, log_prob = gm.predict(X_dask), gm.predict_proba(X_dask), gm.score_samples(X_dask)
    for lazy in (labels, resp, log_prob):
        assert isinstance(lazy, da.Array)
        assert lazy.chunks[0] == X_dask.chunks[0]
    assert resp.shape == (3000, 3) and log_prob.dtype == np.float64
    np.testing.assert_array_equal(labels.compute(), gm.predict(X))
    np.testing.assert_allclose(resp.compute(), gm.predict_proba(X), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(log_prob.compute(), gm.score_samples(X), rtol=1e-12)
    weight = np.random.default_rng(2).uniform(0, 2, size=len(X))
    weight_dask = da.from_array(weight, chunks=700)
    for name in ("score", "bic", "aic", "icl"):
        method = getattr(gm, name)
        value = method(X_dask, sample_weight=weight_dask)
        assert isinstance(value, float)
        np.testing.assert_allclose(value, method(X, sample_weight=weight), rtol=1e-12)
        np.testing.assert_allclose(method(X_dask), method(X), rtol=1e-12)


def test_predictions_of_a_lazy_source_compute_nothing(client):
    # A source that fails when computed: building the predictions must not touch it.
    def boom(block):
        raise RuntimeError("computed")

    X = da.ones((1000, 2), chunks=(250, 2)).map_blocks(boom, dtype=float)
    gm = fit(np.random.default_rng(0).normal(size=(200, 2)), n_components=2, random_state=0)
    predictions = (gm.predict(X), gm.predict_proba(X), gm.score_samples(X))
    assert all(isinstance(p, da.Array) for p in predictions)
    with pytest.raises(RuntimeError, match="computed"):
        predictions[0].compute()


def test_float32_predictions(client, X):
    X32 = X.astype(np.float32)
    gm = fit(X32, n_components=3, random_state=0)
    log_prob = gm.score_samples(da.from_array(X32, chunks=(1000, 3)))
    assert log_prob.dtype == np.float32
    np.testing.assert_allclose(log_prob.compute(), gm.score_samples(X32), rtol=1e-5)


# ------------------------------------------------- model selection, outliers


@pytest.mark.parametrize("init_params", ["kmeans", "hc"])
def test_select_model_on_the_cluster(client, init_params):
    X = mixture_data(1500, 2, 3, seed=4)[0]
    settings = dict(
        n_components=[2, 3],
        covariance_types=["VVV", "VEI"],
        init_params=init_params,
        random_state=0,
    )
    in_memory = select_model(X, **settings)
    on_cluster = select_model(da.from_array(X, chunks=(400, 2)), **settings)
    columns = ["n_components", "covariance_type", "n_iter"]
    pd.testing.assert_frame_equal(on_cluster.table[columns], in_memory.table[columns])
    np.testing.assert_allclose(
        on_cluster.table["log_likelihood"], in_memory.table["log_likelihood"], rtol=1e-10
    )
    assert on_cluster.best_params_ == in_memory.best_params_
    assert_same_model(on_cluster.best_estimator_, in_memory.best_estimator_, rtol=1e-9)


def test_outlier_detector_on_the_cluster(client):
    X = mixture_data(3000, 2, 3, seed=1)[0]
    weight = np.random.default_rng(3).integers(0, 3, size=len(X)).astype(float)
    X_dask = da.from_array(X, chunks=(500, 2))
    # Two cells to choose from: the choice and the threshold, kept small.
    settings = dict(n_components=[2, 3], contamination=0.05, random_state=0)
    for w, w_dask in ((None, None), (weight, da.from_array(weight, chunks=500))):
        in_memory = OutlierDetector(**settings).fit(X, sample_weight=w)
        on_cluster = OutlierDetector(**settings).fit(X_dask, sample_weight=w_dask)
        assert on_cluster.mixture_.n_components == in_memory.mixture_.n_components
        np.testing.assert_allclose(on_cluster.offset_, in_memory.offset_, rtol=1e-10)
        labels = on_cluster.predict(X_dask)
        assert isinstance(labels, da.Array)
        np.testing.assert_array_equal(labels.compute(), in_memory.predict(X))
    with pytest.raises(ValueError, match="noise=True"):
        OutlierDetector(noise=True).fit(X_dask)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scores_kind", ["continuous", "ties", "constant"])
def test_distributed_threshold_is_the_in_memory_one(weighted, scores_kind):
    # Small gathers and few bins force several narrowing passes. The algorithm is
    # checked on Dask's in-process scheduler (the cluster runs it in the detector's test).
    rng = np.random.default_rng(len(scores_kind) + weighted)
    scores = rng.normal(size=4000)
    if scores_kind == "ties":
        scores = np.round(scores, 1)
    elif scores_kind == "constant":
        scores[:] = -3.5
    weight = rng.integers(0, 4, size=scores.size).astype(float) if weighted else None
    lazy_weight = None if weight is None else da.from_array(weight, chunks=700)
    for fraction in (0.001, 0.05, 0.3):
        expected = weighted_threshold(scores, weight, fraction)
        for max_gather, n_bins in ((10, 4), (50, 16), (100_000, 1024)):
            with dask.config.set(scheduler="sync"):
                got = dask_weighted_threshold(
                    da.from_array(scores, chunks=700),
                    lazy_weight,
                    fraction,
                    max_gather=max_gather,
                    n_bins=n_bins,
                )
            np.testing.assert_allclose(got, expected, rtol=1e-12)


# -------------------------------------------------------------- command line


def test_command_line_on_the_cluster(client, tmp_path):
    from click.testing import CliRunner

    from gaussmix.cli import main
    from gaussmix.persistence import load

    X = mixture_data(2000, 2, 3, seed=1)[0]
    data = tmp_path / "data.parquet"
    pd.DataFrame(X, columns=["a", "b"]).to_parquet(data)
    address = client.scheduler.address
    runner = CliRunner()
    fit_args = ["fit", str(data), "-k", "3", "-c", "full", "--init", "kmeans", "--seed", "0"]
    for name, extra in (("cluster", ["--scheduler", address]), ("local", [])):
        result = runner.invoke(
            main, [*fit_args, "-q", "--out", str(tmp_path / f"{name}.gmm"), *extra]
        )
        assert result.exit_code == 0, result.output
    on_cluster, local = load(tmp_path / "cluster.gmm"), load(tmp_path / "local.gmm")
    assert list(on_cluster.feature_names_in_) == ["a", "b"]
    assert_same_model(on_cluster, local, rtol=1e-10)
    for command in (["predict", "--proba"], ["score", "--contamination", "0.05"]):
        tables = []
        for extra in (["--scheduler", address], []):
            out = tmp_path / f"{command[0]}{len(extra)}.csv"
            args = [command[0], str(tmp_path / "local.gmm"), str(data), *command[1:]]
            result = runner.invoke(main, [*args, "-q", "--out", str(out), *extra])
            assert result.exit_code == 0, result.output
            tables.append(pd.read_csv(out))
        pd.testing.assert_frame_equal(tables[0], tables[1], rtol=1e-12)
    result = runner.invoke(
        main,
        [
            "predict",
            str(tmp_path / "local.gmm"),
            str(tmp_path / "local.gmm"),
            "--scheduler",
            address,
        ],
    )
    assert result.exit_code == 2 and "Parquet or CSV" in result.output


# ------------------------------------------------------------ data on workers


class ReadCounter:
    """Bytes read by this process's TCP comms (client and the in-process scheduler)."""

    def __init__(self, monkeypatch):
        from distributed.comm import tcp

        self.total = 0
        original = tcp.read_bytes_rw

        async def counting(stream, n):
            self.total += n
            return await original(stream, n)

        monkeypatch.setattr(tcp, "read_bytes_rw", counting)


def test_the_client_receives_statistics_not_data(client, monkeypatch):
    # 96 MB generated on the workers; the client draws the start's 100,000-row
    # sample (3.2 MB) and receives statistics for each pass.
    n_rows, n_features = 3_000_000, 4
    X = da.random.RandomState(0).normal(size=(n_rows, n_features), chunks=(250_000, 4))
    X = X + da.arange(n_rows, chunks=250_000)[:, None] % 3 * 5.0
    data_bytes = n_rows * n_features * 8
    sample_bytes = gaussmix._init.INIT_SAMPLE_ROWS * n_features * 8
    # The first fit in a process compiles the kernels: not part of the measurement.
    fit(X[:5000], n_components=3, max_iter=2, random_state=0)
    counter = ReadCounter(monkeypatch)
    tracemalloc.start()
    try:
        gm = fit(X, n_components=3, max_iter=4, tol=0.0, random_state=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert gm.n_iter_ == 4
    assert counter.total > sample_bytes  # the counter sees the sample arrive
    assert counter.total < sample_bytes + 2 * 2**20, counter.total
    assert peak < 0.2 * data_bytes, peak


# --------------------------------------------------------------------- faults


def test_a_worker_killed_mid_fit_changes_nothing(client):
    X = da.random.RandomState(5).normal(size=(200_000, 3), chunks=(20_000, 3))
    X = (X + (da.arange(200_000, chunks=20_000) % 2)[:, None] * 4.0).persist()
    distributed.wait(X)
    params = dict(n_components=2, tol=0.0, max_iter=5, random_state=0)
    undisturbed = fit(X, **params)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = []

    def kill_after_second_iteration(iteration):
        if iteration.n_iter == 2 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    with em_progress(kill_after_second_iteration):
        disturbed = fit(X, **params)
    assert killed == [victim]
    assert victim not in client.run(os.getpid).values()
    assert_same_model(disturbed, undisturbed, rtol=1e-10)
    client.wait_for_workers(2, timeout=60)
