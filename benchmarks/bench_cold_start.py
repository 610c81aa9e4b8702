#!/usr/bin/env python
"""Cold start: the classic tutorial workflow as a whole new process, gaussmix against scikit-learn.

Most users meet a Gaussian mixture in a short script (the tutorial below: 500 blobs,
a 3-component full ``GaussianMixture``, ``KMeans`` beside it, silhouette, AIC, BIC),
run as a new process: after an install, in CI, in a container, on a fresh cluster
worker, or on every call of a command-line tool. This times that script with
``from gaussmix import GaussianMixture`` and with scikit-learn's class, pair by
pair, each run a fresh interpreter:

- cold: every run starts with empty cache directories (``HOME``,
  ``XDG_CACHE_HOME`` and ``NUMBA_CACHE_DIR`` point at a new temporary folder), as
  after a new install;
- warm: the runs of each library share one cache folder, filled by a first run;
- import: a fresh interpreter that only imports the estimator's module.

It prints the median wall time of each library, the median of the pairs' ratios
(gaussmix / scikit-learn; below 1 means gaussmix is faster), the peak RSS of each
(the largest over the cold runs) and whether both printed the same numbers.

    python benchmarks/bench_cold_start.py [--pairs 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

LIBRARIES = {"gaussmix": "gaussmix", "sklearn": "sklearn.mixture"}

WORKFLOW = """
import numpy as np
from {module} import GaussianMixture
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import KMeans
X, y_true = make_blobs(n_samples=500, centers=3, cluster_std=0.60, random_state=0)
X = StandardScaler().fit_transform(X)
gmm = GaussianMixture(n_components=3, covariance_type='full', random_state=42).fit(X)
labels = gmm.predict(X)
kmeans = KMeans(n_clusters=3, random_state=42).fit(X)
print(silhouette_score(X, labels), gmm.aic(X), gmm.bic(X))
"""

IMPORT_ONLY = "from {module} import GaussianMixture\n"


def run_script(path: Path, cache: Path) -> tuple[float, float, str]:
    """Run ``path`` in a fresh interpreter whose caches live in ``cache``.

    Returns
    -------
    seconds, peak_mib, stdout
        Wall time of the whole process, its peak resident set size (MiB) and what
        it printed.
    """
    env = dict(
        os.environ,
        HOME=str(cache),
        XDG_CACHE_HOME=str(cache),
        NUMBA_CACHE_DIR=str(cache / "numba"),
    )
    out_path, err_path = cache / "stdout.txt", cache / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        # posix_spawn and wait4 rather than subprocess: wait4 gives this child's
        # own peak RSS.
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, str(path)],
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{path.name} failed:\n{err_path.read_text()}")
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    peak_mib = usage.ru_maxrss / (2.0**20 if sys.platform == "darwin" else 2.0**10)
    return seconds, peak_mib, out_path.read_text().strip()


def summarise(times: dict[str, list[float]]) -> dict[str, float]:
    """Medians of each library's times and of the pairwise ratios gaussmix / sklearn."""
    ratios = [g / s for g, s in zip(times["gaussmix"], times["sklearn"], strict=True)]
    return {
        "gaussmix_s": statistics.median(times["gaussmix"]),
        "sklearn_s": statistics.median(times["sklearn"]),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def render(results: dict[str, dict[str, float]], peaks: dict[str, float], same: bool) -> str:
    """The results as a Markdown table."""
    lines = [
        "| run | gaussmix s | scikit-learn s | gaussmix / scikit-learn (median, min-max) |",
        "|---|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['gaussmix_s']:.3f} | {r['sklearn_s']:.3f} | "
            f"{r['ratio']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) |"
        )
    lines.append("")
    lines.append(
        f"Peak RSS of a cold workflow run: gaussmix {peaks['gaussmix']:.0f} MiB, "
        f"scikit-learn {peaks['sklearn']:.0f} MiB. Same printed numbers: {same}."
    )
    return "\n".join(lines)


def measure(work: Path, pairs: int) -> tuple[dict, dict[str, float], bool]:
    """Run every script ``pairs`` times per library and mode, in folder ``work``.

    Returns
    -------
    times, peaks, same
        ``times[mode][library]``: wall times (s) for the modes cold, warm and
        import; ``peaks[library]``: the largest peak RSS (MiB) of its cold workflow
        runs; ``same``: whether every workflow run printed the same numbers.
    """
    scripts = {}
    for name, module in LIBRARIES.items():
        for kind, template in (("workflow", WORKFLOW), ("import", IMPORT_ONLY)):
            scripts[kind, name] = work / f"{kind}_{name}.py"
            scripts[kind, name].write_text(template.format(module=module))

    def fresh_cache() -> Path:
        return Path(tempfile.mkdtemp(prefix="cold-", dir=work))

    warm_caches = {name: work / f"warm-{name}" for name in LIBRARIES}
    for name, cache in warm_caches.items():
        cache.mkdir()
        run_script(scripts["workflow", name], cache)  # fills the warm caches

    times = {mode: {name: [] for name in LIBRARIES} for mode in ("cold", "warm", "import")}
    peaks = dict.fromkeys(LIBRARIES, 0.0)
    outputs = set()
    for pair in range(pairs):
        # Alternate which library runs first, so that drift affects both alike.
        order = list(LIBRARIES) if pair % 2 == 0 else list(reversed(LIBRARIES))
        for name in order:
            seconds, peak, out = run_script(scripts["workflow", name], fresh_cache())
            times["cold"][name].append(seconds)
            peaks[name] = max(peaks[name], peak)
            outputs.add(out)
        for name in order:
            times["warm"][name].append(run_script(scripts["workflow", name], warm_caches[name])[0])
        for name in order:
            times["import"][name].append(run_script(scripts["import", name], fresh_cache())[0])
        print(f"pair {pair + 1}/{pairs} done", file=sys.stderr, flush=True)
    return times, peaks, len(outputs) == 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7, help="runs of each library per mode")
    parser.add_argument("--json", type=Path, help="write every time to this file too")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gaussmix-cold-start-"))
    try:
        times, peaks, same = measure(work, args.pairs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {mode: summarise(times[mode]) for mode in times}
    print(render(results, peaks, same))
    if args.json:
        args.json.write_text(
            json.dumps({"times": times, "peaks_mib": peaks, "results": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
