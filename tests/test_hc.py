"""mclust's start: the hierarchical clustering and ``init_params="hc"``.

The tree is checked against a brute-force implementation of the criterion (every
pair's cost recomputed from the rows at every step, ties broken by mclust's rule)
and against mclust 6.0.0's own trees (tests/data/mclust_hc.json, written by
tests/data/mclust_hc.R).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score

import gaussmix
from conftest import mixture_data
from gaussmix import GaussianMixture, InvalidParameterError, hc_tree, open_data
from gaussmix._hc import TIE_RTOL, HCTree, build_tree, hc_transform, start_partitions
from gaussmix._qclass import QuantileClasses, quantile_classes

MCLUST = json.loads((Path(__file__).parent / "data" / "mclust_hc.json").read_text())
IRIS = load_iris().data
EPS = np.finfo(np.float64).eps


# ------------------------------------------------------------------ reference


def _pair_costs(Z, w, slots, model, alpha, beta=1.0):
    """Cost and magnitude of merging each pair of groups, from the groups' rows.

    ``slots[k]`` lists the rows of the group in slot ``k``. Pairs come in mclust's
    packed order: ``(i, j)`` for ``j = 1, 2, ...`` and ``i = 0..j-1``. The magnitude
    bounds a cost's rounding error (the tie rule of gaussmix.kernels._hc).
    """
    J, I = np.tril_indices(len(slots), -1)
    n = np.array([w[rows].sum() for rows in slots])
    count = np.array([len(rows) for rows in slots])
    mean = np.array([w[rows] @ Z[rows] / w[rows].sum() for rows in slots])
    gap = mean[I] - mean[J]
    factor = n[I] * n[J] / (n[I] + n[J])
    if model == "EII":
        cost = factor * np.einsum("ij,ij->i", gap, gap)
        row_norm = np.sqrt(np.einsum("ij,ij->i", Z, Z)).max()
        eps = np.finfo(float).eps
        return I, J, cost, factor * row_norm * (2.0 * np.sqrt(cost / factor) + eps * row_norm)
    W = np.array(
        [
            (Z[rows] - m).T @ ((Z[rows] - m) * w[rows, None])
            for rows, m in zip(slots, mean, strict=True)
        ]
    )
    term = _terms(n, count, W, Z.shape[1], alpha, beta)
    merged = _terms(
        n[I] + n[J],
        count[I] + count[J],
        W[I] + W[J] + factor[:, None, None] * gap[:, :, None] * gap[:, None, :],
        Z.shape[1],
        alpha,
        beta,
    )
    cost = merged - term[I] - term[J]
    return I, J, cost, np.abs(merged) + np.abs(term[I]) + np.abs(term[J]) + n[I] + n[J]


def _terms(n, count, W, p, alpha, beta):
    """n log(det(W / n) + beta (tr W + alpha) / n) of each group; det = 0 up to p rows."""
    sign, log_det = np.linalg.slogdet(W / n[:, None, None])
    det = np.where((count > p) & (sign > 0), np.exp(log_det), 0.0)
    return n * np.log(det + beta * (np.trace(W, axis1=1, axis2=2) + alpha) / n)


def _term(weight, count, scatter, trace, alpha, beta):
    """weight log(det(scatter / weight) + beta (trace + alpha) / weight), det = 0 up to p rows
    or where the scatter is not positive definite; arrays of groups."""
    p = scatter.shape[-1]
    sign, log_det = np.linalg.slogdet(scatter / weight[:, None, None])
    det = np.where((count > p) & (trace > 0) & (sign > 0), np.exp(log_det), 0.0)
    return weight * np.log(det + beta * (trace + alpha) / weight)


def _move_last(groups, i, j, merged):
    """``_merge_slots`` for group objects: ``merged`` takes slot i, the last slot moves to j."""
    groups[i] = merged
    last = groups.pop()
    if j < len(groups):
        groups[j] = last


def _merge_slots(slots, i, j):
    """mclust's bookkeeping: the merged group stays in slot i, the last slot moves to j."""
    slots[i] = sorted(slots[i] + slots[j])
    last = slots.pop()
    if j < len(slots):
        slots[j] = last


