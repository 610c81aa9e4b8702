"""Seconds per EM iteration on a two-worker Dask LocalCluster against in memory.

For each N the rows (D features, K components' worth of structure) are generated
lazily on the workers with ``dask.array.random`` and persisted there; the same rows
are then computed into the client for the in-memory fit. Both fits start from the
same explicit parameters (no start cost) and run ``--iters`` iterations with
``tol=0``; the time per iteration is the fit's time divided by the iterations.

The overhead per iteration is measured apart: the same fit on a 1-chunk array of a
few rows, where the kernel costs nothing and what remains is building the graph,
the scheduler's round trip and the reduction.

    python benchmarks/bench_dask.py                      # N = 1e6 and 1e7
    python benchmarks/bench_dask.py --sizes 1e6 --chunk-rows 250000
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture


def start(n_components: int, n_features: int) -> dict:
    rng = np.random.default_rng(0)
    return {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": rng.normal(scale=3.0, size=(n_components, n_features)),
        "precisions_init": np.repeat(np.eye(n_features)[None], n_components, axis=0),
    }


def seconds_per_iteration(X, params: dict, iters: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        began = time.perf_counter()
        GaussianMixture(**params, max_iter=iters, tol=0.0).fit(X)
    return (time.perf_counter() - began) / iters


def gather_rows(X) -> np.ndarray:
    """The rows of ``X`` in one client array, gathered chunk by chunk.

    ``X.compute()`` concatenates every chunk in one task on a worker, which needs the
    whole array's memory once more there; copying chunk by chunk needs one chunk.
    """
    rows = np.empty(X.shape, dtype=X.dtype)
    start = 0
    for block in X.to_delayed().ravel():
        part = block.compute()
        rows[start : start + part.shape[0]] = part
        start += part.shape[0]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="row counts, comma-separated")
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--components", type=int, default=4)
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import dask.array as da
    import distributed

    n_features, n_components = args.features, args.components
    params = dict(
        n_components=n_components, covariance_type="full", **start(n_components, n_features)
    )
    with (
        distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster),
    ):
        tiny = da.random.RandomState(1).normal(size=(64, n_features), chunks=(64, n_features))
        seconds_per_iteration(tiny.persist(), params, 3)  # workers warm
        overhead = seconds_per_iteration(tiny.persist(), params, 20)
        print(f"workers: {args.workers} x 1 thread; D={n_features}, K={n_components}, full")
        print(f"overhead per iteration (1 chunk of 64 rows): {overhead * 1e3:.1f} ms")
        print(f"{'N':>12} {'chunks':>7} {'cluster s/iter':>15} {'in-memory s/iter':>17}")
        for size in (int(float(s)) for s in args.sizes.split(",")):
            X = da.random.RandomState(0).normal(
                size=(size, n_features), chunks=(args.chunk_rows, n_features)
            )
            X = (
                X + (da.arange(size, chunks=args.chunk_rows) % n_components)[:, None] * 3.0
            ).persist()
            distributed.wait(X)
            on_cluster = seconds_per_iteration(X, params, args.iters)
            in_memory_rows = gather_rows(X)
            in_memory = seconds_per_iteration(in_memory_rows, params, args.iters)
            del in_memory_rows
            print(f"{size:>12.0e} {X.numblocks[0]:>7} {on_cluster:>15.3f} {in_memory:>17.3f}")


if __name__ == "__main__":
    main()
