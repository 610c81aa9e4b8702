"""Kernels, sufficient statistics and block-size invariance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from conftest import COVARIANCE_TYPES, mixture_data, start_params
from gaussmix import GaussianMixture
from gaussmix._suffstats import SuffStats
from gaussmix.kernels import _compiled, _gaussmix, _numpy, get_kernel

ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def random_params(rng, n_components, n_features, form):
    means = rng.normal(size=(n_components, n_features))
    if form == "full":
        factors = np.triu(rng.normal(size=(n_components, n_features, n_features)), 1)
        precisions = factors + np.eye(n_features) * rng.uniform(0.5, 2, size=(n_components, 1, 1))
    else:
        precisions = rng.uniform(0.5, 2, size=(n_components, n_features))
    return means, precisions, rng.normal(size=n_components)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scatter", ["full", "diag"])
@pytest.mark.parametrize("form", ["full", "diag"])
@pytest.mark.parametrize(
    ("n", "d", "k"),
    [(1, 1, 1), (257, 3, 4), (100, 7, 2), (200, 8, 2), (300, 10, 3), (1100, 18, 2), (150, 64, 2)],
)
def test_compiled_kernel_matches_numpy_reference(n, d, k, form, scatter, weighted, simd_target):
    rng = np.random.default_rng(n + d + k)
    X = rng.normal(size=(n, d)) * 2 + 5
    weight = rng.uniform(0, 3, size=n) if weighted else None
    means, precisions, log_norm = random_params(rng, k, d, form)
    expected = _numpy.estep_stats(X, weight, means, precisions, log_norm, form, scatter)
    actual = _compiled.estep_stats(X, weight, means, precisions, log_norm, form, scatter)
    for name, a, e in zip(("n_k", "mean_k", "scatter_k"), actual[:3], expected[:3], strict=True):
        assert a.shape == e.shape, name
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12 * np.abs(e).max(), err_msg=name)
    np.testing.assert_allclose(actual[3], expected[3], rtol=1e-12)


#: The quadratic forms of float32 rows, their exponentials and their diagonal
#: statistics within a chunk are computed in float32 (full scatter and every sum
#: across chunks in float64): agreement with the float64 reference to a few
#: float32 roundings of the statistics' natural scale.
SINGLE_RTOL = 1e-5


def assert_single_close(X, weight, actual, expected):
    """Statistics from float32 arithmetic against the float64 reference on the same rows."""
    w = np.ones(len(X)) if weight is None else weight
    X = X.astype(np.float64)
    total = w.sum()
    (n_k, mean_k, scatter_k, ll), (n_ref, mean_ref, scatter_ref, ll_ref) = actual, expected
    assert n_k.shape == n_ref.shape and mean_k.shape == mean_ref.shape
    assert scatter_k.shape == scatter_ref.shape
    np.testing.assert_allclose(n_k, n_ref, rtol=0, atol=SINGLE_RTOL * total)
    # A mean is compared through its component's first moment: an (all but) empty
    # component's mean is not defined to any precision.
    np.testing.assert_allclose(
        n_k[:, None] * mean_k,
        n_ref[:, None] * mean_ref,
        rtol=0,
        atol=SINGLE_RTOL * total * np.abs(X).max(),
    )
    second_moment = (w * (X**2).sum(axis=1)).sum()
    np.testing.assert_allclose(scatter_k, scatter_ref, rtol=0, atol=SINGLE_RTOL * second_moment)
    np.testing.assert_allclose(ll, ll_ref, rtol=SINGLE_RTOL)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scatter", ["full", "diag"])
@pytest.mark.parametrize("form", ["full", "diag"])
@pytest.mark.parametrize(
    ("n", "d", "k"),
    [
        (1, 1, 1),
        (257, 3, 4),
        (100, 7, 2),
        (3000, 12, 5),
        (1, 2, 16),
        (500, 3, 17),
        (300, 10, 3),
        (1100, 18, 2),
    ],
)
def test_compiled_float32_kernel_matches_numpy_reference(
    n, d, k, form, scatter, weighted, simd_target
):
    rng = np.random.default_rng(n + d + k)
    X = (rng.normal(size=(n, d)) * 2 + 5).astype(np.float32)
    weight = rng.uniform(0, 3, size=n) if weighted else None
    means, precisions, log_norm = random_params(rng, k, d, form)
    expected = _numpy.estep_stats(X, weight, means, precisions, log_norm, form, scatter)
    actual = _compiled.estep_stats(X, weight, means, precisions, log_norm, form, scatter)
    assert_single_close(X, weight, actual, expected)


@pytest.mark.parametrize("n_features", [4, 6])
@pytest.mark.parametrize("form", ["full", "diag"])
def test_compiled_float32_kernel_falls_back_to_float64_on_overflow(form, n_features, simd_target):
    """A chunk whose float32 quadratic form overflows (float32 stops at 3.4e38) is
    computed again in float64: far rows with large precisions, at about 1e50."""
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(3000, n_features)) * 2 + 5).astype(np.float32)
    # Far rows in two chunks, one of them the short last chunk.
    X[7] = 1e15
    X[2990, 1] = -3e14
    # 16 components: float32 quadratic forms for both forms.
    means, precisions, log_norm = random_params(rng, 16, n_features, form)
    # Parameters the float32 path holds exactly: with these precisions, rounding the
    # means to float32 would move the far rows by many standard deviations.
    means = means.astype(np.float32).astype(np.float64)
    precisions = (precisions * 1e10).astype(np.float32).astype(np.float64)
    for scatter in ("full", "diag"):
        expected = _numpy.estep_stats(X, None, means, precisions, log_norm, form, scatter)
        actual = _compiled.estep_stats(X, None, means, precisions, log_norm, form, scatter)
        assert all(np.all(np.isfinite(a)) for a in actual)
        # Means through first moments: the far rows leave a component a count of
        # 1e-301 in the compiled kernel (log-densities floored at -700), 0 in NumPy.
        for a, e in zip(
            (actual[0], actual[0][:, None] * actual[1], *actual[2:]),
            (expected[0], expected[0][:, None] * expected[1], *expected[2:]),
            strict=True,
        ):
            np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6 * np.abs(e).max())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scatter", ["diag", "full"])
def test_compiled_float32_sums_keep_a_component_of_repeated_rows_singular(scatter, weighted):
    """Repeated rows far from their component's centre: float32 sums would leave
    a variance of rounding noise (about 1e-7 of the squared distance), which the
    singularity checks would take for a real one. Such a block is summed in float64
    (the full scatter always is)."""
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(size=(2000, 3)), np.tile([[40.0, -25.0, 31.0]], (3000, 1))])
    X = X.astype(np.float32)
    weight = rng.uniform(0.5, 2.0, len(X)) if weighted else None
    means = np.array([[0.0, 0.0, 0.0], [37.3, -21.9, 28.4]])
    precisions = np.array([[1.0, 1.0, 1.0], [0.2, 0.2, 0.2]])
    log_norm = np.zeros(2)
    for form_x, precisions_x in (
        ("diag", precisions),
        ("full", precisions[:, None, :] * np.eye(3)),
    ):
        n_k, mean_k, scatter_k, _ = _compiled.estep_stats(
            X, weight, means, precisions_x, log_norm, form_x, scatter
        )
        shift = X[-1].astype(np.float64) - means[1]
        squared_shift = n_k[1] * np.outer(shift, shift)
        np.testing.assert_allclose(mean_k[1], X[-1], rtol=1e-12)
        if scatter == "diag":
            squared_shift = np.diagonal(squared_shift)
        assert np.all(np.abs(scatter_k[1]) <= 1e-12 * np.abs(squared_shift))


def test_compiled_float32_diagonal_sums_of_tiny_responsibilities():
    """A component whose responsibilities are about 1e-26 (below float32's
    resolution next to 1, within its normal range) keeps its statistics to float32
    precision."""
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(3000, 4)) * 2 + 5).astype(np.float32)
    means, precisions, _ = random_params(rng, 3, 4, "diag")
    # Component 2 is component 0 with e^-60 of its weight.
    means[2], precisions[2] = means[0], precisions[0]
    log_norm = np.array([0.0, 0.0, -60.0])
    expected = _numpy.estep_stats(X, None, means, precisions, log_norm, "diag", "diag")
    actual = _compiled.estep_stats(X, None, means, precisions, log_norm, "diag", "diag")
    assert 0 < expected[0][2] < 1e-26 * len(X)
    (n_k, mean_k, scatter_k, _), (n_ref, mean_ref, scatter_ref, _) = actual, expected
    np.testing.assert_allclose(n_k[2], n_ref[2], rtol=SINGLE_RTOL)
    np.testing.assert_allclose(mean_k[2], mean_ref[2], rtol=SINGLE_RTOL)
    # Variances to the scale of the data's second moments, as in assert_single_close.
    second_moment = np.mean(X.astype(np.float64) ** 2, axis=0)
    error = np.abs(scatter_k[2] / n_k[2] - scatter_ref[2] / n_ref[2])
    assert np.all(error <= SINGLE_RTOL * second_moment), error / second_moment


@pytest.mark.parametrize("form", ["full", "diag"])
def test_compiled_float32_responsibilities_below_float32_range_are_zero(form):
    """float32 rows: a responsibility below exp(-87) of its row's largest is 0, as
    float32's exp underflows, and not a floor value: a floor times the squared
    distance of a far row would reach the scatter of a component far from it."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    X[10] = 1e6  # far from both components
    means = np.array([[0.0, 0.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0]])
    precisions = np.ones((2, 4)) if form == "diag" else np.tile(np.eye(4), (2, 1, 1))
    # Component 1 is component 0 with e^-100 of its weight (and a shifted mean).
    log_norm = np.array([0.0, -100.0])
    n_k, _, scatter_k, log_likelihood = _compiled.estep_stats(
        X, None, means, precisions, log_norm, form, "diag"
    )
    assert n_k[1] == 0.0 and np.all(scatter_k[1] == 0.0)
    expected = _numpy.estep_stats(X, None, means, precisions, log_norm, form, "diag")
    np.testing.assert_allclose(n_k, expected[0], rtol=0, atol=1e-30)
    np.testing.assert_allclose(scatter_k[0], expected[2][0], rtol=SINGLE_RTOL)
    np.testing.assert_allclose(log_likelihood, expected[3], rtol=SINGLE_RTOL)