def brute_force_tree(Z, w, model, alpha, beta=1.0, exact=True):
    """Merge the cheapest pair of groups, every cost recomputed at every step.

    Costs within TIE_RTOL of the cheapest merge's magnitude are tied and go to the last
    tied pair in mclust's packed order. With ``exact`` the costs are the criterion's,
    from the groups' rows; otherwise mclust's (``_mclust_pair_costs``). Returns the
    merges, their costs and the number of steps at which more than one pair was tied.
    """
    slots = [[i] for i in range(len(Z))]
    groups = [_Group.single(i, Z, w, alpha, beta) for i in range(len(Z))]
    merges, costs, n_tied = [], [], 0
    while len(slots) > 1:
        if exact or model == "EII":
            I, J, cost, magnitude = _pair_costs(Z, w, slots, model, alpha, beta)
        else:
            I, J, cost, magnitude = _mclust_pair_costs(groups, alpha, beta)
        cheapest = len(cost) - 1 - np.argmin(cost[::-1])
        tied = np.flatnonzero(cost <= cost[cheapest] + TIE_RTOL * magnitude[cheapest])
        n_tied += tied.size > 1
        i, j = I[tied[-1]], J[tied[-1]]
        merges.append(sorted((slots[i][0], slots[j][0])))  # groups are named by their first row
        costs.append(cost[tied[-1]])
        if not exact and model == "VVV":
            _move_last(groups, i, j, _Group.merge(groups, i, j, cost[tied[-1]], len(merges)))
        _merge_slots(slots, i, j)
    return np.array(merges), np.array(costs), n_tied


class _Group:
    """A group as mclust's hcvvv holds it: the scatter it was made with, kept as a
    triangular factor of which only the first row is stored, and its term.

    ``made`` is the merge that made it (0 for a single row): only the group of the
    latest merge is used with the scatter it was made with; every other group enters
    with the scatter rebuilt from the stored rows, ``min(a, b, c - 1) r_a r_b``.
    """

    def __init__(self, count, weight, mean, trace, scatter, first_row, term, made):
        self.count, self.weight, self.mean, self.trace = count, weight, mean, trace
        self.scatter, self.first_row, self.term, self.made = scatter, first_row, term, made

    @classmethod
    def single(cls, i, Z, w, alpha, beta):
        p = Z.shape[1]
        term = w[i] * np.log(beta * alpha / w[i])
        return cls(1, w[i], Z[i].copy(), 0.0, np.zeros((p, p)), np.zeros(p), term, 0)

    def stored(self):
        p = len(self.mean)
        index = np.arange(1, p + 1)
        rows = min(self.count - 1, p)
        return np.minimum(np.minimum.outer(index, index), rows) * np.outer(
            self.first_row, self.first_row
        )

    @staticmethod
    def combined(a, b, young):
        """Count, weight, trace and scatter of a merge; ``young`` (a or b, or None) enters
        with its own scatter, the other with its stored one."""
        gap = a.mean - b.mean
        factor = a.weight * b.weight / (a.weight + b.weight)
        trace = a.trace + b.trace + factor * gap @ gap
        scatter = (a.scatter if a is young else a.stored()) + (
            b.scatter if b is young else b.stored()
        )
        scatter = scatter + factor * np.outer(gap, gap)
        return a.count + b.count, a.weight + b.weight, trace, scatter, factor, gap

    @classmethod
    def merge(cls, groups, i, j, cost, step):
        a, b = groups[i], groups[j]
        latest = max(groups, key=lambda g: g.made)
        young = latest if latest.made == step - 1 and latest in (a, b) else None
        count, weight, trace, scatter, factor, gap = cls.combined(a, b, young)
        if scatter[0, 0] > 0:
            first_row = scatter[0] / np.sqrt(scatter[0, 0])
        elif a.count == b.count == 1:
            first_row = np.sqrt(factor) * gap
        else:
            start = young if young is not None else (b if b.count > 1 else a)
            first_row = start.first_row
        mean = (a.weight * a.mean + b.weight * b.mean) / weight
        return cls(count, weight, mean, trace, scatter, first_row, cost + a.term + b.term, step)


