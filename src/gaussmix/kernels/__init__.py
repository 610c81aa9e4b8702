"""Hot loops: the E-step and sufficient statistics of one row block.

Kernels are pure functions of arrays and know nothing of estimators. Each fast
kernel has a NumPy twin with the same signature (the test oracle):

- ``estep_stats(X, sample_weight, means, precisions_chol, log_norm, form, scatter)``
  -> ``(n_k, mean_k, scatter_k, log_likelihood)``
- ``resp_stats(X, sample_weight, resp, scatter)`` -> ``(n_k, mean_k, scatter_k)``
- ``log_prob_resp(X, means, precisions_chol, log_norm, form)`` -> ``(log p(x), log_resp)``

numba is imported only when a numba kernel is first asked for, so
``import gaussmix`` stays light.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Literal

from . import _numpy

KernelName = Literal["auto", "numpy", "numba"]
KERNEL_NAMES = ("auto", "numpy", "numba")

__all__ = ["KERNEL_NAMES", "KernelName", "get_kernel"]


# Full precisions at this dimension and above run faster as BLAS products (the
# NumPy kernel) than as numba loops: measured crossover between D = 8 and D = 16
# (N = 1e5, K = 16; see benchmarks/). Diagonal forms are faster in numba at any D.
BLAS_MIN_FEATURES = 12


def get_kernel(
    name: str = "auto", *, form: str = "diag", n_features: int | None = None
) -> SimpleNamespace:
    """Return the kernel set named ``name``, or the fastest for a shape.

    Parameters
    ----------
    name : {"auto", "numpy", "numba"}
        ``"auto"`` picks numba when it can be imported, except for full precisions
        with ``n_features >= BLAS_MIN_FEATURES``, where the NumPy kernel's BLAS
        products are faster.
    form : {"full", "diag"}
        The covariance model's precision form (used by ``"auto"``).
    n_features : int or None
        Number of features (used by ``"auto"``).

    Returns
    -------
    kernel : namespace
        With ``name`` (the resolved name), ``estep_stats``, ``resp_stats``,
        ``log_prob_resp`` and ``releases_gil`` (whether blocks may run on threads).
    """
    if name not in KERNEL_NAMES:
        raise ValueError(f"kernel must be one of {KERNEL_NAMES}; got {name!r}.")
    if name == "auto" and form == "full" and (n_features or 0) >= BLAS_MIN_FEATURES:
        name = "numpy"
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
            return SimpleNamespace(
                name="numba",
                estep_stats=_numba.estep_stats,
                resp_stats=_numpy.resp_stats,
                log_prob_resp=_numpy.log_prob_resp,
                releases_gil=True,
            )
    return SimpleNamespace(
        name="numpy",
        estep_stats=_numpy.estep_stats,
        resp_stats=_numpy.resp_stats,
        log_prob_resp=_numpy.log_prob_resp,
        releases_gil=False,
    )