def test_reference_kernel_against_scipy_densities():
    """log p(x) and responsibilities from first principles (scipy's multivariate normal)."""
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    means, precisions_chol, _ = random_params(rng, 2, 3, "full")
    weights = np.array([0.3, 0.7])
    covariances = np.linalg.inv(precisions_chol @ np.swapaxes(precisions_chol, 1, 2))
    log_det = np.log(np.diagonal(precisions_chol, axis1=1, axis2=2)).sum(axis=1)
    log_norm = np.log(weights) + log_det - 1.5 * np.log(2 * np.pi)
    log_prob, log_resp = _numpy.log_prob_resp(X, means, precisions_chol, log_norm, "full")
    dens = np.column_stack(
        [
            w * multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    )
    np.testing.assert_allclose(log_prob, np.log(dens.sum(axis=1)), rtol=1e-10)
    np.testing.assert_allclose(np.exp(log_resp), dens / dens.sum(axis=1, keepdims=True), rtol=1e-9)


def test_statistics_from_responsibilities_brute_force():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    weight = rng.uniform(size=40)
    resp = rng.dirichlet(np.ones(2), size=40)
    n_k, mean_k, scatter_k = _numpy.resp_stats(X, weight, resp, "full")
    for k in range(2):
        wr = weight * resp[:, k]
        mean = (wr[:, None] * X).sum(axis=0) / wr.sum()
        scatter = sum(wr[i] * np.outer(X[i] - mean, X[i] - mean) for i in range(40))
        np.testing.assert_allclose(n_k[k], wr.sum())
        np.testing.assert_allclose(mean_k[k], mean)
        np.testing.assert_allclose(scatter_k[k], scatter)
    _, _, diag = _numpy.resp_stats(X, weight, resp, "diag")
    np.testing.assert_allclose(diag, np.diagonal(scatter_k, axis1=1, axis2=2))


@pytest.mark.parametrize("scatter", ["full", "diag"])
def test_merge_is_exact_far_from_origin(scatter):
    """The centred merge keeps digits where summing raw second moments loses them all."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 2)) * 1e-3 + 1e6
    resp = rng.dirichlet(np.ones(3), size=3000)
    whole = SuffStats(*_numpy.resp_stats(X, None, resp, scatter), 0.0, 3000.0, 3000)
    parts = [
        SuffStats(*_numpy.resp_stats(X[s], None, resp[s], scatter), 0.0, float(len(X[s])), 0)
        for s in np.array_split(np.arange(3000), 17)
    ]
    merged = SuffStats.merge_all(parts)
    np.testing.assert_allclose(merged.n_k, whole.n_k, rtol=1e-13)
    np.testing.assert_allclose(merged.mean_k, whole.mean_k, rtol=1e-14)
    # The data carry ~7 significant digits of their spread (1e-3 around 1e6), so
    # agreement to 1e-7 of the scatter's size is all that rounding allows.
    scale = np.abs(whole.scatter_k).max()
    np.testing.assert_allclose(merged.scatter_k, whole.scatter_k, rtol=0, atol=1e-7 * scale)
    # The raw-moment formula on the same data is off by orders of magnitude.
    raw = (resp[:, 0] @ X[:, 0] ** 2) - whole.n_k[0] * whole.mean_k[0, 0] ** 2
    exact = whole.scatter_k[0, 0, 0] if scatter == "full" else whole.scatter_k[0, 0]
    assert abs(raw - exact) > 1e-3 * exact


def test_get_kernel_names():
    assert get_kernel("numpy").name == "numpy"
    assert get_kernel("compiled").name == "compiled"
    assert get_kernel("auto").name == "compiled"
    with pytest.raises(ValueError, match="kernel must be one of"):
        get_kernel("cuda")


def test_numba_is_another_name_for_the_compiled_kernel(tmp_path, recwarn):
    """Code and model files from before the compiled kernels say kernel="numba": it
    keeps working, without a warning, and runs the compiled kernel."""
    import gaussmix

    assert get_kernel("numba").name == "compiled"
    X, _ = mixture_data(600, 3, 3, seed=4)
    start = start_params(X, 3, "full")
    old = fit(X, "full", start, kernel="numba")
    new = fit(X, "full", start, kernel="compiled")
    for name in ATTRIBUTES:
        np.testing.assert_array_equal(getattr(old, name), getattr(new, name), err_msg=name)
    gaussmix.save(old, tmp_path / "numba.gmm")
    loaded = gaussmix.load(tmp_path / "numba.gmm")
    assert loaded.get_params()["kernel"] == "numba"
    refit = fit(X, "full", start, kernel=loaded.get_params()["kernel"])
    np.testing.assert_array_equal(refit.means_, new.means_)
    assert not [w for w in recwarn if "numba" in str(w.message)]


def fit(X, covariance_type, start, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(
            n_components=3,
            covariance_type=covariance_type,
            tol=0.0,
            max_iter=8,
            **start,
            **kwargs,
        ).fit(X)


@pytest.mark.parametrize("kernel", ["numpy", "compiled"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_result_does_not_depend_on_block_size(covariance_type, kernel):
    X, _ = mixture_data(1500, 3, 3, seed=8)
    start = start_params(X, 3, covariance_type)
    reference = fit(X, covariance_type, start, block_size=len(X), kernel=kernel)
    for block_size in (1, 7, 1000):
        model = fit(X, covariance_type, start, block_size=block_size, kernel=kernel)
        for name in ATTRIBUTES:
            np.testing.assert_allclose(
                getattr(model, name),
                getattr(reference, name),
                rtol=1e-10,
                atol=1e-12,
                err_msg=f"{name}, block_size={block_size}",
            )
        np.testing.assert_allclose(model.lower_bounds_, reference.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_compiled_and_numpy_fits_agree(covariance_type):
    X, _ = mixture_data(2000, 4, 3, seed=9)
    start = start_params(X, 3, covariance_type)
    a = fit(X, covariance_type, start, kernel="numpy")
    b = fit(X, covariance_type, start, kernel="compiled", block_size=300)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-10, err_msg=name)


def test_block_results_same_with_threads_or_not():
    """Blocks on a thread pool merge in row order: bit-identical to one thread."""
    from gaussmix._params import MixtureParams
    from gaussmix.backends import InMemoryBackend
    from gaussmix.covariance import get_covariance_model

    X, _ = mixture_data(5000, 3, 3, seed=1)
    model = get_covariance_model("full")
    gm = GaussianMixture(3, random_state=0).fit(X)
    params = MixtureParams(gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_)
    kernel = get_kernel("compiled")
    one = InMemoryBackend(X, None, 333, n_threads=1).estep(kernel, model, params)
    many = InMemoryBackend(X, None, 333, n_threads=4).estep(kernel, model, params)
    np.testing.assert_array_equal(one.scatter_k, many.scatter_k)
    assert one.log_likelihood == many.log_likelihood


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_shared_pool_is_reused_and_survives_fork():
    """Threads are started once per process; a forked child gets a pool of its own."""
    import multiprocessing
    import threading

    from gaussmix.backends._pool import ordered_results, shared_pool

    assert list(ordered_results(_square, ((i,) for i in range(10)), 3)) == [
        i * i for i in range(10)
    ]
    assert shared_pool(3) is shared_pool(3)
    before = threading.active_count()
    list(ordered_results(_square, ((i,) for i in range(10)), 3))
    assert threading.active_count() == before
    # A child forked after the pool's threads started must not wait on threads it
    # does not have.
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as child:
        result = child.apply_async(_squares_on_pool, (20,))
        assert result.get(timeout=60) == [i * i for i in range(20)]


def test_ordered_results_caller_works_and_keeps_order():
    """The calling thread runs blocks too (no thread sleeps while work is left),
    results come back in block order, and a block's error reaches the caller."""
    import threading
    import time

    from gaussmix.backends import ordered_results

    caller = threading.get_ident()
    ran_on = {}

    def slow_first(i):
        ran_on[i] = threading.get_ident()
        # The first block holds a thread while the others are there to be taken.
        time.sleep(0.05 if i == 0 else 0.001 * (i % 3))
        return i * i

    assert list(ordered_results(slow_first, ((i,) for i in range(12)), 2)) == [
        i * i for i in range(12)
    ]
    threads = set(ran_on.values())
    assert caller in threads and len(threads) == 2

    def failing(i):
        if i == 5:
            raise ValueError("block 5")
        return i

    results = ordered_results(failing, ((i,) for i in range(12)), 2)
    with pytest.raises(ValueError, match="block 5"):
        list(results)


def _squares_on_pool(n):
    from gaussmix.backends import ordered_results

    return list(ordered_results(_square, ((i,) for i in range(n)), 3))


def _square(x):
    return x * x


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_n_by_k_array_outside_one_block(monkeypatch):
    """The NumPy kernel never sees more rows than a block, so its arrays stay block-sized."""
    X, _ = mixture_data(5000, 2, 4, seed=3)
    seen = []
    original = _numpy.estep_stats

    def spy(X_block, *args):
        seen.append(X_block.shape[0])
        return original(X_block, *args)

    monkeypatch.setattr(_numpy, "estep_stats", spy)
    GaussianMixture(4, block_size=512, random_state=0, max_iter=3, tol=0, kernel="numpy").fit(X)
    assert seen and max(seen) <= 512
    assert sum(seen) == 3 * len(X)  # one pass over the data per iteration


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_compiled_passes_run_as_tasks_of_the_block_size(monkeypatch):
    """The compiled kernel's passes are tasks of at most a block's rows (its work
    arrays are one chunk's), one pass over all the rows per iteration."""
    X, _ = mixture_data(5000, 2, 4, seed=3)
    seen = []
    original = _compiled.EstepTasks.__init__

    def spy(self, X_all, *args, **kwargs):
        original(self, X_all, *args, **kwargs)
        seen.append((X_all.shape[0], self.task_rows, self.n_tasks))

    monkeypatch.setattr(_compiled.EstepTasks, "__init__", spy)
    GaussianMixture(4, block_size=512, random_state=0, max_iter=3, tol=0).fit(X)
    assert seen == [(len(X), 512, 10)] * 3


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("form", "scatter"), [("full", "full"), ("diag", "diag"), ("full", "diag")]
)
@pytest.mark.parametrize("log_background", [-np.inf, -6.0, 2.0, 30.0])
def test_background_term_compiled_matches_numpy(log_background, form, scatter, weighted):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(1500, 3)) * 2
    X[:3] *= 1e50  # far from every component: the background dominates these rows
    weight = rng.uniform(0, 3, size=len(X)) if weighted else None
    means, precisions, log_norm = random_params(rng, 3, 3, form)
    expected = _numpy.estep_stats(
        X, weight, means, precisions, log_norm, form, scatter, log_background=log_background
    )
    actual = _compiled.estep_stats(
        X, weight, means, precisions, log_norm, form, scatter, log_background=log_background
    )
    for name, a, e in zip(("n_k", "mean_k", "scatter_k"), actual[:3], expected[:3], strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-11 * np.abs(e).max(), err_msg=name)
    np.testing.assert_allclose(actual[3], expected[3], rtol=1e-12)
    assert np.all(np.isfinite(actual[0])) and np.isfinite(actual[3])


