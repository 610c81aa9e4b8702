#!/usr/bin/env python
"""Side-by-side benchmark of ``gaussmix.GaussianMixture`` against scikit-learn.

For every grid point (N, D, K, covariance type, dtype) the harness measures

1. the time of one EM iteration: both estimators are fitted from the *same*
   initial parameters (``weights_init``, ``means_init``, ``precisions_init``)
   with ``tol=0`` and ``max_iter=ITERS``, and the wall time of ``fit`` is divided
   by the number of iterations actually run (``n_iter_``); the median over
   alternating rounds is reported (at least ``--repeats``, more for fast
   points until each library has run ``--min-time`` seconds), after one
   warm-up fit per library;
2. whether the two final ``lower_bound_`` values agree (relative difference);
3. the peak extra memory of ``fit``, measured with :mod:`tracemalloc` in a fresh
   subprocess per (library, grid point);
4. the wall time of a whole ``fit`` with default initialisation
   (``GaussianMixture(n_components=K, covariance_type=cov, random_state=0)``).

Run ``python benchmarks/bench_em.py`` for the quick grid, ``--full`` for the
large one and ``--help`` for the options. The tables go to stdout, progress
messages to stderr.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

# benchmarks/ is a folder of scripts, not a package: make its sibling importable
# when this file is loaded by path (as the tests do).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_limits import em_iteration_floor, measure_rates

REPO_ROOT = Path(__file__).resolve().parents[1]
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
DTYPES = ("float64", "float32")
CANDIDATES = ("gaussmix", "sklearn")
KERNELS = ("auto", "numpy", "compiled", "numba")
#: Largest relative difference of the final lower bounds that counts as agreement.
LOWER_BOUND_RTOL = {"float64": 1e-6, "float32": 1e-4}
REG_COVAR = 1e-6
DATA_SEED = 0
INIT_SEED = 0
INIT_SUBSAMPLE = 20_000
MIB = 2.0**20
#: EM iterations of the fit whose memory is measured (the peak is reached in the first).
MEMORY_ITERS = 3
#: Most timed rounds per point (see ``BenchConfig.min_time``).
MAX_ROUNDS = 25

EstimatorFactory = Callable[..., Any]


@dataclass(frozen=True)
class GridPoint:
    """One benchmark configuration.

    Attributes
    ----------
    n : int
        Number of samples.
    d : int
        Number of features.
    k : int
        Number of mixture components (also the number of blobs in the data).
    cov : str
        Covariance type, one of ``"full"``, ``"tied"``, ``"diag"``, ``"spherical"``.
    dtype : str
        ``"float64"`` or ``"float32"``.
    """

    n: int
    d: int
    k: int
    cov: str
    dtype: str


@dataclass
class IterationResult:
    """Per-iteration timings of both libraries at one grid point.

    Attributes
    ----------
    sklearn_s_per_iter, candidate_s_per_iter : float
        Median over repeats of ``fit`` seconds divided by ``n_iter_``.
    sklearn_times, candidate_times : list of float
        Raw per-iteration seconds of every repeat.
    sklearn_n_iter, candidate_n_iter : int
        ``n_iter_`` of the last timed fit.
    sklearn_lower_bound, candidate_lower_bound : float
        ``lower_bound_`` of the last timed fit.
    lower_bound_rel_diff : float
        ``|lb_sklearn - lb_candidate| / max(|lb_sklearn|, |lb_candidate|)``.
    lower_bound_ok : bool
        Whether the relative difference is within ``LOWER_BOUND_RTOL[dtype]``.
    """

    sklearn_s_per_iter: float
    candidate_s_per_iter: float
    sklearn_times: list[float]
    candidate_times: list[float]
    sklearn_n_iter: int
    candidate_n_iter: int
    sklearn_lower_bound: float
    candidate_lower_bound: float
    lower_bound_rel_diff: float
    lower_bound_ok: bool


@dataclass
class WholeFitResult:
    """Timings of a whole ``fit`` with default initialisation.

    Attributes
    ----------
    sklearn_s, candidate_s : float
        Median ``fit`` seconds over repeats.
    sklearn_times, candidate_times : list of float
        Raw seconds of every repeat.
    sklearn_n_iter, candidate_n_iter : int
        ``n_iter_`` of the last fit.
    sklearn_converged, candidate_converged : bool
        ``converged_`` of the last fit.
    lower_bound_rel_diff : float
        Relative difference of the final lower bounds.
    """

    sklearn_s: float
    candidate_s: float
    sklearn_times: list[float]
    candidate_times: list[float]
    sklearn_n_iter: int
    candidate_n_iter: int
    sklearn_converged: bool
    candidate_converged: bool
    lower_bound_rel_diff: float


@dataclass
class PointResult:
    """Everything measured at one grid point (``None`` for skipped parts)."""

    point: GridPoint
    iteration: IterationResult
    memory: dict[str, dict[str, float]] | None = None
    whole_fit: WholeFitResult | None = None
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    limit: dict[str, Any] | None = None


@dataclass
class BenchConfig:
    """Run-wide settings.

    Attributes
    ----------
    iters : int
        ``max_iter`` of the fixed-initialisation fits.
    repeats : int
        Fewest timed rounds per library (medians are reported).
    min_time : float
        Cheap points keep adding alternating rounds (up to ``MAX_ROUNDS``) until
        each library has been timed for this many seconds: a median of three
        millisecond fits on a shared machine moves by tens of percent.
    candidate : str
        ``"gaussmix"``, or ``"sklearn"`` to benchmark scikit-learn against itself.
    kernel : str or None
        Value of gaussmix's ``kernel`` parameter; ``None`` leaves the default.
    threads : int or None
        Thread limit for BLAS, OpenMP and gaussmix (``None``: library defaults).
    memory : bool
        Measure peak memory in subprocesses.
    whole_fit : bool
        Time whole fits with default initialisation.
    """

    iters: int = 10
    repeats: int = 3
    min_time: float = 1.0
    candidate: str = "gaussmix"
    kernel: str | None = None
    threads: int | None = None
    memory: bool = True
    whole_fit: bool = True


# --------------------------------------------------------------------------- grids

#: Axes of the command-line grid when only some of --n/--d/--k/--cov/--dtype are given.
QUICK_AXES: dict[str, tuple[Any, ...]] = {
    "n": (100_000,),
    "d": (2, 8, 32),
    "k": (3, 16),
    "cov": ("full", "diag"),
    "dtype": ("float64",),
}
FULL_AXES: dict[str, tuple[Any, ...]] = {
    "n": (100_000, 1_000_000),
    "d": (2, 8, 32, 64),
    "k": (3, 16),
    "cov": ("full", "diag"),
    "dtype": ("float32", "float64"),
}


def quick_grid() -> list[GridPoint]:
    """Return the default grid: N=1e5, D in {2, 8, 32}, K in {3, 16}, full/diag.

    Returns
    -------
    list of GridPoint
        Twelve float64 points plus two float32 points.
    """
    points = [GridPoint(*values) for values in itertools.product(*QUICK_AXES.values())]
    points += [
        GridPoint(100_000, 8, 16, "full", "float32"),
        GridPoint(100_000, 32, 16, "diag", "float32"),
    ]
    return points


def full_grid() -> list[GridPoint]:
    """Return the large grid used by ``--full``.

    Returns
    -------
    list of GridPoint
        N in {1e5, 1e6}, D in {2, 8, 32, 64}, K in {3, 16}, full and diag, float32
        and float64; plus tied and spherical for D in {8, 64}, K=16, float64.
    """
    points = [GridPoint(*values) for values in itertools.product(*FULL_AXES.values())]
    points += [
        GridPoint(n, d, 16, cov, "float64")
        for n, d, cov in itertools.product((100_000, 1_000_000), (8, 64), ("tied", "spherical"))
    ]
    return points


def build_grid(args: argparse.Namespace) -> list[GridPoint]:
    """Return the grid selected on the command line.

    Without any of ``--n/--d/--k/--cov/--dtype`` this is :func:`quick_grid` (or
    :func:`full_grid` with ``--full``). Otherwise it is the Cartesian product of
    the given values, each missing axis taking its values from ``QUICK_AXES``
    (or ``FULL_AXES`` with ``--full``).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed command line.

    Returns
    -------
    list of GridPoint
        The grid points, in run order.
    """
    given = {name: getattr(args, name) for name in QUICK_AXES}
    if all(values is None for values in given.values()):
        return full_grid() if args.full else quick_grid()
    defaults = FULL_AXES if args.full else QUICK_AXES
    axes = [given[name] if given[name] is not None else defaults[name] for name in QUICK_AXES]
    return [
        GridPoint(int(n), int(d), int(k), cov, dtype)
        for n, d, k, cov, dtype in itertools.product(*axes)
    ]


# ---------------------------------------------------------------------- data & init


def make_data(n: int, d: int, k: int, dtype: str = "float64", seed: int = DATA_SEED) -> np.ndarray:
    """Draw a reproducible sample of ``k`` well-separated anisotropic Gaussian blobs.

    Parameters
    ----------
    n, d, k : int
        Number of samples, features and blobs.
    dtype : str, default "float64"
        dtype of the returned array.
    seed : int
        Seed of the generator; the same arguments always give the same array.

    Returns
    -------
    ndarray of shape (n, d)
        C-contiguous sample in random row order.
    """
    rng = np.random.default_rng(seed)
    # Centres on a scale large compared with the unit-order blob spread.
    centres = rng.uniform(-10.0, 10.0, size=(k, d)) * max(1.0, k ** (1.0 / d))
    weights = rng.uniform(0.5, 1.5, size=k)
    labels = rng.choice(k, size=n, p=weights / weights.sum())
    X = np.empty((n, d), dtype=dtype)
    for j in range(k):
        rows = np.flatnonzero(labels == j)
        # Random linear map with singular values in [0.5, 1.5].
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        transform = q * rng.uniform(0.5, 1.5, size=d)
        X[rows] = rng.standard_normal((rows.size, d)) @ transform + centres[j]
    return X


def parameters_from_labels(
    X: np.ndarray, labels: np.ndarray, n_components: int, covariance_type: str
) -> dict[str, np.ndarray]:
    """Return mixture parameters estimated from a hard assignment, in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    labels : ndarray of shape (n_samples,)
        Component index of each row, in ``range(n_components)``.
    n_components : int
        Number of components.
    covariance_type : {"full", "tied", "diag", "spherical"}
        Parametrisation of the precisions.

    Returns
    -------
    dict
        ``weights_init`` (K,), ``means_init`` (K, D) and ``precisions_init`` with
        shape (K, D, D), (D, D), (K, D) or (K,) for full, tied, diag, spherical,
        ready to be passed to either estimator. ``REG_COVAR`` is added to the
        covariance diagonals, as scikit-learn does.
    """
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"unknown covariance_type {covariance_type!r}")
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    resp = np.zeros((n_samples, n_components))
    resp[np.arange(n_samples), labels] = 1.0
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ X / nk[:, None]
    eye = np.eye(n_features)
    if covariance_type == "full":
        precisions = np.empty((n_components, n_features, n_features))
        for j in range(n_components):
            diff = X - means[j]
            cov = (resp[:, j] * diff.T) @ diff / nk[j] + REG_COVAR * eye
            precisions[j] = _spd_inverse(cov)
    elif covariance_type == "tied":
        cov = (X.T @ X - (nk * means.T) @ means) / nk.sum() + REG_COVAR * eye
        precisions = _spd_inverse(cov)
    else:
        variances = resp.T @ (X * X) / nk[:, None] - means**2 + REG_COVAR
        if covariance_type == "spherical":
            variances = variances.mean(axis=1)
        precisions = 1.0 / variances
    return {"weights_init": nk / nk.sum(), "means_init": means, "precisions_init": precisions}


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Return the inverse of a symmetric positive definite matrix, exactly symmetric."""
    inverse = np.linalg.inv(matrix)
    return 0.5 * (inverse + inverse.T)