def _mclust_pair_costs(groups, alpha, beta):
    """Costs as mclust's hcvvv computes them: each pair is priced when the younger of
    its groups is made, the younger with its own scatter, the older with its stored one."""
    J, I = np.tril_indices(len(groups), -1)
    count = np.array([g.count for g in groups])
    weight = np.array([g.weight for g in groups])
    mean = np.array([g.mean for g in groups])
    trace = np.array([g.trace for g in groups])
    term = np.array([g.term for g in groups])
    made = np.array([g.made for g in groups])
    own = np.array([g.scatter for g in groups])
    stored = np.array([g.stored() for g in groups])
    i_young = (made[I] > made[J])[:, None, None]
    j_young = (made[J] > made[I])[:, None, None]
    gap = mean[I] - mean[J]
    factor = weight[I] * weight[J] / (weight[I] + weight[J])
    scatter = (
        np.where(i_young, own[I], stored[I])
        + np.where(j_young, own[J], stored[J])
        + factor[:, None, None] * gap[:, :, None] * gap[:, None, :]
    )
    merged_trace = trace[I] + trace[J] + factor * np.einsum("ij,ij->i", gap, gap)
    merged = _term(weight[I] + weight[J], count[I] + count[J], scatter, merged_trace, alpha, beta)
    cost = merged - term[I] - term[J]
    return I, J, cost, np.abs(merged) + np.abs(term[I]) + np.abs(term[J]) + weight[I] + weight[J]


def _alpha(Z, w):
    centred = Z - w @ Z / len(Z)
    alpha = float(w @ (centred**2).sum(axis=1)) / (len(Z) * Z.shape[1])
    return max(alpha, EPS)


def _grid_data(seed, n_rows=40):
    """Rows on a small integer grid: duplicated and translated rows, so tied merges."""
    return np.random.default_rng(seed).integers(0, 4, size=(n_rows, 2)).astype(float)


