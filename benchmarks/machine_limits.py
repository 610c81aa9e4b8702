"""This machine's limits for one EM iteration, measured in the benchmark's own run.

The limit of a grid point is the largest of three floors:

- arithmetic: the iteration's floating-point operations / the measured GEMM rate
  (the best rate this machine reaches on dense products);
- memory: the bytes of the data read once / the measured read bandwidth;
- transcendental: the ``N * K`` exponentials and ``N`` logarithms / the measured
  rate of NumPy's vectorised ``exp``.

Operation counts per (row, component) of the fused kernel: the differences ``x - mean``
(D), the whitened quadratic form (``D (D + 1)`` for a triangular factor, ``2 D``
diagonal), and the statistics ``sum r d`` (2 D) and ``sum r d d^T`` (``D (D + 1)``
full, ``2 D`` diagonal).
"""

from __future__ import annotations

import time

import numpy as np

FULL_TYPES = ("full", "tied")


def _best_rate(work: float, fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return work / min(times)


def measure_rates() -> dict[str, float]:
    """GEMM flop/s (float64), read bandwidth (bytes/s) and exp rate (values/s)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048))
    b = rng.standard_normal((2048, 2048))
    big = rng.standard_normal(50_000_000)  # 400 MB: well beyond the caches
    values = rng.standard_normal(4_000_000)
    out = np.empty_like(values)
    return {
        "gemm_flops_per_s": _best_rate(2 * 2048**3, lambda: a @ b),
        "read_bytes_per_s": _best_rate(big.nbytes, big.sum),
        "exp_per_s": _best_rate(values.size, lambda: np.exp(values, out=out)),
    }


def em_iteration_floor(
    n: int, d: int, k: int, cov: str, itemsize: int, rates: dict[str, float]
) -> dict[str, float | str]:
    """Seconds one EM iteration cannot beat on this machine, and which floor binds."""
    if cov in FULL_TYPES:
        flops_per_pair = d + 2 * d * (d + 1) + 2 * d
    else:
        flops_per_pair = d + 2 * d + 2 * d + 2 * d
    floors = {
        "flops": n * k * flops_per_pair / rates["gemm_flops_per_s"],
        "bytes": n * d * itemsize / rates["read_bytes_per_s"],
        "exp": (n * k + n) / rates["exp_per_s"],
    }
    bound = max(floors, key=floors.get)
    return {
        "seconds": floors[bound],
        "bound": bound,
        **{f"{key}_s": v for key, v in floors.items()},
    }
