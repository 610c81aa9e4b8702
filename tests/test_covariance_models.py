"""mclust's 14 covariance models: M-steps against brute force, constraints, EM, estimator.

The reference for each M-step is an independent one: scipy's optimiser over an
unconstrained parametrisation of the model (log volumes, log shapes of product 1,
rotations as Cayley transforms of skew-symmetric matrices), whose number of
free values is also mclust's parameter count.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

from conftest import mixture_data
from gaussmix import COVARIANCE_TYPES, DegenerateComponentWarning, GaussianMixture
from gaussmix.covariance import MCLUST_NAMES, get_covariance_model
from gaussmix.covariance._decomposition import eigenvalues, jacobi_eigh, sorted_eigh, volumes

SKLEARN_NAMES = {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}
NEW_NAMES = tuple(name for name in MCLUST_NAMES if name not in SKLEARN_NAMES)
ITERATIVE = ("VEI", "VEE", "EVE", "VVE", "VEV")


def n_var_params(name, d, g):
    """mclust's ``nVarParams`` (R/mclust.R), transcribed."""
    return {
        "EII": 1,
        "VII": g,
        "EEI": d,
        "VEI": g + (d - 1),
        "EVI": 1 + g * (d - 1),
        "VVI": g * d,
        "EEE": d * (d + 1) / 2,
        "EVE": 1 + g * (d - 1) + d * (d - 1) / 2,
        "VEE": g + (d - 1) + d * (d - 1) / 2,
        "VVE": g + g * (d - 1) + d * (d - 1) / 2,
        "EEV": 1 + (d - 1) + g * d * (d - 1) / 2,
        "VEV": g + (d - 1) + g * d * (d - 1) / 2,
        "EVV": 1 - g + g * d * (d + 1) / 2,
        "VVV": g * d * (d + 1) / 2,
    }[name]


# ======================================================== the constrained likelihood


def full_covariances(model, covariances, n_components, n_features):
    return np.array(
        [model.component_covariance(covariances, k, n_features) for k in range(n_components)]
    )


def objective(n_k, scatter, covariances):
    """sum_k n_k log det S_k + tr(W_k S_k^-1): minus twice the expected log-likelihood."""
    sign, log_det = np.linalg.slogdet(covariances)
    assert np.all(sign > 0)
    trace = np.trace(np.linalg.solve(covariances, scatter), axis1=1, axis2=2)
    return float(n_k @ log_det + trace.sum())


def rotations(values, n_features):
    """Rotations from unconstrained values (..., d (d - 1) / 2): the Cayley transform.

    ``(I - S)^-1 (I + S)`` of the skew-symmetric ``S`` reaches every rotation
    without an eigenvalue -1, enough here: an orientation is only defined up to
    the signs of its columns, and some choice of signs avoids -1.
    """
    skew = np.zeros((*values.shape[:-1], n_features, n_features))
    upper = np.triu_indices(n_features, 1)
    skew[..., upper[0], upper[1]] = values
    skew -= np.swapaxes(skew, -1, -2)
    identity = np.eye(n_features)
    return np.linalg.solve(identity - skew, identity + skew)


