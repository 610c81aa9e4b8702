"""Data read from files block by block: same model as in memory, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import gaussmix
from conftest import mixture_data, start_params
from gaussmix import GaussianMixture, open_data

ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_cholesky_")
FORMATS = ("npy", "parquet", "csv")


def write(X, directory, fmt, columns=None):
    columns = columns or [f"f{j}" for j in range(X.shape[1])]
    path = directory / f"data.{fmt}"
    if fmt == "npy":
        np.save(path, X)
    elif fmt == "parquet":
        pd.DataFrame(X, columns=columns).to_parquet(path)
    else:
        pd.DataFrame(X, columns=columns).to_csv(path, index=False)
    return path


@pytest.fixture
def X():
    return mixture_data(3000, 3, 3, seed=21)[0]


def fit(data, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(**params).fit(data)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_same_model_as_in_memory(tmp_path, X, fmt, covariance_type):
    start = start_params(X, 3, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, tol=0.0, max_iter=10, **start)
    in_memory = fit(X, **params)
    for block_rows in (1, 999, 5000):
        if block_rows == 1 and fmt != "npy":
            continue  # one-row batches are slow to parse; the npy reader covers it
        source = open_data(write(X, tmp_path, fmt), block_rows=block_rows)
        streamed = fit(source, **params)
        for name in ATTRIBUTES:
            np.testing.assert_allclose(
                getattr(streamed, name), getattr(in_memory, name), rtol=1e-10, err_msg=name
            )
        np.testing.assert_allclose(streamed.lower_bounds_, in_memory.lower_bounds_, rtol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_predictions_stream(tmp_path, X, fmt):
    source = open_data(write(X, tmp_path, fmt), block_rows=700)
    if fmt != "npy":
        # A model fitted on a frame with the file's column names accepts the file.
        X = pd.DataFrame(X, columns=["f0", "f1", "f2"])
    gm = fit(X, n_components=3, random_state=0)
    np.testing.assert_array_equal(gm.predict(source), gm.predict(X))
    np.testing.assert_allclose(gm.predict_proba(source), gm.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(gm.score_samples(source), gm.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(gm.score(source), gm.score(X), rtol=1e-12)
    np.testing.assert_allclose(gm.bic(source), gm.bic(X), rtol=1e-12)


def test_default_initialisation_on_a_sample(tmp_path, X, monkeypatch):
    """Files are initialised from a random sample; EM then reaches the same optimum."""
    in_memory = fit(X, n_components=3, random_state=0, tol=1e-8)
    monkeypatch.setattr(gaussmix._init, "INIT_SAMPLE_ROWS", 300)
    streamed = fit(open_data(write(X, tmp_path, "npy")), n_components=3, random_state=0, tol=1e-8)
    order = np.lexsort(streamed.means_.T), np.lexsort(in_memory.means_.T)
    np.testing.assert_allclose(streamed.means_[order[0]], in_memory.means_[order[1]], rtol=1e-5)
    np.testing.assert_allclose(streamed.lower_bound_, in_memory.lower_bound_, rtol=1e-8)


def test_large_in_memory_data_start_from_the_same_sample(tmp_path, X, monkeypatch):
    """Above INIT_SAMPLE_ROWS, arrays and files are initialised from the same sample."""
    monkeypatch.setattr(gaussmix._init, "INIT_SAMPLE_ROWS", 500)
    params = dict(n_components=3, random_state=0, max_iter=3, tol=0.0)
    in_memory = fit(X, **params)
    streamed = fit(open_data(write(X, tmp_path, "npy"), block_rows=700), **params)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(streamed, name), getattr(in_memory, name), rtol=1e-10)


def test_sample_weight_and_float32(tmp_path, X):
    weight = np.random.default_rng(0).integers(0, 3, size=len(X)).astype(float)
    X32 = X.astype(np.float32)
    start = start_params(X, 3, "full")
    params = dict(n_components=3, tol=0.0, max_iter=5, **start)
    in_memory = GaussianMixture(**params)
    streamed = GaussianMixture(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory.fit(X32, sample_weight=weight)
        streamed.fit(open_data(write(X32, tmp_path, "npy"), block_rows=512), sample_weight=weight)
    assert streamed.means_.dtype == np.float32
    np.testing.assert_allclose(streamed.means_, in_memory.means_, rtol=1e-6)


def test_memmap_streams_like_an_array(tmp_path, X):
    path = write(X, tmp_path, "npy")
    mapped = np.load(path, mmap_mode="r")
    params = dict(n_components=3, random_state=0, block_size=500)
    a, b = fit(X, **params), fit(mapped, **params)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-12)


def test_blocks_never_exceed_block_rows(tmp_path, X, monkeypatch):
    source = open_data(write(X, tmp_path, "npy"), block_rows=256)
    sizes = [block.shape[0] for block in source.blocks()]
    assert max(sizes) == 256 and sum(sizes) == len(X)


def test_columns_by_name_and_position(tmp_path, X):
    path = write(X, tmp_path, "parquet", columns=["a", "b", "c"])
    source = open_data(path, columns=["c", "a"])
    assert source.n_features == 2 and list(source.feature_names) == ["c", "a"]
    np.testing.assert_array_equal(np.concatenate(list(source.blocks())), X[:, [2, 0]])
    npy = open_data(write(X, tmp_path, "npy"), columns=[2, 0])
    np.testing.assert_array_equal(np.concatenate(list(npy.blocks())), X[:, [2, 0]])


def test_errors_say_what_is_wrong(tmp_path, X):
    with pytest.raises(FileNotFoundError, match="No such data file"):
        open_data(tmp_path / "missing.npy")
    (tmp_path / "data.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"expected a \.npy, \.parquet or \.csv"):
        open_data(tmp_path / "data.txt")
    with pytest.raises(ValueError, match=r"no column\(s\) \['zz'\]"):
        open_data(write(X, tmp_path, "csv"), columns=["zz"])
    with pytest.raises(ValueError, match="columns must be integers"):
        open_data(write(X, tmp_path, "npy"), columns=[7])
    np.save(tmp_path / "fortran.npy", np.asfortranarray(X))
    with pytest.raises(ValueError, match="Fortran"):
        open_data(tmp_path / "fortran.npy")
    np.save(tmp_path / "flat.npy", X[:, 0])
    with pytest.raises(ValueError, match="expected 2-D"):
        open_data(tmp_path / "flat.npy")


def test_bad_values_name_the_row(tmp_path, X):
    X = X.copy()
    X[1234, 1] = np.nan
    source = open_data(write(X, tmp_path, "npy"), block_rows=1000)
    with pytest.raises(ValueError, match="row 1234 contains NaN"):
        GaussianMixture(3, random_state=0).fit(source)
    frame = pd.DataFrame({"a": np.arange(10.0), "b": ["x"] * 10})
    frame.to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(ValueError, match="column 'b' holds non-numeric"):
        GaussianMixture(1).fit(open_data(tmp_path / "text.csv"))


def test_predict_checks_features(tmp_path, X):
    gm = fit(pd.DataFrame(X, columns=["a", "b", "c"]), n_components=2, random_state=0)
    renamed = open_data(write(X, tmp_path, "csv", columns=["a", "c", "b"]))
    with pytest.raises(ValueError, match="differ from those seen in fit"):
        gm.predict(renamed)
    two = open_data(write(X[:, :2], tmp_path, "npy"))
    with pytest.raises(ValueError, match="X has 2 features"):
        gm.predict(two)
