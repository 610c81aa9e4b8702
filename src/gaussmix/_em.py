"""The EM loop: one pass over the data per iteration, convergence, restarts.

Each iteration is ``stats = backend.estep(kernel, model, params)`` followed by
``params = m_step(stats)``: the backend owns the pass (threads, tasks, blocks,
files), the loop only sees statistics. The E-step's log-likelihood is that of
the parameters going *into* the iteration, so ``lower_bound_`` means what it
means in scikit-learn: the mean log-likelihood of the last E-step.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

from ._mstep import check_log_likelihood, m_step
from ._params import MixtureParams
from ._setup import FitSetup
from .covariance import RIDGE_FRACTION, CovarianceModel, Repair
from .exceptions import DegenerateComponentWarning

__all__ = ["EMIteration", "EMResult", "em_progress", "fit_em", "warn_repairs"]


@dataclass
class EMResult:
    """Outcome of :func:`fit_em` for the best of its starts."""

    params: MixtureParams
    lower_bound: float
    lower_bounds: list[float]
    n_iter: int
    converged: bool
    repairs: list[tuple[int, Repair]] = field(default_factory=list)


@dataclass(frozen=True)
class EMIteration:
    """One finished EM iteration, as reported to an :func:`em_progress` callback.

    Attributes
    ----------
    start : int
        Index of the start (initialisation) this iteration belongs to, from 0.
    n_starts : int
        Number of starts of the fit.
    n_iter : int
        Iterations run by this start so far, from 1.
    max_iter : int
        The most iterations a start may run.
    lower_bound : float
        Mean log-likelihood at this iteration's E-step.
    change : float
        Change of ``lower_bound`` since the previous iteration (``inf`` at the first
        iteration of a cold start).
    converged : bool
        Whether this iteration met the tolerance (the start ends with it).
    """

    start: int
    n_starts: int
    n_iter: int
    max_iter: int
    lower_bound: float
    change: float
    converged: bool


# A context variable rather than an estimator parameter: progress display is not
# part of the model, so get_params, clone and the model files never see it, and a
# fit in another thread (model selection's joblib workers) is not reported.
_EM_PROGRESS: ContextVar[Callable[[EMIteration], None] | None] = ContextVar(
    "gaussmix_em_progress", default=None
)


@contextmanager
def em_progress(callback: Callable[[EMIteration], None]) -> Iterator[None]:
    """Report every EM iteration of fits run in this context to ``callback``.

    Used by the command line for its progress bar. ``callback`` receives an
    :class:`EMIteration` after each iteration of every start, in the thread that
    runs the fit; whatever it raises stops the fit. Fits started in other threads
    are not reported.

    Examples
    --------
    >>> with em_progress(lambda it: print(it.n_iter, it.lower_bound)):  # doctest: +SKIP
    ...     GaussianMixture(3).fit(X)
    """
    token = _EM_PROGRESS.set(callback)
    try:
        yield
    finally:
        _EM_PROGRESS.reset(token)


class _Printer:
    """Progress messages in scikit-learn's format (``verbose`` 1 or >= 2)."""

    def __init__(self, verbose: int, interval: int) -> None:
        self.verbose, self.interval = verbose, interval
        self._init_time = self._iter_time = time.time()

    def init_begin(self, index: int) -> None:
        if self.verbose >= 1:
            print(f"Initialization {index}")
            self._init_time = self._iter_time = time.time()

    def iteration(self, n_iter: int, change: float) -> None:
        if self.verbose < 1 or n_iter % self.interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        else:
            now = time.time()
            print(
                f"  Iteration {n_iter}\t time lapse {now - self._iter_time:.5f}s\t "
                f"ll change {change:.5f}"
            )
            self._iter_time = now

    def init_end(self, lower_bound: float, converged: bool) -> None:
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            elapsed = time.time() - self._init_time
            print(
                f"Initialization {message}. time lapse {elapsed:.5f}s\t "
                f"lower bound {lower_bound:.5f}."
            )