def parametrised(theta, name, n_components, n_features):
    """Covariances of model ``name`` from unconstrained values ``theta``.

    Per part (volume, shape, orientation): one set of values if mclust's letter is
    E, one per component if V, none if I.
    """
    volume_kind, shape_kind, orientation_kind = name
    position = 0

    def take(kind, size):
        nonlocal position
        count = {"E": 1, "V": n_components, "I": 0}[kind]
        values = theta[position : position + count * size].reshape(count, size)
        position += count * size
        return np.broadcast_to(values, (n_components, size)) if count else None

    log_volumes = take(volume_kind, 1)
    free_shapes = take(shape_kind, n_features - 1)
    angles = take(orientation_kind, n_features * (n_features - 1) // 2)
    assert position == len(theta), "theta has more values than the model has parameters"
    if free_shapes is None:
        shapes = np.ones((n_components, n_features))
    else:
        shapes = np.exp(np.column_stack([free_shapes, -free_shapes.sum(axis=1)]))
    eigenvalues = np.exp(log_volumes) * shapes
    if angles is None:
        return eigenvalues[:, :, None] * np.eye(n_features)
    turn = rotations(angles, n_features)
    return (turn * eigenvalues[:, None, :]) @ np.swapaxes(turn, 1, 2)


def n_parametrised(name, n_components, n_features):
    """Number of values ``parametrised`` takes: count them by consuming a long vector."""
    volume_kind, shape_kind, orientation_kind = name
    per = {"E": 1, "V": n_components, "I": 0}
    return (
        per[volume_kind]
        + per[shape_kind] * (n_features - 1)
        + per[orientation_kind] * n_features * (n_features - 1) // 2
    )


def problem(seed, n_samples=40, n_features=3, n_components=3):
    """Soft counts and centred scatters from random data and responsibilities."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) @ rng.normal(size=(n_features, n_features))
    X += rng.normal(scale=2.0, size=(n_samples, 1)) * rng.normal(size=n_features)
    resp = rng.dirichlet(np.full(n_components, 0.7), size=n_samples)
    n_k = resp.sum(axis=0)
    means = resp.T @ X / n_k[:, None]
    centred = X[None] - means[:, None]
    scatter = np.einsum("nk,kni,knj->kij", resp, centred, centred)
    return n_k, scatter


def m_step(model, n_k, scatter, reg=None, previous=None):
    n_features = scatter.shape[-1]
    reg = np.zeros(n_features) if reg is None else reg
    statistic = scatter if model.scatter == "full" else np.diagonal(scatter, axis1=1, axis2=2)
    return model.m_step(n_k, statistic.copy(), reg, previous)


def converged_model(name):
    """The model with a tolerance and iteration limit that let it converge fully."""
    model = get_covariance_model(name)
    if name in ITERATIVE:
        model = type(model)(tol=1e-14, max_iter=20_000)
    return model


def brute_force(name, n_k, scatter, seed):
    """Best of several BFGS runs over the model's unconstrained parametrisation."""
    n_components, n_features = scatter.shape[:2]
    size = n_parametrised(name, n_components, n_features)
    rng = np.random.default_rng(seed)

    def f(theta):
        return objective(n_k, scatter, parametrised(theta, name, n_components, n_features))

    starts = [np.zeros(size)] + [rng.normal(scale=0.7, size=size) for _ in range(2)]
    runs = [minimize(f, start, method="BFGS") for start in starts]
    return min(run.fun for run in runs)


@pytest.mark.parametrize("name", MCLUST_NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_m_step_maximises_the_constrained_likelihood(name, seed):
    n_k, scatter = problem(seed)
    n_components, n_features = scatter.shape[:2]
    model = converged_model(name)
    covariances = m_step(model, n_k, scatter)
    q_model = objective(n_k, scatter, full_covariances(model, covariances, *scatter.shape[:2]))
    q_best = brute_force(name, n_k, scatter, seed)
    # At least as good as the optimiser, and not better than it can be: the optimum.
    assert q_model <= q_best + 1e-7 * abs(q_best)
    assert q_model >= q_best - 1e-5 * abs(q_best)
    # The parametrisation's size is mclust's count.
    assert model.n_covariance_parameters(n_components, n_features) == n_parametrised(
        name, n_components, n_features
    )


@pytest.mark.parametrize("name", ITERATIVE)
def test_default_iterations_come_close_to_the_optimum(name):
    n_k, scatter = problem(3)
    model = get_covariance_model(name)
    covariances = full_covariances(model, m_step(model, n_k, scatter), 3, 3)
    reference = full_covariances(model, m_step(converged_model(name), n_k, scatter), 3, 3)
    q = objective(n_k, scatter, covariances)
    q_reference = objective(n_k, scatter, reference)
    assert q_reference <= q <= q_reference + 1e-6 * abs(q_reference)


def random_feasible(name, n_components, n_features, rng):
    size = n_parametrised(name, n_components, n_features)
    return parametrised(rng.normal(size=size), name, n_components, n_features)


def stored(model, covariances, n_components, n_features):
    """Full covariances in the model's own storage shape."""
    shape = model.shape(n_components, n_features)
    if len(shape) == 1:
        return covariances[:, 0, 0].copy()
    if model.scatter == "diag":
        return np.diagonal(covariances, axis1=1, axis2=2).copy()
    if len(shape) == 2:
        return covariances[0].copy()
    return covariances.copy()


@pytest.mark.parametrize("name", MCLUST_NAMES)
@pytest.mark.parametrize("max_iter", [1, None])
def test_m_step_never_lowers_the_expected_likelihood_of_the_previous_iterate(name, max_iter):
    """A generalised EM step from any feasible previous covariances, after one iteration too."""
    rng = np.random.default_rng(7)
    model = get_covariance_model(name)
    if max_iter is not None and name in ITERATIVE:
        model = type(model)(max_iter=max_iter)
    for seed in range(4):
        n_k, scatter = problem(seed)
        n_components, n_features = scatter.shape[:2]
        previous_full = random_feasible(name, n_components, n_features, rng)
        previous = stored(model, previous_full, n_components, n_features)
        new = m_step(model, n_k, scatter, previous=previous)
        q_new = objective(n_k, scatter, full_covariances(model, new, n_components, n_features))
        q_previous = objective(n_k, scatter, previous_full)
        assert q_new <= q_previous + 1e-10 * abs(q_previous)


@pytest.mark.parametrize("name", MCLUST_NAMES)
def test_one_component_models_collapse_to_their_unconstrained_relative(name):
    """With one component E and V coincide: every model equals VVV, VVI or VII restricted."""
    n_k, scatter = problem(4, n_components=1)
    model = get_covariance_model(name)
    covariances = full_covariances(model, m_step(model, n_k, scatter), 1, 3)
    unconstrained = scatter / n_k[:, None, None]
    if name[1:] == "II":
        expected = np.trace(unconstrained[0]) / 3 * np.eye(3)[None]
    elif name[2] == "I":
        expected = np.diag(np.diag(unconstrained[0]))[None]
    else:
        expected = unconstrained
    np.testing.assert_allclose(covariances, expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", MCLUST_NAMES)
def test_reg_covar_is_a_prior_on_the_scatter(name):
    """The M-step with reg is the M-step on W_k + n_k diag(reg) without it."""
    n_k, scatter = problem(5)
    reg = np.array([1e-3, 2e-2, 0.5])
    model = converged_model(name)
    prior = scatter.copy()
    prior[:, np.arange(3), np.arange(3)] += n_k[:, None] * reg
    np.testing.assert_allclose(
        m_step(model, n_k, scatter, reg), m_step(model, n_k, prior), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("name", list(SKLEARN_NAMES))
def test_reg_covar_of_sklearns_models_is_its_diagonal_offset(name):
    """For scikit-learn's four models the prior is reg added to each covariance, bit for bit."""
    n_k, scatter = problem(5)
    reg = np.array([1e-3, 2e-2, 0.5])
    expected = {
        "VVV": scatter / n_k[:, None, None] + np.diag(reg),
        "EEE": scatter.sum(axis=0) / n_k.sum() + np.diag(reg),
        "VVI": np.diagonal(scatter, axis1=1, axis2=2) / n_k[:, None] + reg,
        "VII": np.mean(np.diagonal(scatter, axis1=1, axis2=2) / n_k[:, None] + reg, axis=1),
    }[name]
    np.testing.assert_array_equal(m_step(get_covariance_model(name), n_k, scatter, reg), expected)


@pytest.mark.parametrize("name", [n for n in NEW_NAMES if n not in ("EII", "EEI")])
def test_an_empty_component_keeps_its_own_parts_and_takes_the_shared_ones(name):
    rng = np.random.default_rng(11)
    n_k, scatter = problem(6)
    model = get_covariance_model(name)
    previous_full = random_feasible(name, 3, 3, rng)
    previous = stored(model, previous_full, 3, 3)
    new = m_step(model, n_k, scatter, previous=previous)
    kept = full_covariances(model, model.keep_empty(new.copy(), previous, np.array([2])), 3, 3)
    new_full = full_covariances(model, new, 3, 3)
    np.testing.assert_allclose(kept[:2], new_full[:2])
    assert_constraint(name, kept)
    own = previous_full[2]
    volume_kind, shape_kind, orientation_kind = name
    if volume_kind == "V":
        np.testing.assert_allclose(np.linalg.det(kept[2]), np.linalg.det(own), rtol=1e-9)
    if shape_kind == "V":
        eigenvalues = np.linalg.eigvalsh([kept[2], own])
        shapes = eigenvalues / np.exp(np.log(eigenvalues).mean(axis=1, keepdims=True))
        np.testing.assert_allclose(shapes[0], shapes[1], rtol=1e-9)
    if orientation_kind == "V":
        # Same eigenvectors: the two commute.
        np.testing.assert_allclose(
            kept[2] @ own, own @ kept[2], atol=1e-9 * np.abs(own).max() ** 2
        )
    if orientation_kind == "I" and shape_kind == "V":
        # Not only the same eigenvalues: each along the same axis.
        ratio = np.diag(kept[2]) / np.diag(own)
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)


# ======================================================== counts, names and shapes


@pytest.mark.parametrize("name", MCLUST_NAMES)
def test_free_parameters_are_mclusts(name):
    model = get_covariance_model(name)
    for n_components, n_features in itertools.product([1, 2, 5], [1, 2, 3, 7]):
        expected = n_var_params(name, n_features, n_components)
        assert model.n_covariance_parameters(n_components, n_features) == expected
        assert model.n_parameters(n_components, n_features) == (
            expected + n_components * n_features + n_components - 1
        )


def test_registry_names():
    assert MCLUST_NAMES == (
        "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
        "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
    )  # fmt: skip
    assert COVARIANCE_TYPES == ("full", "tied", "diag", "spherical", *MCLUST_NAMES)
    for alias, name in SKLEARN_NAMES.items():
        assert get_covariance_model(alias).name == name
    for name in NEW_NAMES:
        assert get_covariance_model(name).name == name == get_covariance_model(name).mclust_name


EXPECTED_SHAPES = {
    "EII": (4,), "VII": (4,),
    "EEI": (4, 3), "VEI": (4, 3), "EVI": (4, 3), "VVI": (4, 3),
    "EEE": (3, 3),
    **{name: (4, 3, 3) for name in ("VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")},
}  # fmt: skip


# ======================================================== fitted models


@pytest.fixture(scope="module")
def blobs():
    X, _ = mixture_data(400, 3, 4, seed=3)
    return X


@pytest.fixture(scope="module")
def fitted(blobs):
    models = {}
    for name in MCLUST_NAMES:
        models[name] = GaussianMixture(4, covariance_type=name, random_state=0).fit(blobs)
    return models


def assert_constraint(name, covariances, rtol=1e-7):
    """SPD, and equal volumes / shapes / orientations where the name says so.

    Eigenvalues of an ill-conditioned matrix (degenerate data) carry fewer
    digits: ``rtol`` is loosened to what its condition number leaves.
    """
    n_features = covariances.shape[1]
    eigenvalues = np.linalg.eigvalsh(covariances)[:, ::-1]
    assert np.all(eigenvalues > 0)
    condition = (eigenvalues[:, 0] / eigenvalues[:, -1]).max()
    rtol = max(rtol, 100 * np.finfo(np.float64).eps * condition)
    np.testing.assert_allclose(
        covariances, np.swapaxes(covariances, 1, 2), atol=1e-14 * np.abs(covariances).max()
    )
    volumes = np.exp(np.log(eigenvalues).mean(axis=1))
    shapes = eigenvalues / volumes[:, None]
    volume_kind, shape_kind, orientation_kind = name
    if volume_kind == "E":
        np.testing.assert_allclose(volumes, volumes[0], rtol=rtol)
    if shape_kind == "E":
        np.testing.assert_allclose(shapes, np.broadcast_to(shapes[0], shapes.shape), rtol=rtol)
    if shape_kind == "I":
        np.testing.assert_allclose(shapes, 1.0, rtol=rtol)
    off_diagonal = covariances - np.einsum("kii->ki", covariances)[:, :, None] * np.eye(n_features)
    if orientation_kind == "I":
        assert np.all(off_diagonal == 0)
    if orientation_kind == "E":
        # Covariances sharing their eigenvectors commute.
        scale = np.abs(covariances).max() ** 2
        for a, b in itertools.combinations(covariances, 2):
            np.testing.assert_allclose(a @ b, b @ a, atol=rtol * scale)


@pytest.mark.parametrize("name", MCLUST_NAMES)
def test_fitted_covariances_satisfy_the_constraint(name, fitted, blobs):
    gm = fitted[name]
    model = get_covariance_model(name)
    assert gm.covariances_.shape == EXPECTED_SHAPES[name]
    assert gm.precisions_.shape == gm.precisions_cholesky_.shape == EXPECTED_SHAPES[name]
    covariances = full_covariances(model, gm.covariances_, 4, 3)
    assert_constraint(name, covariances)
    # Precisions and their factors agree with the covariances.
    precisions = full_covariances(model, gm.precisions_, 4, 3)
    np.testing.assert_allclose(precisions @ covariances, np.broadcast_to(np.eye(3), (4, 3, 3)),
                               atol=1e-9)  # fmt: skip
    assert gm.converged_


# Each model is a special case of the next one.
NESTED = ["EII<VII", "EII<EEI", "EEI<VEI", "VEI<VVI", "EVI<VVI", "EEI<EEE", "VVI<VVE",
          "EEE<VEE", "VEE<VVE", "EVE<VVE", "EEE<EEV", "EEV<VEV", "EEV<EVV", "VEV<VVV",
          "EVV<VVV"]  # fmt: skip


@pytest.mark.parametrize("pair", NESTED)
def test_a_larger_model_started_from_a_smaller_ones_fit_only_improves_it(pair, fitted, blobs):
    inner, outer = pair.split("<")
    small = fitted[inner]
    outer_model = get_covariance_model(outer)
    full = full_covariances(get_covariance_model(inner), small.covariances_, 4, 3)
    start = stored(outer_model, full, 4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        big = GaussianMixture(
            4,
            covariance_type=outer,
            weights_init=small.weights_,
            means_init=small.means_,
            precisions_init=outer_model.covariances_from_precisions(start),  # inverts
            reg_covar=0.0,
            max_iter=20,
        ).fit(blobs)
    # The start is feasible for the larger model, and EM (GEM) steps only go up.
    np.testing.assert_allclose(big.lower_bounds_[0], small.score(blobs), rtol=1e-9)
    assert big.score(blobs) >= small.score(blobs) - 1e-9 * abs(small.score(blobs))


@pytest.mark.parametrize("name", MCLUST_NAMES)
def test_em_likelihood_never_decreases(name):
    for seed in range(3):
        X, _ = mixture_data(200, 3, 3, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(
                3, covariance_type=name, reg_covar=0.0, tol=0.0, max_iter=15, random_state=seed
            ).fit(X)
        bounds = np.asarray(gm.lower_bounds_)
        assert len(bounds) == 15
        decrease = bounds[:-1] - bounds[1:]
        assert np.all(decrease <= 1e-10 * np.abs(bounds[1:])), (seed, decrease.max())


@pytest.mark.parametrize("name", MCLUST_NAMES)
def test_samples_have_the_model_covariance(name, fitted):
    gm = fitted[name]
    model = get_covariance_model(name)
    covariances = full_covariances(model, gm.covariances_, 4, 3)
    X, labels = gm.sample(40_000)
    for k in range(4):
        rows = X[labels == k]
        n = len(rows)
        empirical = np.cov(rows, rowvar=False)
        sigma = covariances[k]
        # Standard error of a sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n).
        standard_error = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / n)
        assert np.all(np.abs(empirical - sigma) < 5 * standard_error), k
        np.testing.assert_allclose(rows.mean(axis=0), gm.means_[k],
                                   atol=5 * np.sqrt(np.diag(sigma).max() / n))  # fmt: skip


@pytest.mark.parametrize("name", NEW_NAMES)
def test_estimator_api(name, fitted, blobs):
    X = blobs
    gm = fitted[name]
    n_parameters = get_covariance_model(name).n_parameters(4, 3)
    log_density = gm.score_samples(X)
    assert log_density.shape == (400,) and np.all(np.isfinite(log_density))
    np.testing.assert_allclose(gm.bic(X), -2 * log_density.sum() + n_parameters * np.log(400))
    np.testing.assert_allclose(gm.aic(X), -2 * log_density.sum() + 2 * n_parameters)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(gm.predict(X), proba.argmax(axis=1))
    # The density is the mixture of the stored covariances (an independent evaluation).
    covariances = full_covariances(get_covariance_model(name), gm.covariances_, 4, 3)
    density = sum(
        w * multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(gm.weights_, gm.means_, covariances, strict=True)
    )
    np.testing.assert_allclose(log_density, np.log(density), rtol=1e-10)


@pytest.mark.parametrize("name", NEW_NAMES)
def test_float32_stays_float32(name, blobs):
    X = blobs.astype(np.float32)
    gm = GaussianMixture(4, covariance_type=name, random_state=0).fit(X)
    for attribute in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(gm, attribute).dtype == np.float32, attribute
    assert gm.score_samples(X).dtype == np.float32
    np.testing.assert_allclose(gm.score(X), GaussianMixture(4, covariance_type=name,
                               random_state=0).fit(blobs).score(blobs), rtol=1e-4)  # fmt: skip


@pytest.mark.parametrize("name", NEW_NAMES)
def test_precisions_init(name, blobs):
    X = blobs
    model = get_covariance_model(name)
    shape = model.shape(2, 3)
    with pytest.raises(ValueError, match=rf"'{name} precision'.*shape of"):
        GaussianMixture(2, covariance_type=name, precisions_init=np.ones((5, 5, 5))).fit(X)
    if len(shape) == 3:
        bad = np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0])])
        with pytest.raises(ValueError, match="positive definite"):
            GaussianMixture(2, covariance_type=name, precisions_init=bad).fit(X)
    else:
        with pytest.raises(ValueError, match="positive"):
            GaussianMixture(2, covariance_type=name, precisions_init=-np.ones(shape)).fit(X)
    # A valid start is kept as given with max_iter=0 (it need not meet the constraint)...
    rng = np.random.default_rng(0)
    full = np.array([np.diag(rng.uniform(0.5, 2, 3)) for _ in range(2)])
    precisions = stored(model, np.linalg.inv(full), 2, 3)
    start = dict(weights_init=[0.5, 0.5], means_init=X[:2], precisions_init=precisions)
    kept = GaussianMixture(2, covariance_type=name, max_iter=0, **start).fit(X)
    np.testing.assert_allclose(kept.precisions_, precisions, rtol=1e-12)
    # ... and the first M-step imposes the constraint.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = GaussianMixture(2, covariance_type=name, max_iter=1, **start).fit(X)
    assert_constraint(name, full_covariances(model, one.covariances_, 2, 3))