# ------------------------------------------------------------- the agglomeration


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("model, exact", [("VVV", False), ("VVV", True), ("EII", False)])
@pytest.mark.parametrize("n_features", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_merges_equal_brute_force(seed, n_features, model, exact, weighted):
    rng = np.random.default_rng(seed)
    n = 24
    # Three loose groups: groups grow past n_features rows, where the determinant
    # enters the VVV criterion.
    X = rng.normal(size=(n, n_features)) + 3.0 * rng.integers(0, 3, size=(n, 1))
    weight = rng.uniform(0.2, 3.0, size=n) if weighted else None
    tree = build_tree(
        X, weight, rows=np.arange(n), n_samples=n, model=model, use="SVD", exact=exact
    )
    w = np.ones(n) if weight is None else weight * n / weight.sum()
    Z = hc_transform(X, "SVD", w)
    merges, costs, _ = brute_force_tree(Z, w, model, _alpha(Z, w), exact=exact)
    np.testing.assert_array_equal(tree.merges, merges)
    np.testing.assert_allclose(tree.costs, costs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(
    "data, model, use, weighted",
    [
        (IRIS, "VVV", "SVD", False),  # measured to 0.1 cm: translated pairs tie
        (IRIS, "VVV", "VARS", False),
        (IRIS, "EII", "SVD", False),
        (_grid_data(0), "VVV", "SVD", False),
        (_grid_data(0), "EII", "SVD", False),
        (_grid_data(1), "VVV", "SVD", True),
        (_grid_data(1), "EII", "SVD", True),
    ],
)
def test_tied_merges_follow_mclusts_rule(data, model, use, weighted, exact):
    n = len(data)
    weight = np.random.default_rng(2).integers(1, 4, size=n) * 1.0 if weighted else None
    tree = build_tree(
        data, weight, rows=np.arange(n), n_samples=n, model=model, use=use, exact=exact
    )
    w = np.ones(n) if weight is None else weight * n / weight.sum()
    Z = hc_transform(data, use, w)
    merges, costs, n_tied = brute_force_tree(Z, w, model, _alpha(Z, w), exact=exact)
    assert n_tied >= 4  # the rule is exercised
    np.testing.assert_array_equal(tree.merges, merges)
    np.testing.assert_allclose(tree.costs, costs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "data, model, use",
    [
        (IRIS, "VVV", "SVD"),
        (IRIS, "VVV", "VARS"),
        (IRIS, "EII", "SVD"),
        (IRIS, "VVV", "STD"),
        (_grid_data(0), "EII", "SVD"),
    ],
)
def test_tree_does_not_depend_on_the_rounding_of_the_data(data, model, use, monkeypatch):
    # Another BLAS or CPU rounds the transformed data differently: iris' transform
    # from R's LAPACK differs from ours by up to 8 eps times its largest entry. That
    # reorders costs tied in real arithmetic (when only equal costs count as tied,
    # each of these trees changes under this noise), but not the tree. Equal rows
    # are rounded alike (the transform maps equal rows to equal rows).
    tree = hc_tree(data, model=model, use=use)
    _, row_kind = np.unique(data, axis=0, return_inverse=True)
    for seed in range(3):
        noise = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(len(data), 4))
        noise = noise[row_kind.reshape(-1)]

        def rounded_otherwise(X, use, sample_weight, noise=noise):
            Z = hc_transform(X, use, sample_weight)
            return Z + 32 * EPS * np.abs(Z).max() * noise[:, : Z.shape[1]]

        monkeypatch.setattr(gaussmix._hc, "hc_transform", rounded_otherwise)
        np.testing.assert_array_equal(hc_tree(data, model=model, use=use).merges, tree.merges)
    # The sign of each singular vector is arbitrary (it differs between LAPACKs); the
    # arithmetic is symmetric in it to the last bit.
    signs = np.array([-1.0, 1.0, -1.0, -1.0])[: hc_transform(data, use).shape[1]]
    monkeypatch.setattr(gaussmix._hc, "hc_transform", lambda *a: hc_transform(*a) * signs)
    flipped = hc_tree(data, model=model, use=use)
    np.testing.assert_array_equal(flipped.merges, tree.merges)
    np.testing.assert_array_equal(flipped.costs, tree.costs)


def test_svd_transform_is_its_definition():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 4)) @ rng.normal(size=(4, 4)) + 10.0
    X = np.column_stack([X, np.full(40, 0.1)])  # constant up to round-off: dropped
    Z = hc_transform(X, "SVD")
    kept = X[:, :4]
    standard = (kept - kept.mean(axis=0)) / kept.std(axis=0, ddof=1)
    _, singular, Vt = np.linalg.svd(standard, full_matrices=False)
    expected = standard @ Vt.T @ np.diag(1.0 / np.sqrt(singular))
    signs = np.sign(np.sum(Z * expected, axis=0))  # SVD columns are defined up to sign
    np.testing.assert_allclose(Z, expected * signs, atol=1e-12)
    np.testing.assert_allclose(hc_transform(X, "STD"), standard, atol=1e-12)
    np.testing.assert_array_equal(hc_transform(X, "VARS"), X)


def test_svd_transform_maps_equal_rows_to_equal_rows():
    X = _grid_data(0)
    Z = hc_transform(X, "SVD")
    _, first, group = np.unique(X, axis=0, return_index=True, return_inverse=True)
    assert np.bincount(group).max() > 1
    np.testing.assert_array_equal(Z, Z[first[group]])


def test_weighted_svd_transform_whitens_to_the_singular_values():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 3))
    w = rng.uniform(0.1, 4.0, size=50)
    Z = hc_transform(X, "SVD", w)
    w = w * 50 / w.sum()
    np.testing.assert_allclose(w @ Z, 0.0, atol=1e-12)
    centred = X - w @ X / 50
    standard = centred / np.sqrt(w @ centred**2 / 49)
    singular = np.linalg.svd(np.sqrt(w)[:, None] * standard, compute_uv=False)
    np.testing.assert_allclose(Z.T @ (w[:, None] * Z), np.diag(singular), atol=1e-12)