@pytest.mark.parametrize("kernel", [_numpy, _compiled])
def test_no_background_is_the_default_path_bit_for_bit(kernel):
    rng = np.random.default_rng(12)
    X = rng.normal(size=(700, 4))
    means, precisions, log_norm = random_params(rng, 3, 4, "full")
    plain = kernel.estep_stats(X, None, means, precisions, log_norm, "full", "full")
    none = kernel.estep_stats(X, None, means, precisions, log_norm, "full", "full", -np.inf)
    for a, b in zip(plain, none, strict=True):
        np.testing.assert_array_equal(a, b)


def test_background_term_from_first_principles():
    """p(x) = sum_k w_k N(x | k) + c; Gaussian responsibilities w_k N(x | k) / p(x)."""
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(13)
    X = rng.normal(size=(60, 2)) * 3
    weight = rng.uniform(0.5, 2, size=60)
    means, precisions_chol, _ = random_params(rng, 2, 2, "full")
    weights = np.array([0.5, 0.3])  # the background has the remaining 0.2
    background = 0.2 / 150.0  # a uniform density over a region of volume 150
    covariances = np.linalg.inv(precisions_chol @ np.swapaxes(precisions_chol, 1, 2))
    log_det = np.log(np.diagonal(precisions_chol, axis1=1, axis2=2)).sum(axis=1)
    log_norm = np.log(weights) + log_det - np.log(2 * np.pi)
    n_k, mean_k, scatter_k, log_likelihood = _numpy.estep_stats(
        X, weight, means, precisions_chol, log_norm, "full", "full", np.log(background)
    )
    dens = np.column_stack(
        [
            w * multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    )
    total = dens.sum(axis=1) + background
    np.testing.assert_allclose(log_likelihood, weight @ np.log(total), rtol=1e-12)
    expected = _numpy.resp_stats(X, weight, dens / total[:, None], "full")
    for a, e in zip((n_k, mean_k, scatter_k), expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-10)
    # What the Gaussians leave of each row is the background's share.
    np.testing.assert_allclose(weight.sum() - n_k.sum(), weight @ (background / total))


def test_vectorised_exponentials_against_numpy(simd_target):
    """float64: within 2 ulp of np.exp on [-700, 0]. float32: within 1 ulp of the
    exponential of the float32-rounded shifted value on (-87, 0], exactly 0 below;
    the shift in the log-densities' dtype, so float64 log-densities of any size keep
    their differences. Each row's total is the sum of its exponentials."""
    shifted = np.concatenate([np.linspace(-700.0, 0.0, 200_001), [-1e-30, 0.0]])
    # Log-densities of size 1e4 whose maximum sits 1e4 away: only the differences matter.
    row_max = np.full(shifted.size // 2, -1e4)
    log_prob = shifted[: 2 * row_max.size].reshape(2, -1) + row_max
    exact = np.exp(log_prob - row_max)

    double = np.empty_like(log_prob)
    total = np.empty(row_max.size)
    _gaussmix.exp_shifted(log_prob, row_max, double, total)
    assert np.all(np.abs(double - exact) <= 2 * np.spacing(exact))
    np.testing.assert_array_equal(total, double[0] + double[1])

    def check_single(log_prob, row_max):
        single = np.empty(log_prob.shape, np.float32)
        total = np.empty(row_max.size, np.float32)
        _gaussmix.exp_shifted_single(log_prob, row_max, single, total)
        x = (log_prob - row_max).astype(np.float32).astype(np.float64)
        within = x > -87.0
        reference = np.exp(x[within])
        ulp = np.spacing(reference.astype(np.float32)).astype(np.float64)
        assert np.all(np.abs(single[within] - reference) <= ulp)
        assert np.all(single[~within] == 0.0)
        np.testing.assert_array_equal(total, single[0] + single[1])
        return single

    single = check_single(log_prob, row_max)
    assert single[1, -1] == 1.0
    # float32 log-densities (taken relative to the largest log normalising
    # constant, so of the size of the shifts): the shift in float32.
    small_max = np.linspace(-5.0, 3.0, row_max.size).astype(np.float32)
    check_single(
        (shifted[: 2 * row_max.size].reshape(2, -1) + small_max).astype(np.float32), small_max
    )


@pytest.mark.parametrize(
    ("dtype", "target"),
    [(np.float32, np.float32), (np.float64, np.float64), (np.float32, np.float64),
     (np.float64, np.float32)],
)  # fmt: skip
@pytest.mark.parametrize("n_features", [1, 2, 3, 7, 8, 9, 12, 13, 16, 18, 24, 64, 65])
def test_transpose_rows_every_shape(n_features, dtype, target, simd_target):
    """Every path (value by value to 7 features, 8 x 8 register blocks from 8, with
    the features and rows past the last block) copies exactly the rows asked for,
    in either dtype, and writes nothing past them."""
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(50, n_features)).astype(dtype)
    for start, n_rows in [(0, 50), (3, 21), (1, 48), (49, 1), (8, 0), (5, 8), (2, 17)]:
        Xt = np.full((n_features, n_rows + 2), np.nan, target)
        _gaussmix.transpose_rows(X, start, n_rows, Xt)
        np.testing.assert_array_equal(Xt[:, :n_rows], X[start : start + n_rows].T.astype(target))
        assert np.all(np.isnan(Xt[:, n_rows:]))


def test_kernels_take_rows_of_any_layout():
    """Fortran-ordered and strided rows (copied to C order first) give the same
    statistics as the C-ordered rows."""
    rng = np.random.default_rng(14)
    X = rng.normal(size=(700, 9))
    means, precisions, log_norm = random_params(rng, 3, 9, "full")
    expected = _compiled.estep_stats(X, None, means, precisions, log_norm, "full", "full")
    wide = np.zeros((700, 18))
    wide[:, ::2] = X
    for rows in (np.asfortranarray(X), wide[:, ::2]):
        actual = _compiled.estep_stats(rows, None, means, precisions, log_norm, "full", "full")
        for a, e in zip(actual, expected, strict=True):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("form", ["full", "diag"])
def test_compiled_float32_log_densities_keep_digits_next_to_large_constants(form):
    """float32 log-densities are taken relative to the largest log normalising
    constant: constants moved by 1e6 (set directly here; tiny variances give large
    ones) leave every statistic as it was, and the log-likelihood moved by n * 1e6,
    where float32 values of that size would carry errors of 0.03 (3% in the
    responsibilities)."""
    rng = np.random.default_rng(7)
    X = (rng.normal(size=(3000, 5)) * 2 + 5).astype(np.float32)
    means, precisions, log_norm = random_params(rng, 4, 5, form)
    base = _compiled.estep_stats(X, None, means, precisions, log_norm, form, "diag")
    for shift in (1e6, -1e6):
        moved = log_norm + shift
        actual = _compiled.estep_stats(X, None, means, precisions, moved, form, "diag")
        expected = _numpy.estep_stats(X, None, means, precisions, moved, form, "diag")
        assert_single_close(X, None, actual, expected)
        for a, b in zip(actual[:3], base[:3], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(b).max())
        np.testing.assert_allclose(actual[3] - len(X) * shift, base[3], rtol=1e-9)


@pytest.mark.parametrize("n_rows", [1, 63, 64, 65, 1024, 1025, 5000])
@pytest.mark.parametrize("n_components", [1, 3, 1000])
def test_sum_of_logs_grouped_products(n_rows, n_components, simd_target):
    """The log-likelihood's sum of logs, taken over products of rows, equals the plain sum."""
    rng = np.random.default_rng(n_rows)
    # Totals of the shifted densities lie in [1, K + 1]; include both ends.
    total = rng.uniform(1.0, n_components + 1.0, n_rows)
    total[0] = n_components + 1.0
    total[-1] = 1.0
    expected = float(np.sum(np.log(total)))
    got = _gaussmix.sum_of_logs(total)
    assert np.isfinite(got)
    assert abs(got - expected) <= 1e-14 * max(abs(expected), 1.0) + 1e-15 * n_rows


@pytest.mark.parametrize("n_features", [3, 8, 13])
def test_full_quadratic_forms_never_read_below_the_diagonal(n_features, simd_target):
    """Register tiles on the diagonal mask what lies below it: garbage there changes nothing."""
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(700, n_features))
    means, precisions, log_norm = random_params(rng, 3, n_features, "full")
    garbage = precisions + np.tril(rng.normal(scale=1e3, size=precisions.shape), -1)
    clean = _compiled.estep_stats(X, None, means, precisions, log_norm, "full", "full")
    dirty = _compiled.estep_stats(X, None, means, garbage, log_norm, "full", "full")
    for a, b in zip(clean, dirty, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("d", "form"), [(1, "full"), (3, "full"), (9, "full"), (5, "diag")])
def test_compiled_log_prob_resp_matches_numpy_reference(d, form, dtype, simd_target):
    """Predictions' log-densities and log responsibilities (float64 for either dtype),
    far rows included (capped quadratic forms), and a row's numbers the same whether
    it is scored alone or with 2999 others."""
    rng = np.random.default_rng(d)
    X = (rng.normal(size=(3000, d)) * 2).astype(dtype)
    X[5] = 1e200 if dtype == np.float64 else 1e30
    means, precisions, log_norm = random_params(rng, 4, d, form)
    log_prob, log_resp = _compiled.log_prob_resp(X, means, precisions, log_norm, form)
    ref_prob, ref_resp = _numpy.log_prob_resp(X, means, precisions, log_norm, form)
    assert log_prob.dtype == log_resp.dtype == np.float64
    np.testing.assert_allclose(log_prob, ref_prob, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(log_resp, ref_resp, rtol=1e-12, atol=1e-12)
    for i in (0, 5, 1007, 1008, 2999):
        alone = _compiled.log_prob_resp(X[i : i + 1], means, precisions, log_norm, form)
        np.testing.assert_array_equal(alone[0], log_prob[i : i + 1])
        np.testing.assert_array_equal(alone[1], log_resp[i : i + 1])
