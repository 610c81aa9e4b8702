"""Hot loops: the E-step and sufficient statistics of one row block.

Kernels are pure functions of arrays and know nothing of estimators. Each fast
kernel has a NumPy twin with the same signature (the test oracle):

- ``estep_stats(X, sample_weight, means, precisions_chol, log_norm, form, scatter,
  log_background=None)`` -> ``(n_k, mean_k, scatter_k, log_likelihood)``; the
  optional term is a component of constant density (mclust's noise component)
- ``estep_tasks``: for the compiled kernel,
  :class:`~gaussmix.kernels._compiled.EstepTasks`, the same E-step over all the rows
  as tasks that threads claim (with ``task_rows_for``, its task size); None for NumPy
- ``resp_stats(X, sample_weight, resp, scatter)`` -> ``(n_k, mean_k, scatter_k)``
- ``log_prob_resp(X, means, precisions_chol, log_norm, form)`` -> ``(log p(x), log_resp)``
- ``lloyd_step(X, sample_weight, centers)`` -> ``(labels, sums, weights)``
- ``label_stats(X, sample_weight, labels, n_components, scatter)`` -> ``(n_k, mean_k, scatter_k)``
- ``candidate_distances(X, sample_weight, closest, candidates)`` -> ``(distances, potentials)``
- ``column_variances(X)`` -> ``variances`` (unweighted, per feature)
- ``cumulative_sum(values)`` -> running sums, bit-identical to ``np.cumsum``

The compiled kernels are a C++ extension module built with the package (``native/``);
it is loaded with ``gaussmix``, which keeps its thread cap there (see
:mod:`gaussmix._threads`).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Literal

from . import _numpy

try:
    from . import _gaussmix
except ImportError as error:  # pragma: no cover - a checkout whose extension was not built
    raise ImportError(
        "gaussmix's compiled kernels (the extension module gaussmix.kernels._gaussmix) "
        "are missing: gaussmix must be installed, which compiles them (`pip install .`, "
        "or `make install` in a checkout; a C++ compiler and CMake are needed)."
    ) from error

KernelName = Literal["auto", "numpy", "compiled", "numba"]
KERNEL_NAMES = ("auto", "numpy", "compiled", "numba")

#: The start of the extension module's file name, by which threadpoolctl finds it
#: among the libraries a process loaded.
LIBRARY_PREFIX = "_gaussmix"

__all__ = [
    "KERNEL_NAMES",
    "LIBRARY_PREFIX",
    "KernelName",
    "get_kernel",
    "hc_agglomerate",
    "num_threads_setting",
    "set_num_threads_setting",
    "simd_target",
]


def simd_target() -> str:
    """The instruction set the compiled kernels run with on this CPU.

    Returns
    -------
    target : {"avx512", "avx2", "generic"}
        The best of those compiled into the extension that the CPU supports (x86-64:
        AVX-512, AVX2 with FMA, or the baseline; other processors: "generic").
    """
    return _gaussmix.simd_target()


def num_threads_setting() -> int:
    """The process-wide thread cap kept by the extension module, or 0 when none is set."""
    return _gaussmix.num_threads_setting()


def set_num_threads_setting(n_threads: int) -> int:
    """Set the process-wide thread cap (0: none); returns the previous one (0: none)."""
    return _gaussmix.set_num_threads_setting(int(n_threads))


def get_kernel(name: str = "auto") -> SimpleNamespace:
    """Return the kernel set named ``name``.

    Parameters
    ----------
    name : {"auto", "numpy", "compiled", "numba"}
        ``"auto"`` is the compiled kernel, faster than the NumPy kernel's BLAS
        products at every shape measured (D from 2 to 128, full and diagonal; see
        benchmarks/). ``"numba"``, the name of the kernels the compiled ones
        replaced, is another name for ``"compiled"``, so that code and model files
        that say it keep working.

    Returns
    -------
    kernel : namespace
        With ``name`` (the resolved name), ``estep_stats``, ``estep_tasks``,
        ``task_rows_for``, ``resp_stats``,
        ``log_prob_resp``, ``lloyd_step``, ``label_stats``, ``candidate_distances``,
        ``column_variances``, ``cumulative_sum`` and ``releases_gil``
        (whether blocks may run on threads).
    """
    if name not in KERNEL_NAMES:
        raise ValueError(f"kernel must be one of {KERNEL_NAMES}; got {name!r}.")
    if name == "numpy":
        return _kernel_set("numpy", _numpy, _numpy, releases_gil=False)
    from . import _compiled

    return _kernel_set("compiled", _compiled, _compiled, releases_gil=True)


def _kernel_set(name: str, estep, kmeans, *, releases_gil: bool) -> SimpleNamespace:
    # The E-step and k-means have fast twins; the others run once per fit or prediction.
    return SimpleNamespace(
        name=name,
        estep_stats=estep.estep_stats,
        estep_tasks=getattr(estep, "EstepTasks", None),
        task_rows_for=getattr(estep, "task_rows_for", None),
        resp_stats=_numpy.resp_stats,
        log_prob_resp=getattr(estep, "log_prob_resp", _numpy.log_prob_resp),
        lloyd_step=kmeans.lloyd_step,
        label_stats=kmeans.label_stats,
        candidate_distances=kmeans.candidate_distances,
        column_variances=kmeans.column_variances,
        cumulative_sum=kmeans.cumulative_sum,
        releases_gil=releases_gil,
    )


def hc_agglomerate():
    """The hierarchical-clustering kernel: ``(agglomerate, MODEL_CODES)``.

    ``agglomerate(Z, sample_weight, model_code, alpha, beta, tie_rtol)`` merges the
    rows of ``Z`` pair by pair and returns the merges and their costs;
    ``MODEL_CODES`` maps a criterion ("VVV", "EII") to its code.
    """
    from ._hc import MODEL_CODES, agglomerate

    return agglomerate, MODEL_CODES
