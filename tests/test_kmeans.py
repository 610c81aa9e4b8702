"""The default start: gaussmix's k-means against scikit-learn's KMeans and its own twins."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from conftest import mixture_data
from gaussmix import GaussianMixture
from gaussmix._kmeans import kmeans_labels
from gaussmix.kernels import _numpy, get_kernel

COMPILED = get_kernel("compiled")
NUMPY = get_kernel("numpy")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("n", "d", "k"), [(500, 2, 3), (3000, 5, 8), (20000, 8, 16), (5000, 32, 3)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_labels_equal_scikit_learn_kmeans(seed, n, d, k, weighted):
    X, _ = mixture_data(n, d, k, seed=seed)
    weight = np.random.default_rng(seed).uniform(0.2, 3.0, n) if weighted else None
    expected = KMeans(k, n_init=1, random_state=np.random.RandomState(seed))
    expected = expected.fit(X, sample_weight=weight).labels_
    labels = kmeans_labels(X, weight, k, np.random.RandomState(seed), COMPILED, n_threads=2)
    np.testing.assert_array_equal(labels, expected)


def test_random_state_consumed_as_scikit_learn_does():
    # After the start, the same random stream must be left for what follows.
    X, _ = mixture_data(2000, 3, 4, seed=5)
    ours, theirs = np.random.RandomState(7), np.random.RandomState(7)
    kmeans_labels(X, None, 4, ours, COMPILED)
    KMeans(4, n_init=1, random_state=theirs).fit(X)
    assert ours.uniform() == theirs.uniform()


def test_compiled_and_numpy_twins_give_same_labels():
    X, _ = mixture_data(1500, 4, 6, seed=3)
    a = kmeans_labels(X, None, 6, np.random.RandomState(0), COMPILED, n_threads=2)
    b = kmeans_labels(X, None, 6, np.random.RandomState(0), NUMPY, n_threads=1)
    np.testing.assert_array_equal(a, b)


# 7 features for 9 centres run across transposed chunks, 24 row by row.
@pytest.mark.parametrize("n_features", [7, 24])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_step_twins(n_features, dtype, weighted, simd_target):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3001, n_features)).astype(dtype)
    weight = rng.uniform(0.1, 2.0, 3001) if weighted else None
    centers = rng.normal(size=(9, n_features))
    labels, sums, weights = COMPILED.lloyd_step(X, weight, centers)
    ref_labels, ref_sums, ref_weights = _numpy.lloyd_step(X, weight, centers)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12)
    # Brute force: nearest centre by explicit distances.
    brute = [np.argmin([np.sum((x - c) ** 2) for c in centers]) for x in X.astype(float)[:50]]
    np.testing.assert_array_equal(labels[:50], brute)


# 5 features: the fused row loop; 20 (full scatter): one BLAS product per label.
@pytest.mark.parametrize("n_features", [5, 20])
@pytest.mark.parametrize("scatter", ["full", "diag"])
@pytest.mark.parametrize("weighted", [False, True])
def test_label_stats_twins(n_features, scatter, weighted):
    rng = np.random.default_rng(1)
    # Far from the origin: a centred pass is needed.
    X = rng.normal(size=(2000, n_features)) + 1e4
    weight = rng.uniform(0.1, 2.0, 2000) if weighted else None
    labels = rng.integers(0, 4, 2000)
    if weighted:
        weight[::7] = 0.0  # rows that carry no weight
        weight[labels == 3] = 0.0  # a component whose rows all carry none
    got = COMPILED.label_stats(X, weight, labels, 5, scatter)  # component 4 is empty
    ref = _numpy.label_stats(X, weight, labels, 5, scatter)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    assert got[0][4] == 0.0


def test_label_stats_of_float32_rows_against_float64_reference():
    """float32 rows' full scatter is taken in float32 (as scikit-learn's): within a
    few float32 roundings of the float64 statistics of the same rows."""
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(6000, 24)) * rng.uniform(0.5, 3, 24) + 300).astype(np.float32)
    labels = rng.integers(0, 3, len(X))
    got = COMPILED.label_stats(X, None, labels, 3, "full")
    ref = _numpy.label_stats(X.astype(np.float64), None, labels, 3, "full")
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-12)
    scale = np.sqrt(np.einsum("kii,kjj->kij", ref[2], ref[2]))
    assert np.max(np.abs(got[2] - ref[2]) / scale) < 1e-5
    np.testing.assert_array_equal(got[2], np.swapaxes(got[2], 1, 2))


# 3 features for 3 candidates run across transposed chunks, 12 row by row (five
# candidates: four in one sweep, and one more).
@pytest.mark.parametrize("n_features", [3, 12])
@pytest.mark.parametrize("picked", [[3, 10, 500], [3, 10, 500, 7, 2000]])
@pytest.mark.parametrize("weighted", [False, True])
def test_candidate_distances_twins(n_features, picked, weighted, simd_target):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2999, n_features))
    weight = rng.uniform(0.1, 2.0, 2999) if weighted else None
    closest = rng.uniform(0.0, 5.0, 2999)
    candidates = X[picked]
    d, pots = COMPILED.candidate_distances(X, weight, closest, candidates)
    d_ref, pots_ref = _numpy.candidate_distances(X, weight, closest, candidates)
    np.testing.assert_allclose(d, d_ref, rtol=1e-13)
    np.testing.assert_allclose(pots, pots_ref, rtol=1e-12)
    assert np.all(d[:, picked].diagonal() == 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_column_variances_twins(dtype, offset, simd_target):
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(5001, 6)) * [1, 2, 3, 1e-3, 1e3, 1] + offset).astype(dtype)
    expected = np.var(X.astype(np.float64), axis=0)
    np.testing.assert_allclose(COMPILED.column_variances(X), expected, rtol=1e-9)
    np.testing.assert_allclose(NUMPY.column_variances(X), expected, rtol=1e-12)


@pytest.mark.parametrize("n", [0, 1, 17, 100_003])
def test_cumulative_sum_bit_identical_to_numpy(n):
    # k-means++ draws its candidates by searching these sums: one bit off could
    # move a draw to the neighbouring row.
    values = np.random.default_rng(n).exponential(size=n) * 1e3
    for kernel in (COMPILED, NUMPY):
        np.testing.assert_array_equal(kernel.cumulative_sum(values), np.cumsum(values))


@pytest.mark.parametrize("seed", range(5))
def test_first_seed_drawn_as_random_state_choice(seed):
    from gaussmix._kmeans import _choice

    rng = np.random.default_rng(seed)
    for p in (np.full(997, 1 / 997), rng.uniform(0.0, 3.0, 10_000), rng.pareto(1.0, 50)):
        p = p / p.sum()
        ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
        for _ in range(20):
            assert _choice(ours, p) == theirs.choice(p.size, p=p)
        assert ours.uniform() == theirs.uniform()


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_default_start_same_model_as_scikit_learn(covariance_type):
    X, _ = mixture_data(20000, 4, 5, seed=11)
    ours = GaussianMixture(5, covariance_type=covariance_type, random_state=3).fit(X)
    theirs = SkGaussianMixture(5, covariance_type=covariance_type, random_state=3).fit(X)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-6, atol=1e-8)
    assert ours.n_iter_ == theirs.n_iter_