@pytest.mark.parametrize("name", NEW_NAMES)
def test_warm_start_continues_the_fit(name, blobs):
    X = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(4, covariance_type=name, max_iter=3, warm_start=True, random_state=0)
        gm.fit(X)
        first = gm.lower_bound_
        gm.fit(X)
    assert gm.lower_bounds_[0] >= first - 1e-9 * abs(first)
    assert gm.lower_bound_ >= gm.lower_bounds_[0] - 1e-9 * abs(first)


@pytest.mark.parametrize("name", NEW_NAMES)
def test_partial_fit(name):
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0, 0], [5, 5, 0], [0, 5, 5]])
    gm = GaussianMixture(3, covariance_type=name, random_state=0)
    for _ in range(10):
        gm.partial_fit(means[rng.integers(3, size=200)] + rng.normal(size=(200, 3)))
    assert gm.n_iter_ == 10
    assert_constraint(name, full_covariances(get_covariance_model(name), gm.covariances_, 3, 3))
    np.testing.assert_allclose(np.sort(gm.means_[:, 0]), [0, 0, 5], atol=0.5)


# ======================================================== degenerate data


def constant_feature(rng):
    return np.column_stack([rng.normal(size=(200, 2)), np.ones(200)]), {"reg_covar": 0.0}


def duplicated_points(rng):
    return np.repeat(rng.normal(size=(5, 3)), 20, axis=0), {"reg_covar": 0.0}