def initial_parameters(
    X: np.ndarray,
    n_components: int,
    covariance_type: str,
    *,
    subsample: int = INIT_SUBSAMPLE,
    seed: int = INIT_SEED,
) -> dict[str, np.ndarray]:
    """Return one set of initial parameters from k-means on a row subsample.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    n_components : int
        Number of components.
    covariance_type : {"full", "tied", "diag", "spherical"}
        Parametrisation of the precisions.
    subsample : int
        At most this many rows (drawn without replacement) are clustered.
    seed : int
        Seed of the subsample and of k-means.

    Returns
    -------
    dict
        See :func:`parameters_from_labels`; the arrays have the dtype of ``X``.
        scikit-learn computes in the dtype of its parameters: float64 starts on
        float32 data would make it upcast the data and run its float64 path,
        so float32 data get float32 starts and both libraries run their
        float32 paths.
    """
    rng = np.random.default_rng(seed)
    n_samples = X.shape[0]
    rows = np.sort(rng.choice(n_samples, size=min(n_samples, subsample), replace=False))
    sample = np.asarray(X[rows], dtype=np.float64)
    labels = KMeans(n_clusters=n_components, n_init=1, random_state=seed).fit(sample).labels_
    init = parameters_from_labels(sample, labels, n_components, covariance_type)
    return {name: value.astype(X.dtype, copy=False) for name, value in init.items()}


