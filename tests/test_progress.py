"""The EM progress hook: ``gaussmix._em.em_progress``."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import mixture_data
from gaussmix import GaussianMixture
from gaussmix._em import EMIteration, em_progress


@pytest.fixture(scope="module")
def X():
    return mixture_data(300, 2, 3, seed=1)[0]


def test_every_iteration_of_every_start_is_reported(X):
    seen: list[EMIteration] = []
    with em_progress(seen.append):
        gm = GaussianMixture(3, n_init=2, random_state=0, tol=1e-4).fit(X)
    starts = [it.start for it in seen]
    assert starts == sorted(starts) and set(starts) == {0, 1}
    assert {it.n_starts for it in seen} == {2}
    assert {it.max_iter for it in seen} == {100}
    for start in (0, 1):
        iterations = [it for it in seen if it.start == start]
        assert [it.n_iter for it in iterations] == list(range(1, len(iterations) + 1))
        assert iterations[0].change == np.inf
        # Only the last iteration of a start meets the tolerance.
        assert [it.converged for it in iterations] == [False] * (len(iterations) - 1) + [True]
    # The best start's bounds are the estimator's.
    best = [it for it in seen if it.lower_bound == gm.lower_bound_]
    assert best
    bounds = [it.lower_bound for it in seen if it.start == best[-1].start]
    assert bounds == gm.lower_bounds_


def test_hook_changes_nothing_and_ends_with_its_context(X):
    calls = []
    with em_progress(calls.append):
        with_hook = GaussianMixture(3, random_state=0).fit(X)
    n_calls = len(calls)
    without = GaussianMixture(3, random_state=0).fit(X)
    assert len(calls) == n_calls > 0
    np.testing.assert_array_equal(with_hook.means_, without.means_)
    assert "callback" not in with_hook.get_params()


def test_fits_in_other_threads_are_not_reported(X):
    calls = []
    with em_progress(calls.append):
        thread = threading.Thread(target=GaussianMixture(2, random_state=0).fit, args=(X,))
        thread.start()
        thread.join()
    assert calls == []


def test_callback_exception_stops_the_fit(X):
    def stop(iteration):
        if iteration.n_iter == 2:
            raise KeyboardInterrupt

    gm = GaussianMixture(3, random_state=0)
    with em_progress(stop), pytest.raises(KeyboardInterrupt):
        gm.fit(X)
    assert not hasattr(gm, "means_")
