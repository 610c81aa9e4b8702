"""Model selection: the full default sweep (every covariance model x K = 1..9).

Times ``gaussmix.select_model(X)`` on a 10,000 x 5 mixture sample (the issue's
target: under a minute on a 2-core machine), run serially (each fit on every
core) and with ``n_jobs=-1`` (cells on joblib threads, each fit on one), median of
``--repeats`` runs, and prints a Markdown table with the slowest cells.

Run ``python benchmarks/bench_selection.py`` (``--rows``, ``--features`` to vary).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def make_data(n_rows: int, n_features: int, seed: int = 0) -> np.ndarray:
    """Four correlated Gaussian clusters of unequal size and shape."""
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n_rows, [0.4, 0.3, 0.2, 0.1])
    parts = []
    for size in sizes:
        mixing = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features) + np.eye(
            n_features
        )
        centre = rng.normal(scale=4.0, size=n_features)
        parts.append(centre + rng.normal(size=(size, n_features)) @ mixing)
    return np.vstack(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=10_000)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import gaussmix

    X = make_data(int(args.rows), args.features)
    gaussmix.select_model(X[:500], n_components=[1, 2], random_state=0)  # compile, warm up
    rows = []
    results = {}
    for label, n_jobs in (("serial", None), ("n_jobs=-1", -1)):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = gaussmix.select_model(X, random_state=0, n_jobs=n_jobs)
            times.append(time.perf_counter() - start)
        results[label] = result
        table = result.table
        best = result.best_params_
        rows.append(
            f"| {label} | {len(table)} | {int((table['error'] != '').sum())} | "
            f"{np.median(times):.1f} | {min(times):.1f} | "
            f"{best['covariance_type']},{best['n_components']} |"
        )
    print(f"## Model selection sweep, {X.shape[0]:,} x {X.shape[1]} ({os.cpu_count()} cores)\n")
    print("| run | cells | failed | median s | min s | best (BIC) |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    table = results["serial"].table
    slow = table.sort_values("seconds", ascending=False).head(5)
    print("\nSlowest cells (serial run):\n")
    print("| model | K | seconds | iterations | converged |")
    print("|---|---:|---:|---:|---|")
    for row in slow.itertuples(index=False):
        print(
            f"| {row.covariance_type} | {row.n_components} | {row.seconds:.2f} | {row.n_iter} | "
            f"{row.converged} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