def test_svd_transform_of_fewer_rows_than_features_has_a_zero_column():
    X = np.random.default_rng(5).normal(size=(3, 5))
    Z = hc_transform(X, "SVD")
    # Centring leaves rank 2: three singular values, the last zero to rounding.
    assert Z.shape == (3, 3) and np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[:, 2], 0.0, atol=1e-6)


# -------------------------------------------------------------------- mclust


def test_svd_transform_equals_mclust_on_iris():
    Z = hc_transform(IRIS, "SVD")
    expected = np.array(MCLUST["iris_svd_data"])
    signs = np.sign(np.sum(Z * expected, axis=0))
    np.testing.assert_allclose(Z, expected * signs, rtol=1e-10, atol=1e-13)


def _mclust_data(key):
    return IRIS if key.startswith("iris") else np.array(MCLUST[key.split("_")[0] + "_data"])


@pytest.mark.parametrize(
    "key",
    [
        # mclust's default start. iris ties at 6 steps; mclust's rounding broke each
        # tie as mclust's rule does.
        "iris_VVV_SVD",
        "blobs_VVV_SVD",
        # Integer rows, many duplicated: merges of exactly equal cost are decided by
        # mclust's order of group slots.
        "ties_VVV_VARS",
        "ties_EII_VARS",
    ],
)
def test_tree_equals_mclust(key):
    _, model, use = key.split("_")
    tree = hc_tree(_mclust_data(key), model=model, use=use)
    np.testing.assert_array_equal(tree.merges, np.array(MCLUST[key]) - 1)


@pytest.mark.parametrize(
    "key",
    [
        "iris_VVV_SVD",
        "iris_VVV_VARS",
        "iris_EII_SVD",
        "blobs_VVV_SVD",
        "ties_VVV_VARS",
        "ties_EII_VARS",
    ],
)
def test_tree_equals_mclust_up_to_ties(key):
    # Every merge of mclust's is the cheapest up to the tie tolerance (recomputed
    # here from the rows). Where it is the only merge within the tolerance and both
    # trees have reached the same partition, ours is the same merge. Where a tie was
    # broken otherwise (mclust breaks ties of real arithmetic by its rounding), the
    # trees part, and the cuts a start uses still agree.
    _, model, use = key.split("_")
    data = _mclust_data(key)
    n = len(data)
    ref = np.array(MCLUST[key]) - 1
    tree = hc_tree(data, model=model, use=use)
    ours = tree.merges
    Z, w = hc_transform(data, use), np.ones(n)
    alpha = _alpha(Z, w)
    slots = [[i] for i in range(n)]
    same = np.arange(n), np.arange(n)
    n_clear = 0
    for step, (a, b) in enumerate(ref):
        I, J, cost, magnitude = _pair_costs(Z, w, slots, model, alpha)
        cheapest = np.argmin(cost)
        bound = cost[cheapest] + TIE_RTOL * magnitude[cheapest]
        first = [rows[0] for rows in slots]
        i, j = sorted((first.index(a), first.index(b)))
        assert cost[(I == i) & (J == j)][0] <= bound, f"step {step}"
        if np.count_nonzero(cost <= bound) == 1 and np.array_equal(*same):
            np.testing.assert_array_equal(ours[step], ref[step], err_msg=f"step {step}")
            n_clear += 1
        for labels, (keep, gone) in zip(same, (ours[step], ref[step]), strict=True):
            labels[labels == gone] = keep
        _merge_slots(slots, i, j)
    assert n_clear >= 0.45 * len(ref)
    for k in range(1, min(n, 21)):
        np.testing.assert_array_equal(tree.labels(k), _cut(ref, n, k), err_msg=f"k={k}")


