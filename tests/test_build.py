"""The compiled extension as built: its SIMD targets, and the build's own bookkeeping."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import numpy as np
import pytest

from gaussmix import GaussianMixture
from gaussmix.kernels import _gaussmix, simd_target

ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "src" / "gaussmix" / "kernels" / "native"


def test_best_supported_target_is_in_use():
    targets = _gaussmix.simd_targets()
    assert targets[-1] == "generic"  # the portable build is always there, last
    assert simd_target() == targets[0]


def test_x86_64_builds_carry_the_avx2_and_avx512_targets():
    """On x86-64 each target is offered exactly where the CPU has its instruction
    sets (here read from /proc/cpuinfo, independently of the module's own check)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        assert _gaussmix.simd_targets() == ["generic"]
        return
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    has = set(re.findall(r"\b(avx2|fma|avx512f|avx512dq|avx512bw|avx512vl)\b", flags))
    expected = ["generic"]
    if {"avx2", "fma"} <= has:
        expected.insert(0, "avx2")
        if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= has:
            expected.insert(0, "avx512")
    assert _gaussmix.simd_targets() == expected


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tol=0
@pytest.mark.parametrize(
    ("covariance_type", "dtype"),
    [("full", np.float64), ("tied", np.float64), ("diag", np.float32), ("spherical", np.float64)],
)
def test_avx512_build_computes_the_avx2_build_bits(covariance_type, dtype):
    """The AVX-512 target keeps AVX2's 256-bit vectors and order of sums, so a fit gives
    the same bits on an AVX-512 machine as on an AVX2 one (docs/how-it-works.md)."""
    if "avx512" not in _gaussmix.simd_targets():
        pytest.skip("this CPU runs no AVX-512 code")
    rng = np.random.default_rng(3)
    # 13 features and 9,001 rows: partial vectors and a ragged last block.
    X = (rng.standard_normal((9001, 13)) @ rng.standard_normal((13, 13))).astype(dtype)
    previous = _gaussmix.simd_target()
    fits = {}
    try:
        for target in ("avx512", "avx2"):
            assert _gaussmix.set_simd_target(target)
            gm = GaussianMixture(
                4, covariance_type=covariance_type, max_iter=15, tol=0, random_state=0
            ).fit(X)
            fits[target] = (gm.lower_bound_, gm.means_, gm.covariances_, gm.score_samples(X))
    finally:
        _gaussmix.set_simd_target(previous)
    for wide, narrow in zip(fits["avx512"], fits["avx2"], strict=True):
        np.testing.assert_array_equal(wide, narrow)


def test_unknown_simd_target_is_refused():
    before = _gaussmix.simd_target()
    assert not _gaussmix.set_simd_target("avx1024")
    assert _gaussmix.simd_target() == before


def test_makefile_build_requirements_match_pyproject():
    """make install builds without isolation from requirements of its own list."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = re.search(r"^\[build-system\]\n(.*?)^\[", pyproject, re.M | re.S).group(1)
    build = re.findall(r'"([^"]+)"', re.search(r"^requires = \[(.*?)\]", section, re.M).group(1))
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^BUILD_REQUIRES := (.*)$", makefile, re.M).group(1)
    assert sorted(re.findall(r'"([^"]+)"', listed)) == sorted(build)


def test_makefile_rebuilds_on_every_native_source():
    """The install stamp depends on CMakeLists.txt and every C++ source and header."""
    makefile = (ROOT / "Makefile").read_text()
    assert "$(wildcard src/gaussmix/kernels/native/*.cpp)" in makefile
    assert "$(wildcard src/gaussmix/kernels/native/*.hpp)" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(NATIVE_SOURCES\)$", makefile, re.M)
    assert {p.suffix for p in NATIVE.iterdir()} <= {".cpp", ".hpp"}
    assert re.search(r"^NATIVE_SOURCES := CMakeLists\.txt ", makefile, re.M)
