"""The user's cap on threads, and results that do not depend on the thread count."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import gaussmix
from conftest import mixture_data
from gaussmix import GaussianMixture
from gaussmix.backends import _pool as backend_pool
from gaussmix.backends import thread_limit

THREAD_COUNTS = (1, 2, 3, 5)


@pytest.fixture(autouse=True)
def _restore_setting():
    previous = gaussmix.set_num_threads(None)
    yield
    gaussmix.set_num_threads(previous)


def test_set_num_threads_returns_the_previous_setting():
    assert gaussmix.set_num_threads(3) is None
    assert gaussmix.get_num_threads() == 3
    assert gaussmix.set_num_threads(1) == 3
    assert gaussmix.get_num_threads() == 1
    assert gaussmix.set_num_threads(None) == 1
    assert gaussmix.get_num_threads() >= 1


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_num_threads_refuses_what_is_not_a_positive_integer(bad):
    with pytest.raises(ValueError, match="positive integer"):
        gaussmix.set_num_threads(bad)


def test_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv("GAUSSMIX_NUM_THREADS", "3")
    assert gaussmix.get_num_threads() == 3
    gaussmix.set_num_threads(2)  # the call wins over the environment
    assert gaussmix.get_num_threads() == 2


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5"])
def test_bad_environment_variable_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("GAUSSMIX_NUM_THREADS", value)
    X, _ = mixture_data(200, 2, 2, seed=0)
    with pytest.raises(ValueError, match="GAUSSMIX_NUM_THREADS must be a positive integer"):
        GaussianMixture(2, random_state=0).fit(X)


def test_environment_variable_in_a_fresh_process():
    env = dict(os.environ, GAUSSMIX_NUM_THREADS="1")
    code = "import gaussmix; print(gaussmix.get_num_threads())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "1"


def test_thread_limit_of_the_calling_thread_never_raises_the_cap():
    gaussmix.set_num_threads(2)
    with thread_limit(1):
        assert gaussmix.get_num_threads() == 1
    with thread_limit(4):
        assert gaussmix.get_num_threads() == 2
    assert gaussmix.get_num_threads() == 2


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_fits_use_no_more_threads_than_the_cap(monkeypatch, cap):
    """Every pool a fit hands work to has at most ``cap - 1`` threads (the caller is one)."""
    requested = []
    real_pool = backend_pool.shared_pool

    def recording_pool(workers):
        requested.append(workers)
        return real_pool(workers)

    monkeypatch.setattr(backend_pool, "shared_pool", recording_pool)
    gaussmix.set_num_threads(cap)
    X, _ = mixture_data(60_000, 6, 3, seed=1)
    gm = GaussianMixture(3, random_state=0, max_iter=3, tol=0)
    with pytest.warns(Warning, match="did not converge"):
        gm.fit(X)
    gm.predict_proba(X)
    assert all(workers <= cap - 1 for workers in requested), requested
    if cap > 1:
        assert requested, "the fit ran on one thread although more were allowed"


def _fit(X, sample_weight=None, **params):
    gm = GaussianMixture(random_state=0, max_iter=6, tol=0, **params)
    with pytest.warns(Warning, match="did not converge"):
        gm.fit(X, sample_weight=sample_weight)
    return gm


def _assert_bit_identical(a, b, X):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.lower_bound_ == b.lower_bound_
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))


@pytest.mark.parametrize(
    "init_params, covariance_type, dtype",
    [
        ("kmeans", "full", np.float64),
        ("kmeans", "diag", np.float32),
        ("kmeans", "VVE", np.float64),
        ("k-means++", "tied", np.float64),
        ("random", "full", np.float64),
        ("random_from_data", "spherical", np.float32),
        ("hc", "full", np.float64),
    ],
)
def test_same_model_bit_for_bit_on_any_number_of_threads(init_params, covariance_type, dtype):
    """The default start included: block and task boundaries depend on the shape alone."""
    X, _ = mixture_data(50_000, 5, 3, seed=3)
    X = X.astype(dtype)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    fits = []
    for n_threads in THREAD_COUNTS:
        gaussmix.set_num_threads(n_threads)
        fits.append(
            _fit(
                X,
                weight if init_params == "kmeans" else None,
                n_components=3,
                covariance_type=covariance_type,
                init_params=init_params,
            )
        )
    for other in fits[1:]:
        _assert_bit_identical(fits[0], other, X)


def test_file_fit_bit_for_bit_on_any_number_of_threads(tmp_path):
    X, _ = mixture_data(40_000, 4, 3, seed=5)
    path = tmp_path / "rows.npy"
    np.save(path, X)
    fits = []
    for n_threads in THREAD_COUNTS:
        gaussmix.set_num_threads(n_threads)
        fits.append(_fit(gaussmix.open_data(path, block_rows=3000), n_components=3))
    for other in fits[1:]:
        _assert_bit_identical(fits[0], other, X)


def test_threadpoolctl_lists_gaussmix_with_its_extension_module():
    from threadpoolctl import threadpool_info

    from gaussmix.kernels import _gaussmix

    (info,) = [i for i in threadpool_info() if i["user_api"] == "gaussmix"]
    assert info["filepath"] == os.path.realpath(_gaussmix.__file__)
    assert info["num_threads"] == gaussmix.get_num_threads()
    assert info["version"] == gaussmix.__version__


@pytest.mark.parametrize("setting", [None, 3])
def test_threadpool_limits_caps_gaussmix_and_restores_the_setting(monkeypatch, setting):
    """threadpool_limits(1) caps fits to one thread (no pool is asked for), and
    restores the setting it found, the default included."""
    from threadpoolctl import threadpool_limits

    requested = []
    real_pool = backend_pool.shared_pool

    def recording_pool(workers):
        requested.append(workers)
        return real_pool(workers)

    monkeypatch.setattr(backend_pool, "shared_pool", recording_pool)
    gaussmix.set_num_threads(setting)
    X, _ = mixture_data(60_000, 6, 3, seed=1)
    with threadpool_limits(1):
        assert gaussmix.get_num_threads() == 1
        _fit(X, n_components=3)
    assert requested == []
    assert gaussmix.set_num_threads(None) == setting
    gaussmix.set_num_threads(3)
    with threadpool_limits(1, user_api="blas"):
        assert gaussmix.get_num_threads() == 3  # limits of BLAS leave gaussmix alone


def test_threadpool_limits_in_a_fresh_process():
    """The controller is registered and the extension loaded by ``import gaussmix``,
    whichever of gaussmix and threadpoolctl is imported first."""
    code = (
        "from threadpoolctl import threadpool_limits\n"
        "import gaussmix\n"
        "with threadpool_limits(1):\n"
        "    inside = gaussmix.get_num_threads()\n"
        "print(inside, gaussmix.set_num_threads(None))\n"
    )
    env = dict(os.environ, GAUSSMIX_NUM_THREADS="2")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "None"]