# ------------------------------------------------------------------------ estimators


def load_candidate(name: str) -> EstimatorFactory:
    """Return the estimator class benchmarked against scikit-learn.

    Parameters
    ----------
    name : {"gaussmix", "sklearn"}
        ``"sklearn"`` benchmarks scikit-learn against itself (a check of the harness).

    Returns
    -------
    type
        The ``GaussianMixture`` class.

    Raises
    ------
    ImportError
        If gaussmix can be imported neither as installed nor from ``src/``.
    """
    if name == "sklearn":
        return SklearnGaussianMixture
    if name != "gaussmix":
        raise ValueError(f"unknown candidate {name!r}; expected one of {CANDIDATES}")
    try:
        module = importlib.import_module("gaussmix")
    except ModuleNotFoundError as exc:
        source = REPO_ROOT / "src"
        if exc.name != "gaussmix" or not (source / "gaussmix").is_dir():
            raise
        # Not installed: fall back to the checkout this script lives in.
        sys.path.insert(0, str(source))
        module = importlib.import_module("gaussmix")
    return module.GaussianMixture


def candidate_label(name: str) -> str:
    """Return the column label of the candidate library."""
    return "gaussmix" if name == "gaussmix" else "sklearn (self)"


def make_estimator(factory: EstimatorFactory, kernel: str | None = None, **params: Any) -> Any:
    """Instantiate ``factory(**params)``, adding ``kernel`` where it is supported.

    Parameters
    ----------
    factory : type
        Estimator class.
    kernel : str or None
        gaussmix's ``kernel`` parameter; ignored for classes without it
        (scikit-learn), left at its default when ``None``.
    **params
        Constructor parameters.

    Returns
    -------
    estimator
        The unfitted estimator.
    """
    if kernel is not None and "kernel" in factory().get_params():
        params["kernel"] = kernel
    return factory(**params)