def _cut(merges, n_leaves, k):
    """mclust's hclass: relabel j as i for each of the first n - k merges (i, j)."""
    labels = np.arange(n_leaves)
    for i, j in merges[: n_leaves - k]:
        labels[labels == j] = i
    return np.unique(labels, return_inverse=True)[1]  # numbered by first row


def test_iris_partitions_as_published_by_mclust():
    tree = hc_tree(IRIS)
    assert sorted(np.bincount(tree.labels(2))) == [49, 101]
    assert list(np.bincount(tree.labels(3))) == [49, 62, 39]


@pytest.mark.parametrize("n_components", [2, 3])
def test_em_from_hc_reaches_mclust_bic_on_iris(n_components):
    gm = GaussianMixture(
        n_components, init_params="hc", reg_covar=0.0, tol=1e-10, max_iter=1000
    ).fit(IRIS)
    log_likelihood = gm.score(IRIS) * 150
    # mclust's BIC has the opposite sign: 2 log L - p log n.
    bic = 2 * log_likelihood - gm._n_parameters() * math.log(150)
    # mclust stops EM at a relative change of 1e-5; K=2 converges before that.
    tol = 1e-6 if n_components == 2 else 1e-3
    assert bic == pytest.approx(MCLUST["iris_VVV_bic"][str(n_components)], abs=tol)


# -------------------------------------------------------------------- the tree


def test_cuts_are_nested_and_numbered_by_first_row():
    X = mixture_data(60, 2, 3, seed=5)[0]
    tree = hc_tree(X)
    np.testing.assert_array_equal(tree.labels(60), np.arange(60))
    np.testing.assert_array_equal(tree.labels(1), np.zeros(60))
    for k in range(2, 60):
        fine, coarse = tree.labels(k), tree.labels(k - 1)
        assert fine.max() == k - 1
        # Groups are numbered in the order of their first rows.
        firsts = [np.flatnonzero(fine == g)[0] for g in range(k)]
        assert firsts == sorted(firsts)
        # Each group of the finer cut lies inside one group of the coarser.
        for g in range(k):
            assert np.unique(coarse[fine == g]).size == 1


def test_separated_clusters_are_recovered():
    rng = np.random.default_rng(6)
    truth = rng.integers(0, 3, size=150)
    X = np.array([[0, 0], [12, 0], [0, 12]])[truth] + rng.normal(size=(150, 2))
    tree = hc_tree(X)
    assert adjusted_rand_score(truth, tree.labels(3)) == 1.0
    gm = GaussianMixture(3, init_params="hc").fit(X)
    assert adjusted_rand_score(truth, gm.predict(X)) == 1.0


def test_subset_is_drawn_by_random_state():
    X = mixture_data(500, 2, 3, seed=7)[0]
    first = hc_tree(X, subset=100, random_state=0)
    again = hc_tree(X, subset=100, random_state=0)
    other = hc_tree(X, subset=100, random_state=1)
    assert first.n_leaves == 100 and first.n_samples == 500
    assert np.all(np.diff(first.rows) > 0)
    np.testing.assert_array_equal(first.rows, again.rows)
    np.testing.assert_array_equal(first.merges, again.merges)
    assert not np.array_equal(first.rows, other.rows)
    # The tree of a subset is the tree of those rows.
    alone = hc_tree(X[first.rows])
    np.testing.assert_array_equal(first.merges, alone.merges)
    # Below the subset size every row is clustered and no randomness is used.
    np.testing.assert_array_equal(hc_tree(X[:90], subset=100, random_state=0).rows, np.arange(90))


def test_subset_of_many_rows_is_uniform_and_distinct():
    rows = gaussmix._hc.sample_rows(10**9, None, 2000, np.random.RandomState(0))
    assert rows.size == 2000 and np.all(np.diff(rows) > 0)
    assert rows[0] < 5e6 and rows[-1] > 10**9 - 5e6


def test_equal_weights_give_the_unweighted_tree():
    X = mixture_data(80, 3, 3, seed=8)[0]
    plain = hc_tree(X)
    scaled = hc_tree(X, sample_weight=np.full(80, 2.5))
    np.testing.assert_array_equal(scaled.merges, plain.merges)
    np.testing.assert_allclose(scaled.costs, plain.costs, rtol=1e-10, atol=1e-12)


