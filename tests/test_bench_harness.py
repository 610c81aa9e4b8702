"""Fast tests of the benchmark harness's own logic (``benchmarks/bench_em.py``)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

HARNESS_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_em.py"


def _load_harness() -> ModuleType:
    """Import ``benchmarks/bench_em.py`` (not a package) from its file path."""
    spec = importlib.util.spec_from_file_location("bench_em", HARNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_harness()

EXPECTED_SHAPES = {
    "full": lambda k, d: (k, d, d),
    "tied": lambda k, d: (d, d),
    "diag": lambda k, d: (k, d),
    "spherical": lambda k, d: (k,),
}


def _gaussmix_or_skip() -> None:
    try:
        bench.load_candidate("gaussmix")
    except ImportError as exc:
        pytest.skip(f"gaussmix is not importable yet: {exc}")


@pytest.mark.parametrize("cov", bench.COVARIANCE_TYPES)
def test_initial_parameters_shapes_and_validity(cov: str) -> None:
    n_components, n_features = 4, 3
    X = bench.make_data(600, n_features, n_components, "float32")
    init = bench.initial_parameters(X, n_components, cov)

    assert set(init) == {"weights_init", "means_init", "precisions_init"}
    assert init["weights_init"].shape == (n_components,)
    assert init["means_init"].shape == (n_components, n_features)
    assert init["precisions_init"].shape == EXPECTED_SHAPES[cov](n_components, n_features)
    assert np.isclose(init["weights_init"].sum(), 1.0)
    assert np.all(init["weights_init"] > 0)
    precisions = init["precisions_init"]
    if cov in ("full", "tied"):
        matrices = precisions.reshape(-1, n_features, n_features)
        np.testing.assert_array_equal(matrices, np.swapaxes(matrices, 1, 2))
        assert np.all(np.linalg.eigvalsh(matrices) > 0)
    else:
        assert np.all(precisions > 0)
    # scikit-learn validates *_init (shapes, symmetry, positivity) and accepts them.
    point = bench.GridPoint(600, n_features, n_components, cov, "float32")
    bench.timed_fit(bench.fixed_init_estimator(bench.SklearnGaussianMixture, point, init, 1), X)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_initial_parameters_keep_the_data_dtype_so_sklearn_runs_that_path(dtype: str) -> None:
    # Float64 starts on float32 data make scikit-learn upcast and time its
    # float64 path: the float32 comparison must start both from float32.
    X = bench.make_data(600, 3, 2, dtype)
    init = bench.initial_parameters(X, 2, "full")
    assert {value.dtype for value in init.values()} == {np.dtype(dtype)}
    point = bench.GridPoint(600, 3, 2, "full", dtype)
    estimator = bench.fixed_init_estimator(bench.SklearnGaussianMixture, point, init, 1)
    bench.timed_fit(estimator, X)
    assert estimator.means_.dtype == np.dtype(dtype)


def test_parameters_from_labels_single_component_matches_sample_moments() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 3)) @ np.array([[2.0, 0, 0], [0.5, 1, 0], [0, 0.3, 0.2]])
    labels = np.zeros(300, dtype=int)
    covariance = np.cov(X.T, bias=True) + bench.REG_COVAR * np.eye(3)
    expected = {
        "full": np.linalg.inv(covariance)[None],
        "tied": np.linalg.inv(covariance),
        "diag": 1.0 / np.diag(covariance)[None],
        "spherical": 1.0 / np.diag(covariance).mean(keepdims=True),
    }
    for cov, precisions in expected.items():
        init = bench.parameters_from_labels(X, labels, 1, cov)
        np.testing.assert_allclose(init["means_init"], X.mean(axis=0, keepdims=True))
        np.testing.assert_allclose(init["precisions_init"], precisions, rtol=1e-10)
        np.testing.assert_allclose(init["weights_init"], [1.0])


def test_make_data_is_reproducible_in_the_requested_dtype() -> None:
    a = bench.make_data(1000, 5, 3, "float32")
    b = bench.make_data(1000, 5, 3, "float32")
    assert a.shape == (1000, 5) and a.dtype == np.float32 and a.flags.c_contiguous
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, bench.make_data(1000, 5, 3, "float64"), rtol=1e-6)


def test_relative_difference() -> None:
    assert bench.relative_difference(-2.0, -2.0) == 0.0
    assert bench.relative_difference(0.0, 0.0) == 0.0
    assert math.isclose(bench.relative_difference(-1.0, -1.001), 0.001 / 1.001)
    assert bench.relative_difference(1.0, math.nan) == math.inf


def _fake_result(point, *, ok: bool = True, memory: bool = True):
    iteration = bench.IterationResult(
        sklearn_s_per_iter=0.2,
        candidate_s_per_iter=0.05,
        sklearn_times=[0.2],
        candidate_times=[0.05],
        sklearn_n_iter=10,
        candidate_n_iter=10,
        sklearn_lower_bound=-3.0,
        candidate_lower_bound=-3.0 if ok else -3.1,
        lower_bound_rel_diff=0.0 if ok else 0.1 / 3.1,
        lower_bound_ok=ok,
    )
    mem = None
    if memory:
        mem = {
            "sklearn": {"tracemalloc_peak_mib": 64.0},
            "candidate": {"tracemalloc_peak_mib": 16.0},
        }
    whole = bench.WholeFitResult(1.0, 0.5, [1.0], [0.5], 7, 7, True, False, 1e-9)
    return bench.PointResult(point, iteration, mem, whole)


def _parse_markdown_table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    assert all(set(cell) <= set("-:") for cell in split[1][0].split("|"))
    return split[0], split[2:]


@pytest.mark.parametrize(
    ("repeats", "min_time", "seconds_per_fit", "expected_rounds"),
    [
        (3, 0.0, 0.5, 3),  # no time floor: exactly --repeats
        (3, 1.0, 0.5, 3),  # slow fits: 1.5 s after three rounds
        (3, 1.0, 0.125, 8),  # fast fits: rounds until each library ran 1 s
        (3, 1.0, 1e-4, 25),  # very fast fits stop at the cap
        (30, 1.0, 1.0, 25),  # --repeats above the cap
    ],
)
def test_timing_rounds(repeats, min_time, seconds_per_fit, expected_rounds) -> None:
    config = bench.BenchConfig(repeats=repeats, min_time=min_time)
    times: dict[str, list[float]] = {"sklearn": [], "candidate": []}
    rounds = 0
    for _ in bench.timing_rounds(config, times):
        rounds += 1
        # The faster library decides when there is enough.
        times["sklearn"].append(10 * seconds_per_fit)
        times["candidate"].append(seconds_per_fit)
    assert rounds == expected_rounds == len(times["candidate"])


def test_iteration_table_has_expected_columns_and_flags() -> None:
    results = [
        _fake_result(bench.GridPoint(100_000, 8, 3, "full", "float64")),
        _fake_result(bench.GridPoint(100_000, 8, 3, "diag", "float32"), ok=False, memory=False),
    ]
    text = bench.render_iteration_table(results)
    header, rows = _parse_markdown_table(text)
    assert header == [
        "N",
        "D",
        "K",
        "cov",
        "dtype",
        "sklearn s/iter",
        "gaussmix s/iter",
        "speed-up (sklearn/gaussmix)",
        "sklearn peak MiB",
        "gaussmix peak MiB",
        "memory ratio",
        "|Δ lower bound| (rel)",
        "machine floor s/iter (bound)",
        "gaussmix / floor",
    ]
    assert len(rows) == 2 and all(len(row) == len(header) for row in rows)
    assert rows[0][:5] == ["100,000", "8", "3", "full", "float64"]
    assert rows[0][7] == "4.00"  # 0.2 s / 0.05 s
    assert rows[0][8:11] == ["64.0", "16.0", "4.00"]
    assert not rows[0][11].endswith("(!)")
    assert rows[1][8:11] == ["n/a", "n/a", "n/a"]
    assert rows[1][11].endswith("(!)")
    assert "(!) final lower bounds differ" in text
    assert rows[0][12:] == ["n/a", "n/a"]  # no machine floor measured for fake results


def test_machine_floor_picks_the_binding_limit() -> None:
    rates = {"gemm_flops_per_s": 1e10, "read_bytes_per_s": 1e10, "exp_per_s": 1e8}
    # D = 2, K = 16: 1.6e6 exps at 1e8/s (16 ms) beat 24 flops x 1.6e6 at 1e10/s (4 ms).
    floor = bench.em_iteration_floor(100_000, 2, 16, "full", 8, rates)
    assert floor["bound"] == "exp"
    assert floor["seconds"] == pytest.approx((100_000 * 16 + 100_000) / 1e8)
    # D = 64 full: ~8.4e3 flops per (row, component) make arithmetic the floor.
    floor = bench.em_iteration_floor(100_000, 64, 16, "full", 8, rates)
    assert floor["bound"] == "flops"
    flops = 100_000 * 16 * (64 + 2 * 64 * 65 + 2 * 64)
    assert floor["seconds"] == pytest.approx(flops / 1e10)


def test_whole_fit_table_has_expected_columns() -> None:
    results = [_fake_result(bench.GridPoint(1000, 2, 2, "tied", "float64"))]
    text = bench.render_whole_fit_table(results)
    header, rows = _parse_markdown_table(text)
    assert header[:8] == [
        "N",
        "D",
        "K",
        "cov",
        "dtype",
        "sklearn fit s",
        "gaussmix fit s",
        "speed-up (sklearn/gaussmix)",
    ]
    assert rows == [
        ["1,000", "2", "2", "tied", "float64", "1", "0.5", "2.00", "7", "7*", "1.0e-09"]
    ]
    assert "* did not converge" in text


def test_build_grid_defaults_and_overrides() -> None:
    quick = bench.build_grid(bench.parse_args([]))
    assert len(quick) == 14 and all(p.n == 100_000 for p in quick)
    assert {p.dtype for p in quick} == {"float32", "float64"}
    full = bench.build_grid(bench.parse_args(["--full"]))
    assert {p.n for p in full} == {100_000, 1_000_000}
    assert {p.cov for p in full} == set(bench.COVARIANCE_TYPES)
    custom = bench.build_grid(bench.parse_args(["--n", "2e3", "--d", "4", "--cov", "tied"]))
    assert custom == [bench.GridPoint(2000, 4, k, "tied", "float64") for k in (3, 16)]


def _check_end_to_end(candidate: str) -> None:
    config = bench.BenchConfig(iters=2, repeats=1, candidate=candidate)
    point = bench.GridPoint(2000, 2, 2, "full", "float64")
    (result,) = bench.run_benchmark([point], config)

    it = result.iteration
    times = [it.sklearn_s_per_iter, it.candidate_s_per_iter, *it.sklearn_times]
    times += it.candidate_times
    assert all(math.isfinite(t) and t > 0 for t in times)
    assert it.sklearn_n_iter == it.candidate_n_iter == 2
    assert it.lower_bound_ok
    assert it.lower_bound_rel_diff <= bench.LOWER_BOUND_RTOL["float64"]

    assert result.memory is not None
    for library in ("sklearn", "candidate"):
        measured = result.memory[library]
        assert math.isfinite(measured["tracemalloc_peak_mib"])
        assert measured["tracemalloc_peak_mib"] > 0
        assert measured["n_iter"] == 2
    # The subprocess fits the same data from the same parameters.
    assert math.isclose(
        result.memory["sklearn"]["lower_bound"], it.sklearn_lower_bound, rel_tol=1e-12
    )

    assert result.whole_fit is not None
    assert result.whole_fit.sklearn_s > 0 and result.whole_fit.candidate_s > 0


def test_end_to_end_sklearn_against_itself() -> None:
    _check_end_to_end("sklearn")


def test_end_to_end_gaussmix() -> None:
    _gaussmix_or_skip()
    _check_end_to_end("gaussmix")


def test_main_prints_tables_and_writes_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "raw.json"
    argv = ["--candidate", "sklearn", "--n", "1500", "--d", "2", "--k", "2", "--cov", "diag"]
    argv += ["--iters", "2", "--repeats", "1", "--no-memory", "--json", str(out)]
    assert bench.main(argv) == 0
    stdout = capsys.readouterr().out
    assert "| N | D | K | cov | dtype | sklearn s/iter |" in stdout
    assert "| N | D | K | cov | dtype | sklearn fit s |" in stdout
    assert "numpy" in stdout and "sklearn" in stdout and "CPUs" in stdout
    raw = json.loads(out.read_text())
    assert raw["config"]["iters"] == 2
    assert raw["results"][0]["point"] == {
        "n": 1500,
        "d": 2,
        "k": 2,
        "cov": "diag",
        "dtype": "float64",
    }
    assert raw["results"][0]["memory"] is None


def test_thread_env_and_threads_option() -> None:
    env = bench.thread_env(1)
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "1"
    assert env["NUMBA_NUM_THREADS"] == "1"
    assert bench.thread_env(None).get("NUMBA_NUM_THREADS") == bench.os.environ.get(
        "NUMBA_NUM_THREADS"
    )
    assert bench.parse_args(["--threads", "2"]).threads == 2
    with pytest.raises(SystemExit):
        bench.parse_args(["--threads", "0"])