def fit_em(
    setup: FitSetup,
    initialize: Callable[[], tuple[MixtureParams, list[Repair]]],
    *,
    n_init: int,
    tol: float,
    max_iter: int,
    start_lower_bound: float = -np.inf,
    verbose: int = 0,
    verbose_interval: int = 10,
) -> EMResult:
    """Run EM from ``n_init`` starts and keep the one with the best lower bound.

    Parameters
    ----------
    setup : FitSetup
        The backend, kernel, covariance model and M-step settings. With
        ``setup.log_volume`` a uniform noise component of density
        ``exp(-log_volume)`` is fitted besides the Gaussians (mclust's noise model,
        Banfield & Raftery 1993); its weight starts at ``noise_weight`` of the
        initial parameters and is re-estimated by every M-step.
    initialize : callable
        Returns the initial parameters (and any repairs made to them); called once
        per start, drawing from the set-up's random state.
    n_init, tol, max_iter, verbose, verbose_interval
        As in scikit-learn.
    start_lower_bound : float
        Lower bound before the first iteration (a warm start passes the previous one).

    Returns
    -------
    EMResult
    """
    backend, kernel, model = setup.backend, setup.kernel, setup.model
    noise = setup.log_volume is not None
    printer = _Printer(verbose, verbose_interval)
    report = _EM_PROGRESS.get()
    best: EMResult | None = None
    for index in range(n_init):
        printer.init_begin(index)
        params, init_repairs = initialize()
        repairs = [(0, r) for r in init_repairs]
        lower_bound = start_lower_bound
        lower_bounds: list[float] = []
        converged = False
        n_iter = 0
        for n_iter in range(1, max_iter + 1):
            previous_bound = lower_bound
            stats = backend.estep(kernel, model, params, log_volume=setup.log_volume)
            check_log_likelihood(stats)
            if not noise:
                setup.scale.offer(stats)  # with noise the rows' responsibilities sum to less
            lower_bound = stats.log_likelihood / stats.weight_sum
            params, step_repairs = m_step(
                stats, model, setup.reg, setup.eps10, setup.scale, previous=params, noise=noise
            )
            repairs.extend((n_iter, r) for r in step_repairs)
            lower_bounds.append(lower_bound)
            change = lower_bound - previous_bound
            printer.iteration(n_iter, change)
            # An iterative M-step stopped at its iteration limit leaves the model short
            # of the EM fixed point however little the likelihood moved.
            converged = abs(change) < tol and model.m_step_converged
            if report is not None:
                report(
                    EMIteration(index, n_init, n_iter, max_iter, lower_bound, change, converged)
                )
            if converged:
                break
        if max_iter == 0:
            # scikit-learn keeps the (last) initial parameters and no lower bound.
            best = EMResult(params, -np.inf, [], 0, False, repairs)
            continue
        printer.init_end(lower_bound, converged)
        if best is None or lower_bound > best.lower_bound or best.lower_bound == -np.inf:
            best = EMResult(params, lower_bound, lower_bounds, n_iter, converged, repairs)
    assert best is not None
    return best


def warn_repairs(
    repairs: list[tuple[int, Repair]], model: CovarianceModel, stacklevel: int = 2
) -> None:
    """One DegenerateComponentWarning per component and action, naming what was done.

    Parameters
    ----------
    repairs : list of (int, Repair)
        The iteration of each repair (0: the start) and the repair.
    model : CovarianceModel
    stacklevel : int
        As for :func:`warnings.warn`, counted from the caller of this function.
    """
    seen: dict[tuple[int | None, str], list[int]] = {}
    details: dict[tuple[int | None, str], Repair] = {}
    for iteration, repair in repairs:
        key = (repair.component, repair.action)
        seen.setdefault(key, []).append(iteration)
        details.setdefault(key, repair)
    for key, iterations in seen.items():
        repair = details[key]
        when = "at initialisation" if iterations[0] == 0 else f"at iteration {iterations[0]}"
        if len(iterations) > 1:
            when += f" and {len(iterations) - 1} later iteration(s)"
        who = (
            f"The shared ({model.name}) covariance"
            if repair.component is None
            else f"Component {repair.component}"
        )
        if repair.action == "kept":
            message = (
                f"{who} was empty {when} (its responsibilities summed to "
                f"{repair.amount:.3g}); it kept its previous mean and {model.kept_doc}, "
                "with a weight of about zero. Reduce n_components or try another "
                "init_params or random_state."
            )
        else:
            message = (
                f"{who} had a numerically singular covariance {when}: its points are "
                "duplicated or collapsed, or a feature is constant within it. Added up to "
                f"{repair.amount:.3g} to {model.ridge_doc} ({RIDGE_FRACTION:g} of each "
                "feature's variance, times 10 until positive definite) so the fit could go "
                "on. Increase reg_covar, use reg_covar='auto', or reduce n_components."
            )
        warnings.warn(message, DegenerateComponentWarning, stacklevel=stacklevel + 1)