def fixed_init_estimator(
    factory: EstimatorFactory,
    point: GridPoint,
    init: dict[str, np.ndarray],
    max_iter: int,
    kernel: str | None = None,
) -> Any:
    """Return an estimator that runs exactly ``max_iter`` EM steps from ``init``.

    ``init_params="random_from_data"`` keeps scikit-learn from running k-means
    (which it otherwise does even when all three ``*_init`` are given); the
    resulting responsibilities are discarded in favour of ``init``.
    """
    return make_estimator(
        factory,
        kernel,
        n_components=point.k,
        covariance_type=point.cov,
        tol=0.0,
        max_iter=max_iter,
        init_params="random_from_data",
        random_state=0,
        **init,
    )


def default_estimator(factory: EstimatorFactory, point: GridPoint, kernel: str | None) -> Any:
    """Return the estimator with default initialisation used for whole-fit timings."""
    return make_estimator(
        factory, kernel, n_components=point.k, covariance_type=point.cov, random_state=0
    )


def limit_threads(threads: int | None) -> None:
    """Confine this process (and its future subprocesses) to ``threads`` CPUs.

    The process is pinned to the first ``threads`` CPUs it may run on (Linux),
    which also caps thread pools sized from ``os.cpu_count()`` such as
    gaussmix's block pool; BLAS, OpenMP and gaussmix are capped at ``threads``
    threads (threadpoolctl) so that they do not oversubscribe those CPUs.

    Parameters
    ----------
    threads : int or None
        CPU and thread count; ``None`` leaves the libraries' defaults.
    """
    if threads is None:
        return
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[:threads])
    # gaussmix first: threadpoolctl caps the libraries a process has loaded.
    load_candidate("gaussmix")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


def thread_env(threads: int | None) -> dict[str, str]:
    """Return the environment for a subprocess that should use ``threads`` threads."""
    env = dict(os.environ)
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        env["NUMBA_NUM_THREADS"] = str(threads)
    return env


def timed_fit(estimator: Any, X: np.ndarray) -> float:
    """Fit ``estimator`` on ``X`` and return the wall time in seconds.

    ``ConvergenceWarning`` (certain with ``tol=0``) is suppressed; any other
    warning propagates.
    """
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X)
        return time.perf_counter() - start


def timing_rounds(config: BenchConfig, times: dict[str, list[float]]) -> Iterable[int]:
    """Round numbers: at least ``config.repeats``, more while a library's total is short.

    ``times`` holds the seconds of each round so far per library; it is read
    after every round, so rounds stop as soon as both libraries reach
    ``config.min_time`` (or at ``MAX_ROUNDS``).
    """
    spent: dict[str, float] = {}
    for round_number in range(MAX_ROUNDS):
        if round_number >= config.repeats:
            spent = {name: sum(seconds) for name, seconds in times.items()}
            if min(spent.values()) >= config.min_time:
                return
        yield round_number