def collinear_large_scale(rng):
    t = rng.normal(size=(300, 2))
    return np.column_stack([t, t[:, 0] + 2 * t[:, 1]]) * 1e9, {}


@pytest.mark.parametrize("case", [constant_feature, duplicated_points, collinear_large_scale])
@pytest.mark.parametrize("name", NEW_NAMES)
def test_degenerate_data_is_repaired_within_the_constraint(name, case):
    X, extra = case(np.random.default_rng(0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(3, covariance_type=name, random_state=0, **extra).fit(X)
    model = get_covariance_model(name)
    assert_constraint(name, full_covariances(model, gm.covariances_, 3, 3), rtol=1e-6)
    for attribute in ("weights_", "means_", "precisions_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(gm, attribute)))
    assert np.all(np.isfinite(gm.score_samples(X)))
    messages = [str(w.message) for w in caught if w.category is DegenerateComponentWarning]
    if case is constant_feature and name[1] != "I":
        # Every component is singular along the constant feature (a sphere is not).
        assert any("numerically singular" in m for m in messages), messages
    for message in messages:
        assert f"shared ({name}) covariance" in message or "Component " in message


@pytest.mark.parametrize("name", NEW_NAMES)
def test_empty_component_keeps_its_own_parts(name):
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) * [2, 1, 0.5] + 6])
    means_init = np.array([[0.0, 0, 0], [6, 6, 6], [-50, 50, 50]])
    gm = GaussianMixture(
        3, weights_init=[0.5, 0.5, 0.0], means_init=means_init, covariance_type=name,
        random_state=0,
    )  # fmt: skip
    with pytest.warns(DegenerateComponentWarning, match="Component 2 was empty"):
        gm.fit(X)
    np.testing.assert_allclose(gm.means_[2], means_init[2])
    assert_constraint(name, full_covariances(get_covariance_model(name), gm.covariances_, 3, 3))


