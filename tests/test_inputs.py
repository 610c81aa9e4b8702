"""Input handling of ``GaussianMixture``: accepted containers and dtypes, and the errors
raised for bad data, bad hyperparameters, bad initial parameters and bad sample weights;
and the errors of ``open_data`` for data files that are damaged or not what they say."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from gaussmix import DegenerateComponentWarning, GaussianMixture, InvalidParameterError, open_data

COV_TYPES = ("full", "tied", "diag", "spherical")
FITTED_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
N_ROWS, N_FEATURES = 200, 3


def _blobs(seed: int = 0, n_rows: int = N_ROWS, n_features: int = N_FEATURES) -> np.ndarray:
    """Two well-separated Gaussian blobs, so every fit finds the same two components."""
    rng = np.random.RandomState(seed)
    half = n_rows // 2
    centres = np.array([np.zeros(n_features), np.full(n_features, 8.0)])
    scales = np.linspace(0.5, 1.5, n_features)
    return np.vstack(
        [
            centres[0] + rng.randn(half, n_features) * scales,
            centres[1] + rng.randn(n_rows - half, n_features) * scales[::-1],
        ]
    )


@pytest.fixture(scope="module")
def X():
    return _blobs()


@pytest.fixture(scope="module")
def fitted(X):
    return GaussianMixture(2, random_state=0).fit(X)


def _assert_same_model(a: GaussianMixture, b: GaussianMixture, rtol: float = 1e-10) -> None:
    for name in FITTED_ARRAYS:
        assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12, err_msg=name)
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=rtol)


# ============================================================ accepted inputs


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_input_becomes_float64(dtype):
    X_int = np.round(_blobs() * 10).astype(dtype)
    gm = GaussianMixture(2, random_state=0).fit(X_int)
    reference = GaussianMixture(2, random_state=0).fit(X_int.astype(np.float64))
    for name in FITTED_ARRAYS:
        assert getattr(gm, name).dtype == np.float64, name
    _assert_same_model(gm, reference, rtol=0)
    assert gm.predict_proba(X_int).dtype == np.float64
    assert gm.score_samples(X_int).dtype == np.float64
    assert_array_equal(gm.predict(X_int), reference.predict(X_int.astype(np.float64)))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float64_stays_float64(X, covariance_type):
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    for name in FITTED_ARRAYS:
        assert getattr(gm, name).dtype == np.float64, name
    assert gm.predict_proba(X).dtype == np.float64
    assert gm.score_samples(X).dtype == np.float64
    assert gm.sample(5)[0].dtype == np.float64


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_is_preserved_in_attributes_and_outputs(X, covariance_type):
    X32 = X.astype(np.float32)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X32)
    for name in FITTED_ARRAYS:
        assert getattr(gm, name).dtype == np.float32, name
    proba = gm.predict_proba(X32)
    log_prob = gm.score_samples(X32)
    samples, labels = gm.sample(7)
    assert proba.dtype == np.float32
    assert log_prob.dtype == np.float32
    assert samples.dtype == np.float32
    assert samples.shape == (7, N_FEATURES)
    assert labels.shape == (7,)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)

    # The float32 fit is the float64 fit up to float32 rounding.
    gm64 = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    order32, order64 = np.argsort(gm.means_[:, 0]), np.argsort(gm64.means_[:, 0])
    assert_allclose(gm.means_[order32], gm64.means_[order64], rtol=1e-4, atol=1e-4)
    assert_allclose(gm.weights_[order32], gm64.weights_[order64], rtol=1e-4)
    assert_allclose(log_prob, gm64.score_samples(X), rtol=1e-4, atol=1e-4)


def test_float32_model_scores_float64_input_in_float64(X):
    gm = GaussianMixture(2, random_state=0).fit(X.astype(np.float32))
    assert gm.score_samples(X).dtype == np.float64
    assert gm.predict_proba(X).dtype == np.float64
    assert_allclose(gm.score_samples(X), gm.score_samples(X.astype(np.float32)), rtol=1e-5)


@pytest.mark.parametrize("seed", range(20))
def test_float32_model_with_an_empty_component_can_sample(seed):
    # A zero initial weight empties the third component; the fit keeps it with a
    # weight of about 10 * eps(float32) / n_samples. The float32 weights_ still
    # describe a distribution, so sample() must work.
    rng = np.random.RandomState(seed)
    X32 = np.vstack([rng.randn(50, 2), rng.randn(50, 2) + 6]).astype(np.float32)
    gm = GaussianMixture(3, weights_init=[0.5, 0.5, 0.0], random_state=seed)
    with pytest.warns(DegenerateComponentWarning, match=r"Component 2 .*empty"):
        gm.fit(X32)
    assert gm.weights_.dtype == np.float32
    assert gm.weights_[2] < 1e-6
    samples, labels = gm.sample(100)
    assert samples.shape == (100, 2)
    assert samples.dtype == np.float32
    assert np.all(np.isfinite(samples))
    assert set(np.unique(labels)) <= {0, 1, 2}


def test_list_of_lists_is_accepted(X):
    gm = GaussianMixture(2, random_state=0).fit(X.tolist())
    _assert_same_model(gm, GaussianMixture(2, random_state=0).fit(X), rtol=0)


def test_pandas_dataframe(X, fitted):
    pd = pytest.importorskip("pandas")
    columns = ["alpha", "beta", "gamma"]
    df = pd.DataFrame(X, columns=columns)
    gm = GaussianMixture(2, random_state=0).fit(df)
    assert list(gm.feature_names_in_) == columns
    assert gm.n_features_in_ == N_FEATURES
    _assert_same_model(gm, fitted)
    assert_array_equal(gm.predict(df), fitted.predict(X))
    assert_allclose(gm.predict_proba(df), fitted.predict_proba(X), rtol=1e-10, atol=1e-14)
    assert_allclose(gm.score_samples(df), fitted.score_samples(X), rtol=1e-10)
    assert gm.score(df) == pytest.approx(fitted.score(X), rel=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        gm.predict(pd.DataFrame(X, columns=["x", "y", "z"]))


def test_pandas_integer_dataframe_becomes_float64():
    pd = pytest.importorskip("pandas")
    X_int = np.round(_blobs() * 10).astype(np.int64)
    gm = GaussianMixture(2, random_state=0).fit(pd.DataFrame(X_int, columns=["a", "b", "c"]))
    assert gm.means_.dtype == np.float64
    _assert_same_model(gm, GaussianMixture(2, random_state=0).fit(X_int.astype(np.float64)))


def _frame(library: str, X: np.ndarray, columns):
    module = pytest.importorskip(library)
    if library == "pandas":
        return module.DataFrame(X, columns=columns)
    return module.DataFrame({name: X[:, j] for j, name in enumerate(columns)})


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_float32_dataframe_keeps_float32(X, library):
    # "Arrays keep the input's floating dtype: float32 data give float32 attributes and
    # outputs" -- for a DataFrame of float32 columns as for a float32 ndarray.
    X32 = X.astype(np.float32)
    df = _frame(library, X32, ["a", "b", "c"])
    gm = GaussianMixture(2, random_state=0).fit(df)
    for name in FITTED_ARRAYS:
        assert getattr(gm, name).dtype == np.float32, name
    assert gm.predict_proba(df).dtype == np.float32
    assert gm.score_samples(df).dtype == np.float32
    reference = GaussianMixture(2, random_state=0).fit(X32)
    assert_allclose(gm.means_, reference.means_, rtol=1e-6, atol=1e-6)


def test_polars_dataframe(X, fitted):
    pl = pytest.importorskip("polars")
    columns = ["alpha", "beta", "gamma"]
    df = pl.DataFrame({name: X[:, j] for j, name in enumerate(columns)})
    gm = GaussianMixture(2, random_state=0).fit(df)
    assert list(gm.feature_names_in_) == columns
    assert gm.n_features_in_ == N_FEATURES
    _assert_same_model(gm, fitted)
    assert_array_equal(gm.predict(df), fitted.predict(X))
    assert_allclose(gm.predict_proba(df), fitted.predict_proba(X), rtol=1e-10, atol=1e-14)
    assert_allclose(gm.score_samples(df), fitted.score_samples(X), rtol=1e-10)
    renamed = pl.DataFrame({name: X[:, j] for j, name in enumerate(["x", "y", "z"])})
    with pytest.raises(ValueError, match="feature names"):
        gm.predict(renamed)


@pytest.mark.parametrize("kernel", ["numpy", "compiled"])
def test_read_only_memmap(tmp_path, X, kernel):
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_map = np.load(path, mmap_mode="r")
    assert isinstance(X_map, np.memmap)
    assert not X_map.flags.writeable
    gm = GaussianMixture(2, random_state=0, kernel=kernel).fit(X_map)
    reference = GaussianMixture(2, random_state=0, kernel=kernel).fit(X)
    _assert_same_model(gm, reference)
    assert_array_equal(gm.predict(X_map), reference.predict(X))
    assert_allclose(gm.score_samples(X_map), reference.score_samples(X), rtol=1e-12)
    # The file is untouched.
    assert_array_equal(np.load(path), X)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("kernel", ["numpy", "compiled"])
def test_c_and_fortran_order_give_the_same_model(X, covariance_type, kernel):
    params = dict(covariance_type=covariance_type, random_state=0, kernel=kernel)
    gm_c = GaussianMixture(2, **params).fit(np.ascontiguousarray(X))
    gm_f = GaussianMixture(2, **params).fit(np.asfortranarray(X))
    _assert_same_model(gm_c, gm_f)
    assert_allclose(gm_c.score_samples(np.asfortranarray(X)), gm_c.score_samples(X), rtol=1e-12)


def test_non_contiguous_view(X):
    X_wide = np.repeat(X, 2, axis=1)
    view = X_wide[:, ::2]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    gm = GaussianMixture(2, random_state=0).fit(view)
    _assert_same_model(gm, GaussianMixture(2, random_state=0).fit(X))


# ============================================================ bad data


def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


@pytest.mark.parametrize(
    "value, message", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")]
)
def test_non_finite_X_at_fit(X, value, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2).fit(_with(X, 5, 1, value))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X_at_inference(X, fitted, method, value, message):
    with pytest.raises(ValueError, match=message):
        getattr(fitted, method)(_with(X, 3, 0, value))


def test_values_whose_squares_overflow(X):
    with pytest.raises(ValueError, match=r"[Rr]escale"):
        GaussianMixture(2).fit(X * 1e200)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("reg_covar", ["auto", 0.0, 1e-6])
def test_non_finite_reg_covar_is_refused_like_sklearn(X, method, reg_covar):
    # As scikit-learn: "must be a float in the range [0.0, inf)". An infinite ridge
    # leaves no model to fit.
    for value in (np.inf, -np.inf, np.nan):
        gm = GaussianMixture(2, reg_covar=value)
        with pytest.raises(InvalidParameterError, match=r"reg_covar must be a finite"):
            getattr(gm, method)(X)
        assert not hasattr(gm, "means_")
    # Finite values still fit, and the finite check does not reject a legal one.
    getattr(GaussianMixture(2, reg_covar=reg_covar, random_state=0), method)(X)


@pytest.mark.parametrize("reg_covar", ["auto", 0.0, 1e-6])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("exponent", [-20, -30])
def test_float32_too_narrow_for_float32_precisions_is_refused(X, reg_covar, method, exponent):
    # The precisions of data scaled by 1e-20 are ~1e40, beyond float32's 3.4e38: the
    # fit refuses the data up front and says how to rescale, whatever reg_covar is,
    # rather than setting precisions_ = inf (which gaussmix.save then refuses).
    X32 = (X * 10.0**exponent).astype(np.float32)
    gm = GaussianMixture(2, reg_covar=reg_covar, random_state=0)
    with pytest.raises(ValueError, match=r"overflow float32.*X \* \de\+\d\d.*float64"):
        getattr(gm, method)(X32)
    assert not hasattr(gm, "means_")
    # The same data as float64 fit, with finite parameters.
    gm = GaussianMixture(2, reg_covar="auto", random_state=0).fit(X32.astype(np.float64))
    for name in FITTED_ARRAYS:
        assert np.all(np.isfinite(getattr(gm, name))), name


@pytest.mark.parametrize("covariance_type", ["full", "VEV", "spherical", "EVI"])
@pytest.mark.parametrize("exponent", [-14, 12])
def test_float32_at_the_edges_of_its_range_fits_like_float64(X, covariance_type, exponent):
    # Just inside the accepted range a float32 fit is the float64 fit, rounded.
    X32 = (X * 10.0**exponent).astype(np.float32)
    params = dict(n_components=2, covariance_type=covariance_type, reg_covar="auto")
    gm32 = GaussianMixture(**params, random_state=0).fit(X32)
    gm64 = GaussianMixture(**params, random_state=0).fit(X32.astype(np.float64))
    for name in FITTED_ARRAYS:
        value = getattr(gm32, name)
        assert value.dtype == np.float32 and np.all(np.isfinite(value)), name
        assert_allclose(value, getattr(gm64, name), rtol=1e-3, err_msg=name)
    assert np.all(np.isfinite(gm32.score_samples(X32)))


def test_float32_values_whose_squares_overflow_float32(X):
    X32 = (X * 1e17).astype(np.float32)
    with pytest.raises(ValueError, match=r"overflow float32.*[Rr]escale"):
        GaussianMixture(2).fit(X32)
    # As float64 the same values are fine.
    GaussianMixture(2, random_state=0).fit(X32.astype(np.float64))


def test_one_dimensional_X(X):
    with pytest.raises(ValueError, match="reshape"):
        GaussianMixture(1).fit(X[:, 0])


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples"])
def test_one_dimensional_X_at_inference(X, fitted, method):
    with pytest.raises(ValueError, match="reshape"):
        getattr(fitted, method)(X[0])


def test_zero_rows():
    with pytest.raises(ValueError, match="0 sample"):
        GaussianMixture(1).fit(np.empty((0, 3)))


def test_zero_features():
    with pytest.raises(ValueError, match="0 feature"):
        GaussianMixture(1).fit(np.empty((10, 0)))


def test_complex_X(X):
    with pytest.raises(ValueError, match=r"[Cc]omplex"):
        GaussianMixture(2).fit(X + 1j)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_X(X, fmt):
    with pytest.raises(TypeError, match="dense"):
        GaussianMixture(2).fit(sp.random(50, 3, density=0.5, format=fmt, random_state=0))


def test_sparse_X_at_inference(X, fitted):
    with pytest.raises(TypeError, match="dense"):
        fitted.predict(sp.csr_matrix(X))


def test_fewer_rows_than_components(X):
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(n_components=5).fit(X[:4])


def test_single_row(X):
    with pytest.raises(ValueError, match="1 sample"):
        GaussianMixture(1).fit(X[:1])


def test_as_many_rows_as_components_is_accepted(X):
    gm = GaussianMixture(n_components=3, random_state=0).fit(X[:3])
    assert gm.means_.shape == (3, N_FEATURES)
    # Each component sits on one of the three rows.
    assert_allclose(np.sort(gm.means_[:, 0]), np.sort(X[:3, 0]), atol=1e-10)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
def test_wrong_number_of_features_at_inference(X, fitted, method):
    with pytest.raises(ValueError, match=r"2 features.*expecting 3 features"):
        getattr(fitted, method)(X[:, :2])
    with pytest.raises(ValueError, match=r"4 features.*expecting 3 features"):
        getattr(fitted, method)(np.hstack([X, X[:, :1]]))


@pytest.mark.parametrize("method", ["bic", "aic"])
def test_wrong_number_of_features_for_criteria(X, fitted, method):
    with pytest.raises(ValueError, match=r"2 features.*expecting 3 features"):
        getattr(fitted, method)(X[:, :2])


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic", "sample"]
)
def test_unfitted_use(X, method):
    gm = GaussianMixture(2)
    args = (3,) if method == "sample" else (X,)
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(gm, method)(*args)


def test_object_array_of_strings():
    X_str = np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object)
    with pytest.raises(ValueError, match="could not convert string to float"):
        GaussianMixture(1).fit(X_str)


def test_object_array_of_numbers_is_accepted(X):
    gm = GaussianMixture(2, random_state=0).fit(X.astype(object))
    assert gm.means_.dtype == np.float64
    _assert_same_model(gm, GaussianMixture(2, random_state=0).fit(X), rtol=0)


# ============================================================ bad hyperparameters

BAD_HYPERPARAMETERS = [
    ({"n_components": 0}, "n_components"),
    ({"n_components": 2.5}, "n_components"),
    ({"n_components": True}, "n_components"),
    ({"tol": -1}, "tol"),
    ({"tol": np.nan}, "tol"),
    ({"tol": np.inf}, "tol"),
    ({"reg_covar": -1}, "reg_covar"),
    ({"reg_covar": "big"}, "reg_covar"),
    ({"reg_covar": np.inf}, "reg_covar"),
    ({"reg_covar": float("inf")}, "reg_covar"),
    ({"reg_covar": np.nan}, "reg_covar"),
    ({"learning_offset": np.inf}, "learning_offset"),
    ({"learning_offset": np.nan}, "learning_offset"),
    ({"learning_decay": np.nan}, "learning_decay"),
    ({"max_iter": -1}, "max_iter"),
    ({"max_iter": 10.0}, "max_iter"),
    ({"n_init": 0}, "n_init"),
    ({"init_params": "kmeans++"}, "init_params"),
    ({"covariance_type": "foo"}, "covariance_type"),
    ({"covariance_type": None}, "covariance_type"),
    ({"kernel": "cuda"}, "kernel"),
    ({"block_size": 0}, "block_size"),
    ({"block_size": 1.5}, "block_size"),
    ({"verbose": -1}, "verbose"),
    ({"verbose_interval": 0}, "verbose_interval"),
    ({"warm_start": "yes"}, "warm_start"),
]


def _ids(cases):
    return ["-".join(f"{k}={v!r}" for k, v in params.items()) for params, _ in cases]


@pytest.mark.parametrize("params, name", BAD_HYPERPARAMETERS, ids=_ids(BAD_HYPERPARAMETERS))
def test_bad_hyperparameter_raises_at_fit(X, params, name):
    gm = GaussianMixture(**params)  # construction never validates
    with pytest.raises(ValueError, match=re.escape(name)):
        gm.fit(X)
    assert not hasattr(gm, "means_")


@pytest.mark.parametrize("params, name", BAD_HYPERPARAMETERS, ids=_ids(BAD_HYPERPARAMETERS))
def test_bad_hyperparameter_is_invalid_parameter_error(X, params, name):
    # The documented contract: every invalid hyperparameter raises
    # gaussmix.InvalidParameterError (a ValueError and a TypeError, as scikit-learn's).
    with pytest.raises(InvalidParameterError, match=re.escape(name)):
        GaussianMixture(**params).fit(X)


def test_bad_covariance_type_lists_the_valid_names(X):
    with pytest.raises(ValueError, match="covariance_type") as info:
        GaussianMixture(covariance_type="foo").fit(X)
    for valid in ("full", "tied", "diag", "spherical", "VVV", "EEE", "VVI", "VII"):
        assert repr(valid) in str(info.value)
    assert "'foo'" in str(info.value)


def test_bad_init_params_lists_the_valid_names(X):
    with pytest.raises(ValueError, match="init_params") as info:
        GaussianMixture(init_params="kmeans++").fit(X)
    for valid in ("kmeans", "k-means++", "random", "random_from_data"):
        assert repr(valid) in str(info.value)


def test_invalid_parameter_error_is_value_and_type_error():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


@pytest.mark.parametrize(
    "alias, name", [("VVV", "full"), ("EEE", "tied"), ("VVI", "diag"), ("VII", "spherical")]
)
def test_mclust_aliases_are_accepted(X, alias, name):
    by_alias = GaussianMixture(2, covariance_type=alias, random_state=0).fit(X)
    by_name = GaussianMixture(2, covariance_type=name, random_state=0).fit(X)
    _assert_same_model(by_alias, by_name, rtol=0)


# ============================================================ bad initial parameters


@pytest.mark.parametrize(
    "weights, message",
    [
        ([1 / 3, 1 / 3, 1 / 3], r"shape of \(2,\)"),
        ([1.0], r"shape of \(2,\)"),
        ([0.5, 0.6], "normalized"),
        ([0.2, 0.2], "normalized"),
        ([-0.5, 1.5], r"range \[0, 1\]"),
        ([np.nan, 0.5], "NaN"),
    ],
)
def test_bad_weights_init(X, weights, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2, weights_init=weights).fit(X)


@pytest.mark.parametrize("shape", [(3, 3), (2, 2), (2, 4), (6,), (1, 2, 3)])
def test_bad_means_init_shape(X, shape):
    with pytest.raises(ValueError, match=r"means.*shape of \(2, 3\)"):
        GaussianMixture(2, means_init=np.zeros(shape)).fit(X)


def test_non_finite_means_init(X):
    means = np.zeros((2, 3))
    means[1, 2] = np.inf
    with pytest.raises(ValueError, match="means_init"):
        GaussianMixture(2, means_init=means).fit(X)


@pytest.mark.parametrize(
    "covariance_type, shape, expected",
    [
        ("full", (2, 3), r"\(2, 3, 3\)"),
        ("full", (3, 3, 3), r"\(2, 3, 3\)"),
        ("tied", (2, 3, 3), r"\(3, 3\)"),
        ("tied", (2, 2), r"\(3, 3\)"),
        ("diag", (2,), r"\(2, 3\)"),
        ("diag", (3, 2), r"\(2, 3\)"),
        ("spherical", (2, 3), r"\(2,\)"),
        ("spherical", (3,), r"\(2,\)"),
    ],
)
def test_bad_precisions_init_shape(X, covariance_type, shape, expected):
    gm = GaussianMixture(2, covariance_type=covariance_type, precisions_init=np.ones(shape))
    with pytest.raises(ValueError, match=r"precision.*shape of " + expected):
        gm.fit(X)


def test_non_symmetric_precisions_init(X):
    asym = np.eye(3)
    asym[0, 1] = 0.5
    with pytest.raises(ValueError, match="symmetric"):
        GaussianMixture(
            2, covariance_type="full", precisions_init=np.stack([np.eye(3), asym])
        ).fit(X)
    with pytest.raises(ValueError, match="symmetric"):
        GaussianMixture(2, covariance_type="tied", precisions_init=asym).fit(X)


def test_not_positive_definite_precisions_init(X):
    indefinite = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # eig -1, 1, 3
    assert np.linalg.eigvalsh(indefinite).min() < 0
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture(
            2, covariance_type="full", precisions_init=np.stack([np.eye(3), indefinite])
        ).fit(X)
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture(2, covariance_type="tied", precisions_init=indefinite).fit(X)
    singular = np.diag([1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture(2, covariance_type="tied", precisions_init=singular).fit(X)


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_diag_and_spherical_precisions_init(X, bad):
    diag = np.ones((2, 3))
    diag[1, 2] = bad
    with pytest.raises(ValueError, match=r"diag precision.*positive"):
        GaussianMixture(2, covariance_type="diag", precisions_init=diag).fit(X)
    with pytest.raises(ValueError, match=r"spherical precision.*positive"):
        GaussianMixture(2, covariance_type="spherical", precisions_init=np.array([1.0, bad])).fit(
            X
        )


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_valid_precisions_init_is_used(X, covariance_type):
    # With max_iter=0 the model keeps the initial parameters it was given.
    shapes = {"full": (2, 3, 3), "tied": (3, 3), "diag": (2, 3), "spherical": (2,)}
    precisions = {
        "full": np.stack(
            [np.diag([1.0, 2.0, 4.0]), np.array([[2.0, 0.5, 0], [0.5, 2, 0], [0, 0, 1]])]
        ),
        "tied": np.array([[2.0, 0.5, 0], [0.5, 2, 0], [0, 0, 1]]),
        "diag": np.array([[1.0, 2.0, 4.0], [0.5, 0.25, 1.0]]),
        "spherical": np.array([0.5, 4.0]),
    }[covariance_type]
    assert precisions.shape == shapes[covariance_type]
    gm = GaussianMixture(
        2,
        covariance_type=covariance_type,
        weights_init=[0.3, 0.7],
        means_init=[[0, 0, 0], [8, 8, 8]],
        precisions_init=precisions,
        max_iter=0,
    ).fit(X)
    assert_allclose(gm.precisions_, precisions, rtol=1e-12)
    assert_allclose(gm.weights_, [0.3, 0.7])
    if covariance_type in ("full", "tied"):
        assert_allclose(gm.covariances_, np.linalg.inv(precisions), rtol=1e-12)
    else:
        assert_allclose(gm.covariances_, 1 / precisions, rtol=1e-12)


# ============================================================ bad sample weights


@pytest.mark.parametrize(
    "make_weight, message",
    [
        (lambda n: np.r_[-1.0, np.ones(n - 1)], "non-negative"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
        (lambda n: np.r_[np.ones(n - 1), np.inf], "infinity"),
        (lambda n: np.zeros(n), r"weight.*zero|zero.*weight"),
        (lambda n: np.ones(n - 1), rf"shape \({N_ROWS},\)"),
        (lambda n: np.ones(n + 1), rf"shape \({N_ROWS},\)"),
        (lambda n: np.ones((n, 1)), rf"shape \({N_ROWS},\).*\({N_ROWS}, 1\)"),
        (lambda n: np.ones((n, 2)), rf"shape \({N_ROWS},\)"),
        (lambda n: np.r_[1.0, np.zeros(n - 1)], "n_components"),
        (lambda n: ["a"] * n, "sample_weight"),
    ],
    ids=[
        "negative",
        "nan",
        "inf",
        "all-zero",
        "short",
        "long",
        "column",
        "2-D",
        "one-positive",
        "strings",
    ],
)
def test_bad_sample_weight(X, make_weight, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2, random_state=0).fit(X, sample_weight=make_weight(len(X)))


def test_bad_sample_weight_leaves_caller_array_alone(X):
    weight = np.r_[-1.0, np.ones(len(X) - 1)]
    before = weight.copy()
    with pytest.raises(ValueError):
        GaussianMixture(2).fit(X, sample_weight=weight)
    assert_array_equal(weight, before)


@pytest.mark.parametrize("method", ["score", "bic", "aic"])
def test_bad_sample_weight_at_scoring(X, fitted, method):
    with pytest.raises(ValueError, match="non-negative"):
        getattr(fitted, method)(X, sample_weight=np.r_[-1.0, np.ones(len(X) - 1)])
    with pytest.raises(ValueError, match=r"weight.*zero|zero.*weight"):
        getattr(fitted, method)(X, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="shape"):
        getattr(fitted, method)(X, sample_weight=np.ones(3))


# ============================================================ sample()


@pytest.mark.parametrize("n_samples", [0, -3])
def test_sample_needs_a_positive_count(fitted, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(n_samples)


def test_sample_count_must_be_an_integer(fitted):
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(2.5)


def test_sample_accepts_numpy_integers(fitted):
    samples, labels = fitted.sample(np.int64(4))
    assert samples.shape == (4, N_FEATURES)
    assert labels.shape == (4,)


def test_failed_fit_leaves_no_fitted_state(X):
    gm = GaussianMixture(2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError):
            gm.fit(_with(X, 0, 0, np.nan))
    with pytest.raises(NotFittedError):
        gm.predict(X)


# ============================================================ data files (open_data)


def _read_all(source) -> np.ndarray:
    return np.concatenate(list(source.blocks()))


def _data_error(path, **kwargs) -> str:
    """The ValueError of opening ``path`` and reading it through."""
    with pytest.raises(ValueError) as info:
        _read_all(open_data(path, **kwargs))
    message = str(info.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    ("text", "line", "n_found"),
    [
        ("a,b\n1,2\n3,4,5\n6,7\n", 3, 3),  # a middle row
        ("a,b\n1,2,3\n4,5\n", 2, 3),  # the first row, which pandas would take as an index
        ("a,b\n\n1,2,\n3,4\n", 3, 3),  # a trailing comma is a field too
        ("a,b\n" + "1,2\n" * 300 + "1,2,3,4\n", 302, 4),  # past the first block
    ],
)
def test_csv_row_with_more_fields_than_the_header(tmp_path, text, line, n_found):
    path = tmp_path / "data.csv"
    path.write_text(text)
    message = _data_error(path, block_rows=100)
    assert f"line {line} has {n_found} fields, but the header names 2 columns" in message
    # Whatever the columns used: pandas would drop the extra field silently.
    assert f"line {line} has" in _data_error(path, columns=["a"], block_rows=100)


def test_csv_quoted_commas_and_short_rows(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('a,b\n1,"2"\n3,4\n')
    assert_array_equal(_read_all(open_data(path)), [[1, 2], [3, 4]])
    path.write_text("a,b\n1,2\n3\n")  # a short row reads as a missing value
    assert "row 1 contains NaN" in _data_error(path)


def test_csv_rows_are_counted_across_read_pieces(tmp_path, monkeypatch):
    from gaussmix.io import _sources

    text = "a,b\r\n\r\n1,2\r\n  \r\n3,4\r\n\n5,6\n7,8"  # blank lines, CRLF, no final newline
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())
    expected = [[1, 2], [3, 4], [5, 6], [7, 8]]
    for piece in (1, 2, 3, 5, 7, 1 << 20):
        monkeypatch.setattr(_sources, "_READ_PIECE", piece)
        source = open_data(path)
        assert source.n_rows == 4, piece
        assert_array_equal(_read_all(source), expected)


def test_csv_overlong_line_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    from gaussmix.io import _sources

    monkeypatch.setattr(_sources, "_MAX_CSV_LINE_BYTES", 50)
    monkeypatch.setattr(_sources, "_READ_PIECE", 16)
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n" + "1," + "9" * 60 + "\n3,4\n")
    with pytest.raises(ValueError, match=r"data\.csv: line 3 is longer than 50 bytes"):
        open_data(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: a CSV file needs a header row"),
        (b"\n\n", "is empty: a CSV file needs a header row"),
        (b"a,b\n1,\xe92\n", r"is not UTF-8 text \(invalid continuation byte: byte 0xe9\)"),
        (b"a\xe9,b\n1,2\n", "is not UTF-8 text"),
        (b"a,b\n" + b"1,2\n" * 1000 + b"3,\xff\n", "is not UTF-8 text"),  # in a later block
    ],
)
def test_unreadable_csv_files_are_named(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert re.search(message, _data_error(path, block_rows=100))


def test_non_parquet_and_damaged_parquet_files_are_named(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_text("hello")
    assert "data.parquet: not a Parquet file, or a damaged one (" in _data_error(path)
    path.write_bytes(b"PAR1" + bytes(100) + b"PAR1")
    assert "not a Parquet file, or a damaged one" in _data_error(path)


def test_unsupported_parquet_feature_is_named(tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(path)

    def unsupported(*args, **kwargs):
        raise pa.ArrowNotImplementedError("Support for codec 'lzo' not built")

    monkeypatch.setattr(pq, "ParquetFile", unsupported)
    with pytest.raises(ValueError, match=r"data\.parquet: not a Parquet file, or a damaged one"):
        open_data(path)


def test_damaged_parquet_page_is_named(tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    values = np.random.RandomState(0).randn(5000, 2)
    pd.DataFrame(values, columns=["a", "b"]).to_parquet(path, compression=None)
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    first_page = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(path.read_bytes())
    # The footer still reads (open_data succeeds); the first page's header does not.
    data[first_page : first_page + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    source = open_data(path)
    with pytest.raises(ValueError, match=r"data\.parquet: the Parquet file is damaged \("):
        _read_all(source)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (50, r"is not a valid \.npy file \(EOF: reading array header"),
        (5, r"is not a valid \.npy file \(EOF: reading magic string"),
        (b"hello world", r"is not a valid \.npy file \(the magic string is not correct"),
    ],
)
def test_truncated_or_foreign_npy_header(tmp_path, content, message):
    path = tmp_path / "data.npy"
    np.save(path, np.arange(20.0).reshape(10, 2))
    path.write_bytes(path.read_bytes()[:content] if isinstance(content, int) else content)
    assert re.search(message, _data_error(path))


@pytest.mark.parametrize(("change", "found"), [(-8, 152), (16, 176), (160, 320)])
def test_npy_whose_size_does_not_match_its_header(tmp_path, change, found):
    # Fewer bytes than the header's shape (cut short), or more (a header that
    # declares fewer rows than the file holds): both refused, neither read silently.
    path = tmp_path / "data.npy"
    np.save(path, np.arange(20.0).reshape(10, 2))
    data = path.read_bytes()
    path.write_bytes(data[:change] if change < 0 else data + bytes(change))
    message = _data_error(path)
    assert f"holds {found:,} bytes of data after its header, but the header declares " in message
    assert "shape (10, 2) of float64 (160 bytes)" in message


@pytest.mark.parametrize("column", [-1, -2, 2, 7, True, 1.0])
def test_npy_column_positions_must_be_in_range(tmp_path, column):
    path = tmp_path / "data.npy"
    np.save(path, np.arange(20.0).reshape(10, 2))
    with pytest.raises(ValueError, match=r"columns must be integers in \[0, 2\), got"):
        open_data(path, columns=[column])
    assert_array_equal(
        _read_all(open_data(path, columns=[np.int64(1)])), np.arange(1, 20, 2)[:, None]
    )


@pytest.mark.parametrize("column", [-1, -2, 2, 5])
def test_named_file_column_positions_must_be_in_range(tmp_path, column):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(
        ValueError, match=r"a column given by position must be an integer in \[0, 2\)"
    ):
        open_data(path, columns=[column])
    assert_array_equal(_read_all(open_data(path, columns=[1])), [[2], [4]])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_data_path_that_is_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "data.csv"
    if kind == "fifo":
        os.mkfifo(path)  # opening it to read would wait for a writer
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    what = {"fifo": "a FIFO", "directory": "a directory", "device": "a character device"}[kind]
    with pytest.raises(ValueError, match=f"data.csv is {what}.*, not a regular file"):
        open_data(path)
