"""The EM loop: one pass over the data per iteration, convergence, restarts.

Each iteration is ``stats = merge(kernel(block, params) for block in blocks)``
followed by ``params = m_step(stats)``. The E-step's log-likelihood is that of
the parameters going *into* the iteration, so ``lower_bound_`` means what it
means in scikit-learn: the mean log-likelihood of the last E-step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

from ._suffstats import SuffStats
from ._validation import check_variance_range
from .covariance import CovarianceModel, Repair
from .exceptions import NumericalError

__all__ = [
    "DataScale",
    "EMIteration",
    "EMResult",
    "MixtureParams",
    "em_progress",
    "fit_em",
    "m_step",
    "params_log_norm",
]


@dataclass(frozen=True)
class MixtureParams:
    """Parameters of a Gaussian mixture, float64, shapes as in scikit-learn.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray, shape given by the covariance model
    precisions_chol : ndarray, same shape as ``covariances``
    noise_weight : float
        Weight of a uniform noise component (mclust's), 0 without one; the
        Gaussian ``weights`` then sum to ``1 - noise_weight``.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_chol: np.ndarray
    noise_weight: float = 0.0


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


class DataScale:
    """Each feature's (weighted) variance in the data, shape (n_features,), positive.

    Used to judge and regularise degenerate covariances and by
    ``reg_covar="auto"``. Statistics whose responsibilities sum to one per row
    (every E-step's) pool to the data's own moments, so :meth:`offer` fills the
    value for free; otherwise the first call makes one pass over the data.
    Data too narrow for a model in ``dtype`` (the fitted parameters' dtype) to
    hold its precisions are refused with a ValueError when the value is first
    known, before any M-step uses it.
    """

    def __init__(self, backend, kernel, dtype=np.float64) -> None:
        self._backend, self._kernel = backend, kernel
        self._dtype = dtype
        self._value: np.ndarray | None = None

    def offer(self, stats: SuffStats) -> None:
        """Take the value from statistics whose responsibilities sum to one per row."""
        if self._value is None:
            n, mean, scatter = stats.total()
            variance = np.diagonal(scatter) if scatter.ndim == 2 else scatter
            value = _positive_scale(variance / n, mean)
            check_variance_range(value, self._dtype)
            self._value = value

    def __call__(self) -> np.ndarray:
        if self._value is None:

            def moments(X_block, w_block):
                ones = np.ones((X_block.shape[0], 1))
                n_k, mean_k, scatter_k = self._kernel.resp_stats(X_block, w_block, ones, "diag")
                return SuffStats(n_k, mean_k, scatter_k, 0.0, float(n_k[0]), len(ones))

            self.offer(self._backend.map_reduce(moments, SuffStats.merge))
        return self._value


# A feature whose variance is below (this x its mean)^2 is constant up to the
# round-off of its mean: 100 copies of 0.1 give a variance of ~1e-33, not zero.
_CONSTANT_RTOL = 1e3 * np.finfo(np.float64).eps


def _positive_scale(variance: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Replace the variance of constant features by a scale that is still positive."""
    varies = variance > (_CONSTANT_RTOL * mean) ** 2
    positive = variance[varies]
    fallback = positive.mean() if positive.size else max(float(np.mean(mean**2)), 1.0)
    return np.where(varies, variance, fallback)


def params_log_norm(params: MixtureParams, model: CovarianceModel) -> np.ndarray:
    """log weight_k + log det(precision_chol_k) - D/2 log(2 pi), shape (n_components,)."""
    n_components, n_features = params.means.shape
    with np.errstate(divide="ignore"):
        log_weights = np.log(params.weights)
    log_det = model.log_det_cholesky(params.precisions_chol, n_components, n_features)
    return log_weights + log_det - 0.5 * n_features * math.log(2 * math.pi)


def estep_stats(
    backend,
    kernel,
    model: CovarianceModel,
    params: MixtureParams,
    log_volume: float | None = None,
) -> SuffStats:
    """One pass over the data: E-step under ``params`` and the merged statistics.

    With ``log_volume`` the mixture has a uniform noise component of density
    ``exp(-log_volume)`` and weight ``params.noise_weight``: the log-likelihood
    includes it, and the Gaussian statistics exclude each row's noise share (so
    ``weight_sum - sum(n_k)`` is the noise component's soft count).

    A kernel with ``estep_tasks`` on a backend with ``shared_rows`` runs the pass
    as tasks that the threads claim (a slow or late thread takes fewer) and whose
    statistics are summed in row order; otherwise blocks run through
    ``backend.map_reduce`` and their statistics are merged as they come.
    """
    n_components, n_features = params.means.shape
    precisions = model.kernel_precisions(params.precisions_chol, n_components, n_features)
    log_norm = params_log_norm(params, model)
    extra = {}
    if log_volume is not None:
        with np.errstate(divide="ignore"):
            extra["log_background"] = float(np.log(params.noise_weight)) - log_volume

    X = backend.shared_rows() if kernel.estep_tasks is not None else None
    if X is not None:
        n_rows = backend.n_rows
        if backend.block_size >= n_rows:
            task_rows = n_rows  # one block: too little work to share between threads
        else:
            block_rows = None if backend.auto_block_size else backend.block_size
            task_rows = kernel.task_rows_for(
                n_rows, n_components, n_features, model.scatter, block_rows
            )
        if task_rows is not None:
            tasks = kernel.estep_tasks(
                X, backend.sample_weight, params.means, precisions, log_norm, model.form,
                model.scatter, task_rows=task_rows, **extra,
            )  # fmt: skip
            backend.run_tasks(tasks)
            n_k, mean_k, scatter_k, log_likelihood = tasks.result()
            return _checked(
                SuffStats(n_k, mean_k, scatter_k, log_likelihood, backend.weight_sum, n_rows)
            )

    def block_stats(X_block, w_block):
        n_k, mean_k, scatter_k, log_likelihood = kernel.estep_stats(
            X_block,
            w_block,
            params.means,
            precisions,
            log_norm,
            model.form,
            model.scatter,
            **extra,
        )
        weight_sum = X_block.shape[0] if w_block is None else float(np.sum(w_block))
        return SuffStats(n_k, mean_k, scatter_k, log_likelihood, weight_sum, X_block.shape[0])

    return _checked(backend.map_reduce(block_stats, SuffStats.merge, threads=kernel.releases_gil))


def _checked(stats: SuffStats) -> SuffStats:
    """``stats``, or a NumericalError if the E-step's log-likelihood is not finite.

    With finite parameters the kernels give every row a finite log-density, but
    the (weighted) sum of those of rows extremely far out can still overflow.
    """
    if not math.isfinite(stats.log_likelihood):
        raise NumericalError(
            f"The log-likelihood of the data under the current parameters is "
            f"{stats.log_likelihood}: it overflows float64, as it does when rows lie "
            "extremely far outside every component (1e150 standard deviations, say). "
            "Check the data for extreme values, standardise the features, or use "
            "reg_covar='auto'."
        )
    return stats


def m_step(
    stats: SuffStats,
    model: CovarianceModel,
    reg: np.ndarray,
    eps10: float,
    scale: DataScale,
    previous: MixtureParams | None = None,
    weight_total: float | None = None,
    noise: bool = False,
) -> tuple[MixtureParams, list[Repair]]:
    """New parameters from sufficient statistics.

    Follows scikit-learn's estimator exactly (soft counts offset by ``10 * eps``
    of the data's dtype) so that the same start gives the same numbers, and then
    repairs what scikit-learn would abort on.

    Parameters
    ----------
    stats : SuffStats
    model : CovarianceModel
    reg : ndarray of shape (n_features,)
        Added to the diagonal of every covariance.
    eps10 : float
        ``10 * np.finfo(dtype).eps`` for the data's dtype.
    scale : DataScale
        The data's per-feature variance.
    previous : MixtureParams or None
        Parameters going into this M-step. Iterative covariance M-steps start from
        its covariances; an empty component keeps its mean from here (the data's
        overall mean when None) and what the model lets it keep of its covariance.
    weight_total : float or None
        Divide soft counts by this instead of their sum (scikit-learn's
        initialisation divides by the number of samples).
    noise : bool
        The mixture has a uniform noise component whose soft count is what the
        Gaussian counts leave of ``stats.weight_sum``; its weight is set from it.

    Returns
    -------
    params : MixtureParams
    repairs : list of Repair
    """
    n_k = stats.n_k + eps10
    noise_weight = 0.0
    if noise:
        # A difference of sums: it loses digits only when the noise count is a
        # tiny fraction of the total, where its weight is about zero anyway.
        noise_count = max(stats.weight_sum - float(stats.n_k.sum()), 0.0)
        total = float(n_k.sum()) + noise_count
        weights, noise_weight = n_k / total, noise_count / total
    else:
        weights = n_k / (n_k.sum() if weight_total is None else weight_total)
    means = stats.mean_k * (stats.n_k / n_k)[:, None]
    empty = np.flatnonzero(stats.n_k < eps10)
    if empty.size:
        means[empty] = stats.total()[1] if previous is None else previous.means[empty]
    repairs = [Repair(int(k), "kept", float(stats.n_k[k])) for k in empty]
    # The model decides what an empty component keeps of its previous covariance.
    covariances, regularised = model.estimate(
        n_k,
        stats.scatter_k,
        reg,
        scale(),
        previous=None if previous is None else previous.covariances,
        empty=empty,
    )
    repairs.extend(regularised)
    try:
        precisions_chol = model.precisions_cholesky(covariances)
    except np.linalg.LinAlgError:
        precisions_chol = np.full_like(covariances, np.nan)
    params = MixtureParams(weights, means, covariances, precisions_chol, noise_weight)
    _check_finite(params, model)
    return params, repairs


def _check_finite(params: MixtureParams, model: CovarianceModel) -> None:
    """Raise NumericalError unless every parameter of an M-step is finite.

    The covariance models repair what they can; this is the guarantee that no
    NaN or infinite parameter goes on into the next E-step or out of the fit.
    """
    arrays = {
        "weights": params.weights,
        "means": params.means,
        "covariances": params.covariances,
        "precisions": params.precisions_chol,
    }
    bad = [name for name, value in arrays.items() if not np.all(np.isfinite(value))]
    if bad:
        raise NumericalError(
            f"The M-step of covariance_type={model.name!r} gave non-finite "
            f"{' and '.join(bad)}: the statistics of the data overflow or lose all their "
            "digits in float64. Standardise the features (for example with "
            "sklearn.preprocessing.StandardScaler), or use reg_covar='auto'."
        )


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
    backend,
    kernel,
    model: CovarianceModel,
    initialize: Callable[[], tuple[MixtureParams, list[Repair]]],
    *,
    n_init: int,
    tol: float,
    max_iter: int,
    reg: np.ndarray,
    eps10: float,
    scale: DataScale,
    start_lower_bound: float = -np.inf,
    verbose: int = 0,
    verbose_interval: int = 10,
    log_volume: float | None = None,
) -> EMResult:
    """Run EM from ``n_init`` starts and keep the one with the best lower bound.

    Parameters
    ----------
    backend : InMemoryBackend
    kernel : namespace from :func:`gaussmix.kernels.get_kernel`
    model : CovarianceModel
    initialize : callable
        Returns the initial parameters (and any repairs made to them); called once
        per start, drawing from the caller's random state.
    n_init, tol, max_iter, verbose, verbose_interval
        As in scikit-learn.
    reg, eps10, scale
        See :func:`m_step`.
    start_lower_bound : float
        Lower bound before the first iteration (a warm start passes the previous one).
    log_volume : float or None
        Fit a uniform noise component of density ``exp(-log_volume)`` besides the
        Gaussians (mclust's noise model, Banfield & Raftery 1993); its weight
        starts at ``noise_weight`` of the initial parameters and is re-estimated
        by every M-step.

    Returns
    -------
    EMResult
    """
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
            stats = estep_stats(backend, kernel, model, params, log_volume)
            if log_volume is None:
                scale.offer(stats)  # with noise the rows' responsibilities sum to less
            lower_bound = stats.log_likelihood / stats.weight_sum
            params, step_repairs = m_step(
                stats, model, reg, eps10, scale, previous=params, noise=log_volume is not None
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