# ======================================== features of wildly different scales

# Models whose likelihood is unchanged when each feature is rescaled: their M-step
# on a scatter G W G (G diagonal) is G Sigma G, an exact reference however wide G.
SCALE_INVARIANT = ("EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVV", "VVV")
GRADING = np.array([1e-6, 1.0, 1e12])


def graded(scatter, grading):
    return scatter * np.outer(grading, grading)


@pytest.mark.parametrize("name", SCALE_INVARIANT)
def test_scale_invariant_m_steps_are_exact_on_features_of_scales_1e_minus_6_to_1e12(name):
    n_k, scatter = problem(8)
    model = converged_model(name)
    reference = full_covariances(model, m_step(model, n_k, scatter), 3, 3)
    covariances = full_covariances(model, m_step(model, n_k, graded(scatter, GRADING)), 3, 3)
    # Back in the ungraded units every entry keeps its digits.
    np.testing.assert_allclose(graded(covariances, 1.0 / GRADING), reference, rtol=1e-8)


def eigh_2x2(matrix):
    """Eigenvalues (decreasing) and rotation angle of a 2 x 2 SPD matrix, in closed form.

    The small eigenvalue as det / large one and the angle by atan2 keep their
    relative accuracy whatever the ratio of the diagonal entries.
    """
    (p, q), (_, r) = matrix
    large = (p + r) / 2 + np.hypot((p - r) / 2, q)
    return np.array([large, (p * r - q * q) / large]), 0.5 * np.arctan2(2 * q, p - r)