def test_zero_weight_rows_are_left_out():
    X = mixture_data(80, 3, 3, seed=9)[0]
    w = np.random.default_rng(9).uniform(0.5, 2.0, size=80)
    w[::7] = 0.0
    tree = hc_tree(X, sample_weight=w)
    kept = np.flatnonzero(w)
    np.testing.assert_array_equal(tree.rows, kept)
    np.testing.assert_array_equal(tree.merges, hc_tree(X[kept], sample_weight=w[kept]).merges)


def test_tree_of_a_file_equals_tree_in_memory(tmp_path):
    X = mixture_data(300, 3, 3, seed=10)[0]
    np.save(tmp_path / "X.npy", X)
    source = open_data(tmp_path / "X.npy", block_rows=64)
    from_file = hc_tree(source, subset=120, random_state=3)
    in_memory = hc_tree(X, subset=120, random_state=3)
    np.testing.assert_array_equal(from_file.rows, in_memory.rows)
    np.testing.assert_array_equal(from_file.merges, in_memory.merges)


def test_constant_data_give_a_tree():
    tree = hc_tree(np.ones((20, 3)))
    assert tree.merges.shape == (19, 2)
    assert np.bincount(tree.labels(4)).sum() == 20


# ----------------------------------------------------------------- estimator


def test_hc_start_on_a_subset_is_deterministic(monkeypatch):
    monkeypatch.setattr(gaussmix._hc, "SUBSET_ROWS", 150)
    X = mixture_data(600, 2, 3, seed=11)[0]
    fits = [GaussianMixture(3, init_params="hc", random_state=s).fit(X) for s in (0, 0, 1)]
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    # The start is the M-step of the subset's partition.
    start = GaussianMixture(3, init_params="hc", random_state=0, max_iter=0).fit(X)
    tree = hc_tree(X, subset=150, random_state=0)
    labels = tree.labels(3)
    expected = np.array([X[tree.rows][labels == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(start.means_, expected, rtol=1e-10)
    np.testing.assert_allclose(start.weights_, np.bincount(labels) / 150, rtol=1e-10)
    other = GaussianMixture(3, init_params="hc", random_state=1, max_iter=0).fit(X)
    assert not np.allclose(other.means_, start.means_)


def test_hc_start_from_a_file_equals_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(gaussmix._hc, "SUBSET_ROWS", 150)
    X = mixture_data(600, 3, 3, seed=12)[0]
    np.save(tmp_path / "X.npy", X)
    params = dict(n_components=3, init_params="hc", random_state=4, tol=1e-6)
    streamed = GaussianMixture(**params).fit(open_data(tmp_path / "X.npy", block_rows=100))
    in_memory = GaussianMixture(**params).fit(X)
    np.testing.assert_allclose(streamed.means_, in_memory.means_, rtol=1e-10)
    np.testing.assert_allclose(streamed.covariances_, in_memory.covariances_, rtol=1e-10)


def test_hc_start_with_weights_ignores_zero_weight_rows():
    X = mixture_data(200, 2, 3, seed=13)[0]
    w = np.random.default_rng(13).integers(0, 4, size=200).astype(float)
    full = GaussianMixture(3, init_params="hc", max_iter=0).fit(X, sample_weight=w)
    kept = w > 0
    part = GaussianMixture(3, init_params="hc", max_iter=0).fit(X[kept], sample_weight=w[kept])
    np.testing.assert_allclose(full.means_, part.means_, rtol=1e-12)
    np.testing.assert_allclose(full.weights_, part.weights_, rtol=1e-12)


def test_tree_is_built_once_for_all_starts(monkeypatch):
    calls = []
    build = gaussmix._hc.build_tree
    monkeypatch.setattr(
        gaussmix._hc, "build_tree", lambda *a, **k: calls.append(1) or build(*a, **k)
    )
    X = mixture_data(100, 2, 2, seed=14)[0]
    GaussianMixture(2, init_params="hc", n_init=3).fit(X)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "n_components, covariance_type, winner",
    [(5, "full", "hc"), (4, "diag", "kmeans")],
)
def test_several_methods_keep_the_best_start(n_components, covariance_type, winner):
    params = dict(n_components=n_components, covariance_type=covariance_type, random_state=0)
    alone = {m: GaussianMixture(init_params=m, **params).fit(IRIS) for m in ("hc", "kmeans")}
    loser = "kmeans" if winner == "hc" else "hc"
    assert alone[winner].lower_bound_ > alone[loser].lower_bound_ + 1e-3
    for methods in (("hc", "kmeans"), ["kmeans", "hc"]):
        both = GaussianMixture(init_params=methods, **params).fit(IRIS)
        # hc draws nothing from random_state on 150 rows, so k-means gets the same
        # draws as when alone, whatever the order.
        assert both.lower_bound_ == alone[winner].lower_bound_
        np.testing.assert_array_equal(both.means_, alone[winner].means_)


def test_one_method_in_a_sequence_is_that_method():
    X = mixture_data(200, 2, 3, seed=15)[0]
    as_str = GaussianMixture(3, init_params="kmeans", n_init=2, random_state=0).fit(X)
    as_tuple = GaussianMixture(3, init_params=("kmeans",), n_init=2, random_state=0).fit(X)
    np.testing.assert_array_equal(as_tuple.means_, as_str.means_)
    assert clone(GaussianMixture(init_params=("hc", "kmeans"))).init_params == ("hc", "kmeans")


def test_partial_fit_starts_from_the_first_method():
    X = mixture_data(200, 2, 3, seed=16)[0]
    first = GaussianMixture(3, init_params=("hc", "kmeans")).partial_fit(X)
    hc = GaussianMixture(3, init_params="hc").partial_fit(X)
    np.testing.assert_array_equal(first.means_, hc.means_)


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "init_params", ["hcc", ("hc", "bogus"), (), ("hc", "hc"), 3, None, {"hc"}]
)
def test_bad_init_params_are_refused(init_params):
    with pytest.raises(InvalidParameterError, match="init_params"):
        GaussianMixture(2, init_params=init_params).fit(IRIS)


def test_more_components_than_tree_rows_is_refused(monkeypatch):
    monkeypatch.setattr(gaussmix._hc, "SUBSET_ROWS", 5)
    with pytest.raises(ValueError, match=r"init_params='hc'.*n_components=6"):
        GaussianMixture(6, init_params="hc", random_state=0).fit(IRIS)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"model": "VII"}, "model"),
        ({"use": "PCS"}, "use"),
        ({"subset": 1}, "subset"),
        ({"subset": 2.5}, "subset"),
    ],
)
def test_bad_tree_parameters_are_refused(params, name):
    with pytest.raises(InvalidParameterError, match=name):
        hc_tree(IRIS, **params)


def test_bad_cuts_are_refused():
    tree = hc_tree(IRIS[:10])
    for k in (0, 11):
        with pytest.raises(ValueError, match="n_clusters"):
            tree.labels(k)


def test_too_many_rows_without_a_subset_are_refused(monkeypatch):
    monkeypatch.setattr(gaussmix._hc, "_MAX_ROWS", 100)
    with pytest.raises(ValueError, match="subset"):
        hc_tree(IRIS, subset=None)


def test_one_feature_starts_from_quantile_classes_unless_constant():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 1))
    start = start_partitions(x, None, rows=np.arange(30), n_samples=30)
    assert isinstance(start, QuantileClasses)
    np.testing.assert_array_equal(start.labels(3), quantile_classes(x[:, 0], 3))
    # A constant feature has no quantile classes (mclust's qclass never returns): the
    # tree starts it, and a fit from it goes through.
    constant = np.ones((20, 1))
    assert isinstance(start_partitions(constant, None, rows=np.arange(20), n_samples=20), HCTree)
    GaussianMixture(2, init_params="hc", reg_covar=1e-6).fit(constant)
