"""Out-of-core EM: peak memory and pass time against the time to read the file.

Writes an (N, D) float32 ``.npy`` file block by block (never holding it), then,
each in a fresh process so peak RSS is its own:

- ``read``: one pass of ``open_data(path).blocks()`` (read + validate), the floor
  for any pass over the file, timed twice: from the disk (the file's pages
  evicted from the page cache first with ``posix_fadvise(DONTNEED)``) and from
  the page cache;
- ``fit``: ``GaussianMixture(K, max_iter=ITERS, tol=0).fit(open_data(path))`` with
  the default initialisation (k-means on a 100,000-row sample), timing each EM
  pass and recording the process's peak RSS.

Run ``python benchmarks/bench_out_of_core.py --rows 1e8`` for the 4 GB case.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_mixture_npy(path: Path, n_rows: int, n_features: int, n_components: int) -> None:
    """Write a float32 mixture sample of shape (n_rows, n_features) in blocks."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5.0, size=(n_components, n_features)).astype(np.float32)
    header = {"descr": "<f4", "fortran_order": False, "shape": (n_rows, n_features)}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_2_0(f, header)
        block = 1 << 20
        for start in range(0, n_rows, block):
            count = min(block, n_rows - start)
            labels = rng.integers(n_components, size=count)
            rows = centres[labels] + rng.standard_normal((count, n_features), dtype=np.float32)
            f.write(np.ascontiguousarray(rows, dtype=np.float32).tobytes())


def evict_from_page_cache(path: Path) -> bool:
    """Drop the file's cached pages so the next read comes from the disk.

    Returns False where the platform cannot (no ``posix_fadvise``).
    """
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(task: str, path: str, n_components: int, iters: int) -> dict:
    """Run one measurement in this process and return its numbers."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from gaussmix import GaussianMixture, open_data

    source = open_data(path)
    baseline = _peak_rss_mib()
    if task == "read":
        start = time.perf_counter()
        total = 0.0
        for block in source.blocks():
            total += float(block[0, 0])
        return {"read_s": time.perf_counter() - start, "peak_rss_mib": _peak_rss_mib()}
    gm = GaussianMixture(
        n_components, max_iter=iters, tol=0.0, random_state=0, verbose=2, verbose_interval=1
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(source)
    return {
        "fit_s": time.perf_counter() - start,
        "peak_rss_mib": _peak_rss_mib(),
        "baseline_rss_mib": baseline,
        "lower_bound": gm.lower_bound_,
    }


def run(task: str, path: Path, n_components: int, iters: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        task,
        str(path),
        str(n_components),
        str(iters),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    # verbose=2 prints "Iteration i  time lapse Ts": the per-pass times.
    result["pass_s"] = [
        float(line.split("time lapse")[1].split("s")[0])
        for line in lines
        if "time lapse" in line and "Iteration" in line
    ]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        task, path, n_components, iters = args.worker
        print(json.dumps(worker(task, path, int(n_components), int(iters))))
        return 0

    n_rows = int(args.rows)
    directory = Path(tempfile.mkdtemp()) if args.path is None else args.path.parent
    path = args.path or directory / "mixture.npy"
    start = time.perf_counter()
    write_mixture_npy(path, n_rows, args.features, args.components)
    size_gb = os.path.getsize(path) / 1e9
    print(f"wrote {path} ({size_gb:.2f} GB) in {time.perf_counter() - start:.1f} s")
    try:
        cold = (
            run("read", path, args.components, args.iters) if evict_from_page_cache(path) else None
        )
        read = run("read", path, args.components, args.iters)
        fit = run("fit", path, args.components, args.iters)
    finally:
        if args.path is None:
            path.unlink()
    passes = fit["pass_s"][1:] or fit["pass_s"]  # the first also pays for compilation
    pass_s = float(np.median(passes))
    print()
    cold_s = cold["read_s"] if cold else float("nan")
    print(
        "| N | D | K | file GB | read from disk s | read from page cache s | EM s/pass "
        "| pass / disk read | pass / cached read | fit s | peak RSS MiB |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {n_rows:,} | {args.features} | {args.components} | {size_gb:.2f} | "
        f"{cold_s:.2f} | {read['read_s']:.2f} | {pass_s:.2f} | {pass_s / cold_s:.2f} | "
        f"{pass_s / read['read_s']:.2f} | {fit['fit_s']:.1f} | {fit['peak_rss_mib']:.0f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