def compose_2x2(eigenvalues, angle):
    c, s = np.cos(angle), np.sin(angle)
    a, b = eigenvalues
    return np.array(
        [[a * c * c + b * s * s, (a - b) * s * c], [(a - b) * s * c, a * s * s + b * c * c]]
    )


def graded_2d_problem(ratio):
    """Two components in two features whose standard deviations differ by ``ratio``."""
    rng = np.random.default_rng(9)
    grading = np.array([ratio, 1.0])
    n_k = np.array([30.0, 50.0])
    scatter = []
    for n, rho in zip(n_k, (0.5, -0.3), strict=True):
        spread = rng.uniform(0.5, 2.0, size=2)
        correlation = np.array([[1.0, rho], [rho, 1.0]])
        scatter.append(n * graded(correlation * np.outer(spread, spread), grading))
    return n_k, np.array(scatter), grading


def assert_close_in_feature_units(covariances, reference, rtol):
    scale = 1.0 / np.sqrt(np.diagonal(reference, axis1=-2, axis2=-1))
    unit = scale[..., :, None] * scale[..., None, :]
    np.testing.assert_allclose(covariances * unit, reference * unit, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("ratio", [1e4, 1e8, 1e12])
def test_eev_m_step_on_graded_scatter_matches_its_closed_form(ratio):
    # EEV: Sigma_k = D_k diag(sum_k Omega_k / n) D_k^T for the eigenvalues Omega_k and
    # eigenvectors D_k of W_k. From a ratio of 1e8 eigh lost the small eigenvalues.
    n_k, scatter, _ = graded_2d_problem(ratio)
    decompositions = [eigh_2x2(w) for w in scatter]
    shared = sum(values for values, _ in decompositions) / n_k.sum()
    reference = np.array([compose_2x2(shared, angle) for _, angle in decompositions])
    covariances = m_step(get_covariance_model("EEV"), n_k, scatter)
    assert_close_in_feature_units(covariances, reference, rtol=1e-8)


def decimal_eigh(matrix, digits=60):
    """Eigenvalues (decreasing) and eigenvectors of a symmetric matrix, to ``digits`` digits.

    Cyclic two-sided Jacobi in ``decimal`` arithmetic: an independent reference for
    matrices whose eigenvalues span more than float64's 16 digits. Returns Decimals.
    """
    from decimal import Decimal, localcontext

    with localcontext() as context:
        context.prec = digits
        n = len(matrix)
        # The symmetric part: scatters summed by some BLAS kernels differ from their
        # transposes in the last bit, and two-sided Jacobi assumes symmetry.
        a = [
            [(Decimal(float(matrix[i][j])) + Decimal(float(matrix[j][i]))) / 2 for j in range(n)]
            for i in range(n)
        ]
        v = [[Decimal(int(i == j)) for j in range(n)] for i in range(n)]
        for _ in range(100):
            off = sum(a[i][j] ** 2 for i in range(n) for j in range(n) if i != j)
            if off <= Decimal(10) ** (-2 * digits + 20) * sum(a[i][i] ** 2 for i in range(n)):
                break
            for p, q in itertools.combinations(range(n), 2):
                if a[p][q] == 0:
                    continue
                theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                sign = 1 if theta >= 0 else -1
                t = sign / (abs(theta) + (theta * theta + 1).sqrt())
                c = 1 / (t * t + 1).sqrt()
                s = t * c
                for k in range(n):  # columns p, q
                    akp, akq = a[k][p], a[k][q]
                    a[k][p], a[k][q] = c * akp - s * akq, s * akp + c * akq
                for k in range(n):  # rows p, q
                    apk, aqk = a[p][k], a[q][k]
                    a[p][k], a[q][k] = c * apk - s * aqk, s * apk + c * aqk
                for k in range(n):
                    vkp, vkq = v[k][p], v[k][q]
                    v[k][p], v[k][q] = c * vkp - s * vkq, s * vkp + c * vkq
        order = sorted(range(n), key=lambda i: -a[i][i])
        return [a[i][i] for i in order], [[v[k][i] for i in order] for k in range(n)]


def decimal_compose(vectors, eigenvalues):
    """``V diag(e) V^T`` in Decimal, returned as float64."""
    n = len(vectors)
    return np.array(
        [
            [
                float(sum(vectors[i][m] * eigenvalues[m] * vectors[j][m] for m in range(n)))
                for j in range(n)
            ]
            for i in range(n)
        ]
    )


@pytest.mark.parametrize("name", ["EEV", "VEV"])
def test_eev_and_vev_m_steps_on_features_of_scales_1e_minus_6_to_1e12(name):
    # Eigenvalues spanning 1e36: eigh resolves the small ones only to 1e-16 of the
    # largest; the M-step must still match a 60-digit reference. EEV has a closed
    # form in the W_k's eigen-decompositions; VEV's volumes are closed-form given
    # its shape, whose two free values scipy finds on the exact eigenvalues.
    from decimal import Decimal

    n_k, scatter = problem(8, n_components=2)
    scatter = graded(scatter, GRADING)
    decompositions = [decimal_eigh(w) for w in scatter]
    omega = np.array([[float(e) for e in values] for values, _ in decompositions])
    if name == "EEV":
        eigenvalues = [omega.sum(axis=0) / n_k.sum()] * 2
    else:
        log_omega = np.log(omega)

        def volumes(u):
            log_shape = np.append(u, -u.sum())
            return np.exp(log_omega - log_shape).sum(axis=1) / (3 * n_k)

        u = minimize(lambda u: float(3 * n_k @ np.log(volumes(u))), np.zeros(2), tol=1e-14).x
        shape = np.exp(np.append(u, -u.sum()))
        eigenvalues = [v * shape for v in volumes(u)]
    reference = np.array(
        [
            decimal_compose(vectors, [Decimal(float(e)) for e in values])
            for (_, vectors), values in zip(decompositions, eigenvalues, strict=True)
        ]
    )
    covariances = m_step(converged_model(name), n_k, scatter)
    assert_close_in_feature_units(covariances, reference, rtol=1e-6 if name == "VEV" else 1e-9)


@pytest.mark.parametrize("name", MCLUST_NAMES)
def test_one_component_on_features_of_scales_1_to_1e12_is_the_sample_covariance(name):
    # With one component every model with orientation is VVV: the eigen-decomposition
    # and recomposition must give the scatter back, small variances included.
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 3)) @ np.array([[1.0, 0.4, 0.2], [0, 1, 0.3], [0, 0, 1]])
    X *= np.array([1.0, 1e6, 1e12])
    gm = GaussianMixture(1, covariance_type=name, reg_covar="auto").fit(X)
    model = get_covariance_model(name)
    covariance = full_covariances(model, gm.covariances_, 1, 3)[0]
    sample = np.cov(X.T, bias=True) + 1e-6 * np.diag(np.var(X, axis=0))
    if name[1:] == "II":
        reference = np.trace(sample) / 3 * np.eye(3)
    elif name[2] == "I":
        reference = np.diag(np.diag(sample))
    else:
        reference = sample
    assert_close_in_feature_units(covariance, reference, rtol=1e-7)
    assert np.all(np.isfinite(gm.score_samples(X)))


