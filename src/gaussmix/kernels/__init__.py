"""Hot loops: the E-step and sufficient statistics of one row block.

Kernels are pure functions of arrays and know nothing of estimators. Each fast
kernel has a NumPy twin with the same signature (the test oracle):

- ``estep_stats(X, sample_weight, means, precisions_chol, log_norm, form, scatter,
  log_background=None)`` -> ``(n_k, mean_k, scatter_k, log_likelihood)``; the
  optional term is a component of constant density (mclust's noise component)
- ``estep_tasks``: for the numba kernel, :class:`~gaussmix.kernels._numba.EstepTasks`,
  the same E-step over all the rows as tasks that threads claim (with
  ``task_rows_for``, its task size); None for NumPy
- ``resp_stats(X, sample_weight, resp, scatter)`` -> ``(n_k, mean_k, scatter_k)``
- ``log_prob_resp(X, means, precisions_chol, log_norm, form)`` -> ``(log p(x), log_resp)``
- ``lloyd_step(X, sample_weight, centers)`` -> ``(labels, sums, weights)``
- ``label_stats(X, sample_weight, labels, n_components, scatter)`` -> ``(n_k, mean_k, scatter_k)``
- ``candidate_distances(X, sample_weight, closest, candidates)`` -> ``(distances, potentials)``
- ``column_variances(X)`` -> ``variances`` (unweighted, per feature)
- ``cumulative_sum(values)`` -> running sums, bit-identical to ``np.cumsum``

numba is imported only when a numba kernel is first asked for, so
``import gaussmix`` stays light.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Literal

from . import _numpy

KernelName = Literal["auto", "numpy", "numba"]
KERNEL_NAMES = ("auto", "numpy", "numba")

__all__ = ["KERNEL_NAMES", "KernelName", "get_kernel", "hc_agglomerate"]


def get_kernel(name: str = "auto") -> SimpleNamespace:
    """Return the kernel set named ``name``.

    Parameters
    ----------
    name : {"auto", "numpy", "numba"}
        ``"auto"`` picks numba when it can be imported, NumPy otherwise. The
        column-wise numba kernel is faster than the NumPy kernel's BLAS products at
        every shape measured (D from 2 to 128, full and diagonal; see benchmarks/).

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
    if name in ("auto", "numba"):
        try:
            from . import _numba
        except ImportError:
            if name == "numba":
                raise ImportError(
                    "kernel='numba' needs numba, which could not be imported; "
                    "install it with `pip install numba` or use kernel='numpy'."
                ) from None
        else:
            from . import _lloyd

            return _kernel_set("numba", _numba, _lloyd, releases_gil=True)
    return _kernel_set("numpy", _numpy, _numpy, releases_gil=False)


def _kernel_set(name: str, estep, kmeans, *, releases_gil: bool) -> SimpleNamespace:
    # The E-step and k-means have fast twins; the others run once per fit or prediction.
    return SimpleNamespace(
        name=name,
        estep_stats=estep.estep_stats,
        estep_tasks=getattr(estep, "EstepTasks", None),
        task_rows_for=getattr(estep, "task_rows_for", None),
        resp_stats=_numpy.resp_stats,
        log_prob_resp=_numpy.log_prob_resp,
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
    ``MODEL_CODES`` maps a criterion ("VVV", "EII") to its code. Imported on first
    use (it compiles).
    """
    from ._hc import MODEL_CODES, agglomerate

    return agglomerate, MODEL_CODES