def relative_difference(a: float, b: float) -> float:
    """Return ``|a - b| / max(|a|, |b|)`` (0 when both are 0, inf if either is not finite)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


# --------------------------------------------------------------------------- timing


def time_iterations(
    X: np.ndarray,
    point: GridPoint,
    init: dict[str, np.ndarray],
    candidate: EstimatorFactory,
    config: BenchConfig,
) -> IterationResult:
    """Time EM iterations of both libraries from the same initial parameters.

    One warm-up fit (``max_iter=1``) per library precedes ``config.repeats``
    timed rounds; the order of the libraries alternates between rounds.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data.
    point : GridPoint
        Grid point of ``X``.
    init : dict
        Initial parameters (see :func:`initial_parameters`).
    candidate : type
        Estimator class compared with scikit-learn.
    config : BenchConfig
        Iterations, repeats and kernel.

    Returns
    -------
    IterationResult
        Medians, raw times and lower-bound agreement.
    """
    factories = {"sklearn": SklearnGaussianMixture, "candidate": candidate}
    for factory in factories.values():
        timed_fit(fixed_init_estimator(factory, point, init, 1, config.kernel), X)
    times: dict[str, list[float]] = {name: [] for name in factories}
    fit_seconds: dict[str, list[float]] = {name: [] for name in factories}
    fitted: dict[str, Any] = {}
    for repeat in timing_rounds(config, fit_seconds):
        order = list(factories) if repeat % 2 == 0 else list(factories)[::-1]
        for name in order:
            estimator = fixed_init_estimator(
                factories[name], point, init, config.iters, config.kernel
            )
            seconds = timed_fit(estimator, X)
            fit_seconds[name].append(seconds)
            times[name].append(seconds / max(int(estimator.n_iter_), 1))
            fitted[name] = estimator
    lb_sk = float(fitted["sklearn"].lower_bound_)
    lb_cand = float(fitted["candidate"].lower_bound_)
    rel = relative_difference(lb_sk, lb_cand)
    return IterationResult(
        sklearn_s_per_iter=statistics.median(times["sklearn"]),
        candidate_s_per_iter=statistics.median(times["candidate"]),
        sklearn_times=times["sklearn"],
        candidate_times=times["candidate"],
        sklearn_n_iter=int(fitted["sklearn"].n_iter_),
        candidate_n_iter=int(fitted["candidate"].n_iter_),
        sklearn_lower_bound=lb_sk,
        candidate_lower_bound=lb_cand,
        lower_bound_rel_diff=rel,
        lower_bound_ok=rel <= LOWER_BOUND_RTOL[point.dtype],
    )


def time_whole_fit(
    X: np.ndarray, point: GridPoint, candidate: EstimatorFactory, config: BenchConfig
) -> WholeFitResult:
    """Time whole fits with default initialisation (k-means, ``tol=1e-3``).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data.
    point : GridPoint
        Grid point of ``X``.
    candidate : type
        Estimator class compared with scikit-learn.
    config : BenchConfig
        Repeats and kernel.

    Returns
    -------
    WholeFitResult
        Median and raw seconds, iteration counts and lower-bound difference.
    """
    factories = {"sklearn": SklearnGaussianMixture, "candidate": candidate}
    times: dict[str, list[float]] = {name: [] for name in factories}
    fitted: dict[str, Any] = {}
    for repeat in timing_rounds(config, times):
        order = list(factories) if repeat % 2 == 0 else list(factories)[::-1]
        for name in order:
            estimator = default_estimator(factories[name], point, config.kernel)
            times[name].append(timed_fit(estimator, X))
            fitted[name] = estimator
    sk, cand = fitted["sklearn"], fitted["candidate"]
    return WholeFitResult(
        sklearn_s=statistics.median(times["sklearn"]),
        candidate_s=statistics.median(times["candidate"]),
        sklearn_times=times["sklearn"],
        candidate_times=times["candidate"],
        sklearn_n_iter=int(sk.n_iter_),
        candidate_n_iter=int(cand.n_iter_),
        sklearn_converged=bool(sk.converged_),
        candidate_converged=bool(cand.converged_),
        lower_bound_rel_diff=relative_difference(float(sk.lower_bound_), float(cand.lower_bound_)),
    )


# --------------------------------------------------------------------------- memory


def _proc_status_kib(field_name: str) -> float:
    """Return a ``VmRSS``-style field of ``/proc/self/status`` in KiB (NaN if unavailable)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return math.nan