def graded_spd(seed, n, span):
    """``S H S``: a well-conditioned ``H`` and scales spread over 10**(+-span)."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n + 3, n))
    inner = factor.T @ factor / (n + 3)
    scales = 10.0 ** rng.uniform(-span, span, size=n)
    return graded(inner, scales), inner, scales


@pytest.mark.parametrize("seed", range(4))
def test_jacobi_eigh_resolves_eigenvalues_spanning_1e40(seed):
    matrix, inner, scales = graded_spd(seed, 6, 10)
    values, vectors = jacobi_eigh(np.linalg.cholesky(matrix).T[None])
    values, vectors = values[0], vectors[0]
    assert np.all(np.diff(values) <= 0)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(6), atol=1e-13)
    # The largest eigenvalues: eigh resolves those above ~1e-8 of the top.
    reference = np.linalg.eigvalsh(matrix)[::-1]
    resolved = reference > 1e-8 * reference[0]
    np.testing.assert_allclose(values[resolved], reference[resolved], rtol=1e-9)
    # The smallest: the largest of the inverse, S^-1 H^-1 S^-1, which eigh resolves.
    inverse = graded(np.linalg.inv(inner), 1.0 / scales)
    np.testing.assert_allclose(values[-1], 1.0 / np.linalg.eigvalsh(inverse)[-1], rtol=1e-9)
    # All of them: their product is det(S)^2 det(H).
    expected = 2 * np.log(scales).sum() + np.linalg.slogdet(inner)[1]
    np.testing.assert_allclose(np.log(values).sum(), expected, rtol=1e-12)
    # The eigenvector of the smallest, through the inverse (residual relative to 1/lambda).
    smallest = vectors[:, -1]
    residual = inverse @ smallest - smallest / values[-1]
    assert np.abs(residual).max() <= 1e-9 / values[-1]


def test_sorted_eigh_keeps_small_eigenvalues_of_graded_matrices_and_plain_ones_as_eigh():
    matrix, inner, scales = graded_spd(5, 4, 8)
    values = sorted_eigh(matrix[None])[0][0]
    smallest = 1.0 / np.linalg.eigvalsh(graded(np.linalg.inv(inner), 1.0 / scales))[-1]
    np.testing.assert_allclose(values[-1], smallest, rtol=1e-9)
    # A well-conditioned matrix is eigh's decomposition, bit for bit.
    plain = inner[None]
    expected_values, expected_vectors = np.linalg.eigh(plain)
    got_values, got_vectors = sorted_eigh(plain)
    np.testing.assert_array_equal(got_values, expected_values[..., ::-1])
    np.testing.assert_array_equal(got_vectors, expected_vectors[..., ::-1])


def test_decompositions_of_non_finite_matrices_are_nan_not_errors():
    # Degenerate data give M-steps with inf or NaN entries; LAPACK then raises or
    # returns garbage depending on the BLAS build. Here they are NaN, for the repair.
    stack = np.stack([np.eye(3), np.full((3, 3), np.inf), np.diag([1.0, np.nan, 2.0])])
    values, vectors = sorted_eigh(stack)
    np.testing.assert_array_equal(values[0], [1.0, 1.0, 1.0])
    assert np.all(np.isnan(values[1:])) and np.all(np.isnan(vectors[1:]))
    assert np.all(np.isnan(eigenvalues(stack)[1:]))
    np.testing.assert_array_equal(np.isnan(volumes(stack)), [False, True, True])


def test_volumes_of_graded_and_singular_matrices():
    matrix, inner, scales = graded_spd(6, 5, 12)
    expected = np.exp((2 * np.log(scales).sum() + np.linalg.slogdet(inner)[1]) / 5)
    np.testing.assert_allclose(volumes(matrix[None]), [expected], rtol=1e-12)
    singular = np.diag([2.0, 0.0, 3.0])
    assert volumes(singular[None])[0] == 0.0
