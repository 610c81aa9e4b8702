"""A pass as tasks that threads claim: atomics, ordered sums, errors, late threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import mixture_data, start_params
from gaussmix import GaussianMixture
from gaussmix.backends import InMemoryBackend, thread_limit
from gaussmix.backends._pool import run_everywhere, shared_pool
from gaussmix.kernels import _compiled, _numpy


def test_every_task_runs_once_when_threads_race_for_them():
    """Threads claiming 20,000 one-row tasks at once: a task claimed twice would add
    its row twice to its slot, one never claimed would leave its slot empty."""
    X = np.random.default_rng(0).normal(size=(20_000, 2))
    args = (X, None, np.zeros((1, 2)), np.ones((1, 2)), np.zeros(1), "diag", "diag")
    for workers in (1, 2, 4):
        tasks = _compiled.EstepTasks(*args, task_rows=1)
        assert tasks.n_tasks == len(X)
        run_everywhere(tasks.run, tasks.wait, workers)
        n_k, mean_k, _, _ = tasks.result()
        assert n_k[0] == len(X)
        np.testing.assert_allclose(mean_k[0], X.mean(axis=0), rtol=1e-12, atol=1e-15)


def _random_params(rng, n_components, n_features, form):
    means = rng.normal(size=(n_components, n_features))
    if form == "full":
        factors = np.triu(rng.normal(size=(n_components, n_features, n_features)), 1)
        scale = rng.uniform(0.5, 2, size=(n_components, 1, 1))
        precisions = factors + np.eye(n_features) * scale
    else:
        precisions = rng.uniform(0.5, 2, size=(n_components, n_features))
    return means, precisions, rng.normal(size=n_components)


def _run(tasks, workers):
    run_everywhere(tasks.run, tasks.wait, workers)
    return tasks.result()


@pytest.mark.parametrize("log_background", [None, -3.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("form", "scatter"), [("full", "full"), ("diag", "diag")])
@pytest.mark.parametrize("task_rows", [1, 333, 1024, 5000])
def test_tasks_match_reference_on_any_number_of_threads(
    task_rows, form, scatter, weighted, log_background, simd_target
):
    """The slots are summed in row order: bit-identical on 1, 2 or 3 threads, and
    the reference kernel's statistics of all the rows."""
    rng = np.random.default_rng(task_rows)
    X = rng.normal(size=(3000, 5)) * 2 + 5
    weight = rng.uniform(0, 3, size=len(X)) if weighted else None
    means, precisions, log_norm = _random_params(rng, 3, 5, form)
    means = X[rng.choice(len(X), 3, replace=False)]  # every component holds rows
    args = (X, weight, means, precisions, log_norm, form, scatter, log_background)
    expected = _numpy.estep_stats(*args)
    results = [_run(_compiled.EstepTasks(*args, task_rows=task_rows), w) for w in (1, 2, 3)]
    for result in results[1:]:
        for a, b in zip(result, results[0], strict=True):
            np.testing.assert_array_equal(a, b)
    for name, a, e in zip(
        ("n_k", "mean_k", "scatter_k"), results[0][:3], expected[:3], strict=True
    ):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10 * np.abs(e).max(), err_msg=name)
    np.testing.assert_allclose(results[0][3], expected[3], rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_is_the_same_on_one_thread_or_two():
    """EM passes from one start are bit-identical whatever the thread count."""
    X, _ = mixture_data(60_000, 4, 3, seed=2)
    kwargs = dict(n_components=3, max_iter=5, tol=0, **start_params(X[:2000], 3, "full"))
    with thread_limit(1):
        one = GaussianMixture(**kwargs).fit(X)
    two = GaussianMixture(**kwargs).fit(X)
    np.testing.assert_array_equal(one.means_, two.means_)
    np.testing.assert_array_equal(one.covariances_, two.covariances_)
    assert one.lower_bound_ == two.lower_bound_


def test_task_size_bounds_slots_and_tasks():
    for n_rows, k, d, scatter in [
        (100_000, 3, 8, "diag"),
        (10**6, 16, 64, "full"),
        (5000, 2, 2, "full"),
    ]:
        rows = _compiled.task_rows_for(n_rows, k, d, scatter)
        n_tasks = -(-n_rows // rows)
        second = d if scatter == "full" else 1
        slot_bytes = 8 * (1 + k * (1 + d + second * d))
        assert rows % _compiled._CHUNK_ROWS == 0
        assert n_tasks <= _compiled._MAX_TASKS
        assert n_tasks * slot_bytes <= _compiled._MAX_SLOT_BYTES
    # Rows per task chosen by the user: kept, unless their slots would not fit.
    assert _compiled.task_rows_for(10_000, 3, 2, "full", 7) == 7
    assert _compiled.task_rows_for(10**8, 16, 64, "full", 1000) is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_user_blocks_too_small_for_slots_run_as_merged_blocks(monkeypatch):
    monkeypatch.setattr(_compiled, "_MAX_SLOT_BYTES", 1000)
    X, _ = mixture_data(3000, 3, 3, seed=4)
    kwargs = dict(n_components=3, random_state=0, max_iter=4, tol=0)
    blocks = GaussianMixture(block_size=100, **kwargs).fit(X)
    monkeypatch.undo()
    tasks = GaussianMixture(block_size=100, **kwargs).fit(X)
    np.testing.assert_allclose(blocks.means_, tasks.means_, rtol=1e-10)
    np.testing.assert_allclose(blocks.covariances_, tasks.covariances_, rtol=1e-10)


class _FailingTasks:
    """Tasks whose share on a pool thread raises, and which never all finish."""

    n_tasks = 2

    def __init__(self):
        self.caller = threading.get_ident()

    def run(self):
        if threading.get_ident() != self.caller:
            raise RuntimeError("task failed on a worker")

    def wait(self):
        return False


def test_worker_error_reaches_the_caller():
    with pytest.raises(RuntimeError, match="task failed on a worker"):
        tasks = _FailingTasks()
        run_everywhere(tasks.run, tasks.wait, 2)


def test_caller_does_all_the_work_while_the_pool_is_busy():
    """A thread that starts late takes no task: the caller claims them all and does
    not wait for it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 3))
    means, precisions, log_norm = _random_params(rng, 2, 3, "full")
    args = (X, None, means, precisions, log_norm, "full", "full")
    release = threading.Event()
    busy = shared_pool(1).submit(release.wait, 60)
    try:
        tasks = _compiled.EstepTasks(*args, task_rows=1024)
        result = _run(tasks, 2)
        assert not busy.done()  # the pool thread never got to its share
    finally:
        release.set()
    busy.result()
    expected = _numpy.estep_stats(*args)
    np.testing.assert_allclose(result[2], expected[2], rtol=1e-10)


def test_backend_offers_rows_only_when_threads_can_read_them():
    X = np.zeros((10, 3))
    assert InMemoryBackend(X, None, 5).shared_rows() is X
    assert InMemoryBackend(np.asfortranarray(np.ones((10, 3))), None, 5).shared_rows() is None
    assert InMemoryBackend(X.astype(np.int64), None, 5).shared_rows() is None


def _fit_means(X):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(3, random_state=0, max_iter=5, tol=0).fit(X).means_


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_compiled_passes_on_threads_in_a_forked_child():
    """A child forked after the parent's passes ran on threads runs its own passes
    on threads (the kernels hold no thread or lock of their own), bit for bit."""
    import multiprocessing

    X, _ = mixture_data(60_000, 4, 3, seed=7)
    expected = _fit_means(X)  # starts the parent's pool threads
    with multiprocessing.get_context("fork").Pool(1) as child:
        got = child.apply_async(_fit_means, (X,)).get(timeout=120)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("form", "scatter"), [("full", "full"), ("diag", "diag")])
@pytest.mark.parametrize("weighted", [False, True])
def test_float32_tasks_are_bit_identical_on_any_number_of_threads(form, scatter, weighted):
    """float32 rows (float32 log-densities, exponentials and, for diagonal models,
    chunk sums): the slots are summed in row order all the same."""
    rng = np.random.default_rng(21)
    X = (rng.normal(size=(7000, 6)) * 2 + 5).astype(np.float32)
    weight = rng.uniform(0, 3, size=len(X)) if weighted else None
    means, precisions, log_norm = _random_params(rng, 4, 6, form)
    means = X[rng.choice(len(X), 4, replace=False)].astype(np.float64)
    args = (X, weight, means, precisions, log_norm, form, scatter)
    results = [_run(_compiled.EstepTasks(*args, task_rows=1008), w) for w in (1, 2, 3)]
    for result in results[1:]:
        for a, b in zip(result, results[0], strict=True):
            np.testing.assert_array_equal(a, b)
    expected = _numpy.estep_stats(*args)
    np.testing.assert_allclose(results[0][0], expected[0], rtol=1e-5, atol=1e-5 * len(X))
    np.testing.assert_allclose(results[0][3], expected[3], rtol=1e-5)