def _reset_rss_high_water() -> bool:
    """Reset the kernel's RSS high-water mark (``VmHWM``) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def memory_worker(spec_path: str) -> dict[str, float]:
    """Measure the peak extra memory of one ``fit`` (runs in a fresh subprocess).

    The data are regenerated from the grid point, the initial parameters are
    loaded from the ``.npz`` named in the spec, and one warm-up fit
    (``max_iter=1``) is run so that first-call costs are not counted. Then
    :mod:`tracemalloc` is started and the timed fit's peak of traced memory
    (NumPy and gaussmix's compiled kernels report their buffers to it) is
    taken, i.e. the peak above the baseline in which the data already exist.

    Parameters
    ----------
    spec_path : str
        JSON file with keys ``point``, ``library``, ``candidate``, ``kernel``,
        ``threads``, ``iters`` and ``init_path``.

    Returns
    -------
    dict
        ``tracemalloc_peak_mib``, ``rss_hwm_delta_mib`` (growth of the RSS
        high-water mark during the fit; NaN if it cannot be reset),
        ``ru_maxrss_mib`` (process lifetime high-water), ``n_iter``, ``lower_bound``.
    """
    import resource

    spec = json.loads(Path(spec_path).read_text())
    limit_threads(spec["threads"])
    point = GridPoint(**spec["point"])
    with np.load(spec["init_path"]) as archive:
        init = {name: archive[name] for name in archive.files}
    X = make_data(point.n, point.d, point.k, point.dtype)
    factory = (
        SklearnGaussianMixture
        if spec["library"] == "sklearn"
        else load_candidate(spec["candidate"])
    )
    timed_fit(fixed_init_estimator(factory, point, init, 1, spec["kernel"]), X)
    estimator = fixed_init_estimator(factory, point, init, spec["iters"], spec["kernel"])
    gc.collect()
    hwm_reset = _reset_rss_high_water()
    rss_before = _proc_status_kib("VmRSS")
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    timed_fit(estimator, X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_delta = _proc_status_kib("VmHWM") - rss_before if hwm_reset else math.nan
    return {
        "tracemalloc_peak_mib": (peak - baseline) / MIB,
        "rss_hwm_delta_mib": rss_delta / 1024.0,
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "n_iter": int(estimator.n_iter_),
        "lower_bound": float(estimator.lower_bound_),
    }


def measure_memory(
    point: GridPoint, init: dict[str, np.ndarray], library: str, config: BenchConfig
) -> dict[str, float]:
    """Run :func:`memory_worker` for one library in a fresh Python subprocess.

    Parameters
    ----------
    point : GridPoint
        Grid point.
    init : dict
        Initial parameters, passed to the subprocess through a temporary ``.npz``.
    library : {"sklearn", "candidate"}
        Which estimator to measure.
    config : BenchConfig
        Iterations (at most ``MEMORY_ITERS`` are run), candidate, kernel, threads.

    Returns
    -------
    dict
        The worker's result (see :func:`memory_worker`).

    Raises
    ------
    RuntimeError
        If the subprocess fails or prints no result.
    """
    with tempfile.TemporaryDirectory(prefix="bench_em_") as tmp:
        init_path = Path(tmp) / "init.npz"
        np.savez(init_path, **init)
        spec = {
            "point": asdict(point),
            "library": library,
            "candidate": config.candidate,
            "kernel": config.kernel,
            "threads": config.threads,
            "iters": min(config.iters, MEMORY_ITERS),
            "init_path": str(init_path),
        }
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--memory-worker", str(spec_path)],
            capture_output=True,
            text=True,
            check=False,
            env=thread_env(config.threads),
        )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"memory subprocess for {library} at {point} failed "
            f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return json.loads(lines[-1])


# ------------------------------------------------------------------------- driving


def run_point(point: GridPoint, config: BenchConfig, candidate: EstimatorFactory) -> PointResult:
    """Run every measurement at one grid point.

    Parameters
    ----------
    point : GridPoint
        Grid point.
    config : BenchConfig
        Run-wide settings.
    candidate : type
        Estimator class compared with scikit-learn.

    Returns
    -------
    PointResult
        All measurements of the point.
    """
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = now - clock
        clock = now

    X = make_data(point.n, point.d, point.k, point.dtype)
    init = initial_parameters(X, point.k, point.cov)
    lap("data_and_init")
    result = PointResult(point, time_iterations(X, point, init, candidate, config))
    lap("iterations")
    if config.whole_fit:
        result.whole_fit = time_whole_fit(X, point, candidate, config)
        lap("whole_fit")
    del X
    if config.memory:
        result.memory = {
            library: measure_memory(point, init, library, config)
            for library in ("sklearn", "candidate")
        }
        lap("memory")
    result.phase_seconds = phases
    result.seconds = sum(phases.values())
    return result


def run_benchmark(
    points: Iterable[GridPoint], config: BenchConfig, log: Callable[[str], None] | None = None
) -> list[PointResult]:
    """Run :func:`run_point` over a grid.

    Parameters
    ----------
    points : iterable of GridPoint
        The grid.
    config : BenchConfig
        Run-wide settings.
    log : callable, optional
        Receives one progress line per point.

    Returns
    -------
    list of PointResult
        One result per point, in order.
    """
    candidate = load_candidate(config.candidate)
    points = list(points)
    rates = measure_rates()
    results = []
    for index, point in enumerate(points, start=1):
        result = run_point(point, config, candidate)
        result.limit = em_iteration_floor(
            point.n, point.d, point.k, point.cov, np.dtype(point.dtype).itemsize, rates
        )
        result.limit["rates"] = rates
        results.append(result)
        if log is not None:
            it = result.iteration
            log(
                f"[{index}/{len(points)}] {_point_cells(point)} "
                f"speed-up {it.sklearn_s_per_iter / it.candidate_s_per_iter:.2f} "
                f"lb rel diff {it.lower_bound_rel_diff:.1e} ({result.seconds:.1f} s)"
            )
    return results


# ------------------------------------------------------------------------- output


def machine_info(candidate: str, kernel: str | None) -> dict[str, Any]:
    """Return a description of the machine and library versions.

    Call it after :func:`limit_threads` so that the thread counts are current.

    Parameters
    ----------
    candidate : str
        Candidate library name.
    kernel : str or None
        Requested gaussmix kernel.

    Returns
    -------
    dict
        CPU count, load average, platform, Python, NumPy, scikit-learn and
        gaussmix versions, gaussmix's SIMD target, and the thread pools.
    """
    info: dict[str, Any] = {
        "load_average": _load_average(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "candidate": candidate,
        "kernel": kernel or "default",
    }
    if candidate == "gaussmix":
        load_candidate("gaussmix")
        info["gaussmix"] = getattr(sys.modules["gaussmix"], "__version__", "unknown")
        info["simd"] = sys.modules["gaussmix"].kernels.simd_target()
    try:
        from threadpoolctl import threadpool_info

        info["thread_pools"] = [
            f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('num_threads')} threads)"
            for pool in threadpool_info()
        ]
    except ImportError:
        info["thread_pools"] = []
    return info


def _load_average() -> list[float] | None:
    """Return the 1, 5 and 15 minute load averages, or ``None`` where unavailable."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def render_machine_info(info: dict[str, Any]) -> str:
    """Return the machine description as a short Markdown bullet list."""
    versions = ", ".join(
        f"{name} {info[name]}" for name in ("numpy", "sklearn", "gaussmix") if name in info
    )
    lines = [
        f"- machine: {info['cpu_count']} CPUs ({info['cpus_usable']} usable by the benchmark), "
        f"{info['processor']}, {info['platform']}",
        f"- python {info['python']}, {versions}",
        f"- thread pools: {'; '.join(info['thread_pools']) or 'unknown'}; "
        f"gaussmix kernel: {info['kernel']} (SIMD target {info.get('simd', 'n/a')})",
        f"- load average (1, 5, 15 min) at start: {info['load_average']}",
    ]
    return "\n".join(lines)


def _point_cells(point: GridPoint) -> str:
    """Return the identifying cells of a row: N, D, K, cov, dtype."""
    return f"{point.n:,} | {point.d} | {point.k} | {point.cov} | {point.dtype}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a Markdown table; numeric-looking columns after the fifth are right-aligned."""
    align = ["---" if i < 5 else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ratio(numerator: float, denominator: float) -> str:
    """Format ``numerator / denominator`` with two decimals ("n/a" if undefined)."""
    if not denominator > 0 or not math.isfinite(numerator):
        return "n/a"
    return f"{numerator / denominator:.2f}"


def iteration_table_header(label: str = "gaussmix") -> list[str]:
    """Return the column names of the per-iteration table."""
    return [
        "N",
        "D",
        "K",
        "cov",
        "dtype",
        "sklearn s/iter",
        f"{label} s/iter",
        f"speed-up (sklearn/{label})",
        "sklearn peak MiB",
        f"{label} peak MiB",
        "memory ratio",
        "|Δ lower bound| (rel)",
        "machine floor s/iter (bound)",
        f"{label} / floor",
    ]


def render_iteration_table(results: Sequence[PointResult], label: str = "gaussmix") -> str:
    """Return the per-iteration time, memory and agreement table in Markdown.

    Parameters
    ----------
    results : sequence of PointResult
        Benchmark results.
    label : str
        Name of the candidate library in the column headers.

    Returns
    -------
    str
        The table; rows whose lower bounds disagree beyond ``LOWER_BOUND_RTOL``
        are marked ``(!)`` and explained in a footnote.
    """
    rows = []
    for result in results:
        it, mem = result.iteration, result.memory
        if mem is None:
            mem_cells = ["n/a", "n/a", "n/a"]
        else:
            sk_mib = mem["sklearn"]["tracemalloc_peak_mib"]
            cand_mib = mem["candidate"]["tracemalloc_peak_mib"]
            mem_cells = [f"{sk_mib:.1f}", f"{cand_mib:.1f}", _ratio(sk_mib, cand_mib)]
        flag = "" if it.lower_bound_ok else " (!)"
        rows.append(
            [
                *_point_cells(result.point).split(" | "),
                f"{it.sklearn_s_per_iter:.3g}",
                f"{it.candidate_s_per_iter:.3g}",
                _ratio(it.sklearn_s_per_iter, it.candidate_s_per_iter),
                *mem_cells,
                f"{it.lower_bound_rel_diff:.1e}{flag}",
                *_limit_cells(result),
            ]
        )
    table = _markdown_table(iteration_table_header(label), rows)
    if any(not result.iteration.lower_bound_ok for result in results):
        tolerances = ", ".join(f"{rtol:g} ({dtype})" for dtype, rtol in LOWER_BOUND_RTOL.items())
        table += f"\n\n(!) final lower bounds differ by more than {tolerances}."
    return table


def _limit_cells(result: PointResult) -> list[str]:
    limit = getattr(result, "limit", None)
    if not limit:
        return ["n/a", "n/a"]
    return [
        f"{limit['seconds']:.2g} ({limit['bound']})",
        f"{result.iteration.candidate_s_per_iter / limit['seconds']:.1f}",
    ]


def whole_fit_table_header(label: str = "gaussmix") -> list[str]:
    """Return the column names of the whole-fit table."""
    return [
        "N",
        "D",
        "K",
        "cov",
        "dtype",
        "sklearn fit s",
        f"{label} fit s",
        f"speed-up (sklearn/{label})",
        "sklearn n_iter",
        f"{label} n_iter",
        "|Δ lower bound| (rel)",
    ]


def render_whole_fit_table(results: Sequence[PointResult], label: str = "gaussmix") -> str:
    """Return the whole-fit (default initialisation) table in Markdown.

    Parameters
    ----------
    results : sequence of PointResult
        Benchmark results; points without whole-fit timings are skipped.
    label : str
        Name of the candidate library in the column headers.

    Returns
    -------
    str
        The table (header only if no point has whole-fit timings). Iteration
        counts of fits that did not converge are marked with ``*``.
    """
    rows = []
    for result in results:
        wf = result.whole_fit
        if wf is None:
            continue
        rows.append(
            [
                *_point_cells(result.point).split(" | "),
                f"{wf.sklearn_s:.3g}",
                f"{wf.candidate_s:.3g}",
                _ratio(wf.sklearn_s, wf.candidate_s),
                f"{wf.sklearn_n_iter}{'' if wf.sklearn_converged else '*'}",
                f"{wf.candidate_n_iter}{'' if wf.candidate_converged else '*'}",
                f"{wf.lower_bound_rel_diff:.1e}",
            ]
        )
    table = _markdown_table(whole_fit_table_header(label), rows)
    if any(row[8].endswith("*") or row[9].endswith("*") for row in rows):
        table += "\n\n* did not converge within max_iter=100."
    return table


def results_to_json(
    results: Sequence[PointResult], config: BenchConfig, info: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """Return all raw numbers as a JSON-serialisable dict."""
    return {
        "machine": info,
        "config": asdict(config),
        "total_seconds": seconds,
        "results": [asdict(result) for result in results],
    }


# ---------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        description="Benchmark gaussmix.GaussianMixture against sklearn.mixture.GaussianMixture.",
    )
    parser.add_argument("--full", action="store_true", help="run the large grid")
    parser.add_argument(
        "--n", type=lambda s: int(float(s)), nargs="+", help="sample counts (e.g. 1e5)"
    )
    parser.add_argument("--d", type=int, nargs="+", help="feature counts")
    parser.add_argument("--k", type=int, nargs="+", help="component counts")
    parser.add_argument("--cov", nargs="+", choices=COVARIANCE_TYPES, help="covariance types")
    parser.add_argument("--dtype", nargs="+", choices=DTYPES, help="data dtypes")
    parser.add_argument(
        "--repeats", type=int, default=3, help="fewest timed rounds per point (default 3)"
    )
    parser.add_argument(
        "--min-time",
        type=float,
        default=1.0,
        help="keep adding rounds (up to 25) until each library has run this many seconds "
        "(default 1.0; 0 for exactly --repeats)",
    )
    parser.add_argument(
        "--iters", type=int, default=10, help="EM iterations per timed fit (default 10)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write all raw numbers to PATH")
    parser.add_argument(
        "--candidate",
        choices=CANDIDATES,
        default="gaussmix",
        help="library compared with sklearn; 'sklearn' benchmarks sklearn against itself",
    )
    parser.add_argument("--kernel", choices=KERNELS, help="gaussmix kernel (default: its own)")
    parser.add_argument(
        "--threads",
        type=int,
        help="cap BLAS, OpenMP and gaussmix threads (default: the libraries' own defaults)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip memory subprocesses")
    parser.add_argument("--no-whole-fit", action="store_true", help="skip whole-fit timings")
    parser.add_argument("--memory-worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.iters < 1 or (args.threads is not None and args.threads < 1):
        parser.error("--repeats, --iters and --threads must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; return the exit status."""
    args = parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(args.memory_worker)))
        return 0
    config = BenchConfig(
        iters=args.iters,
        repeats=args.repeats,
        min_time=args.min_time,
        candidate=args.candidate,
        kernel=args.kernel,
        threads=args.threads,
        memory=not args.no_memory,
        whole_fit=not args.no_whole_fit,
    )
    points = build_grid(args)
    limit_threads(config.threads)
    info = machine_info(config.candidate, config.kernel)
    label = candidate_label(config.candidate)
    print(f"# EM benchmark: {label} vs scikit-learn\n\n{render_machine_info(info)}\n", flush=True)

    start = time.perf_counter()
    results = run_benchmark(points, config, log=lambda line: print(line, file=sys.stderr))
    seconds = time.perf_counter() - start

    rounds = (
        f"median of {config.repeats} to {MAX_ROUNDS} alternating rounds, until each "
        f"library ran {config.min_time:g} s"
        if config.min_time > 0
        else f"median of {config.repeats} alternating rounds"
    )
    print(
        f"## Time per EM iteration ({config.iters} iterations from identical initial "
        f"parameters; {rounds}) and peak extra memory of fit\n"
    )
    print(render_iteration_table(results, label) + "\n")
    if config.whole_fit:
        print(f"## Whole fit, default initialisation (k-means, tol=1e-3; {rounds})\n")
        print(render_whole_fit_table(results, label) + "\n")
    print(f"Total benchmark time: {seconds:.1f} s; load average at end: {_load_average()}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results_to_json(results, config, info, seconds), indent=2))
        print(f"Raw numbers written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
