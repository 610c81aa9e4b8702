"""select_model against mclust on six of mclust's example data sets no other test uses.

The reference (``tests/data/mclust_examples.json``) was written by mclust 6.0.0 with
``tests/data/mclust_examples.R``: for thyroid (Diagnosis dropped), acidity (one
feature), banknote (Status dropped), wreath, chevron (class dropped) and a
1000-row subset of GvHD.pos, mclust's BIC table (every model, G = 1..9, mclustBIC's
defaults), its chosen model, and its starting partitions: the hc tree (hcPairs and
the cost of every merge, from mclust's Fortran) or, for one feature, the quantile
classes.

What is asserted: the starts are mclust's, merge for merge and class for class; the
pick is mclust's or has a better BIC; in every cell both fit, gaussmix's BIC is at
least mclust's - 0.05, except the cells listed below with the reason; and a cell
fails as a spurious maximum only where mclust's own fit has collapsed too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gaussmix import hc_tree, select_model
from gaussmix._hc import hc_transform
from gaussmix._qclass import quantile_classes

REFERENCE = json.loads((Path(__file__).parent / "data" / "mclust_examples.json").read_text())
DATASETS = ("thyroid", "acidity", "banknote", "wreath", "chevron", "gvhd")
EPS = np.finfo(np.float64).eps

# mclust stops EM at a relative change of 1e-5: its BIC values carry an error of
# about that size.
TOLERANCE = 0.05

# Cells where gaussmix's fit, from mclust's own start, ends below mclust's BIC, with
# how far below (BIC units). The VVE cells: mclust's M-step for VVE finds the common
# orientation from each component's shape alone, leaving out its volume (Fortran
# mevve: ``O(j,:) / shape(j,k)``), so it is not the M-step of the model's likelihood
# and its EM takes another path from the same start, to another local maximum (the
# exact EM started from mclust's fit of VVE with 2 components on thyroid climbs from
# -2498.54 to -2487.50 in log-likelihood). gaussmix's ends higher in most VVE cells
# (32 of the 43 both fit, 5 equal, 6 lower). wreath's EVE cell: EVE's M-step is
# mclust's (the volume is common), yet from the same start the two EMs end in
# different local maxima (gaussmix ends higher in 28 of the 43 EVE cells, 14 equal).
LOWER_THAN_MCLUST = {
    ("thyroid", "VVE", 2): 49.8,
    ("thyroid", "VVE", 7): 8.7,
    ("banknote", "VVE", 5): 0.8,
    ("banknote", "VVE", 7): 1.9,
    ("wreath", "EVE", 8): 7.8,
    ("chevron", "VVE", 3): 54.5,
    ("chevron", "VVE", 8): 1.0,
}

# Cells gaussmix fails as spurious maxima where mclust reports a BIC: mclust's own fit
# has a component whose smallest variance is 1.7e-7 of the data's (each feature
# scaled to variance 1), below the floor (1e-5 at least) under which gaussmix calls
# it collapsed.
# Every further start (k-means, three seeds) collapses too.
SPURIOUS_IN_MCLUST_TOO = {("thyroid", "EVV", 7), ("thyroid", "EVV", 8)}


def _data(name):
    X = np.asarray(REFERENCE[name]["data"], dtype=np.float64)
    return X.reshape(len(X), -1)


def _mclust_model(name, model):
    """gaussmix's name for mclust's model; one feature has only E and V."""
    return {"E": "EII", "V": "VII"}.get(model, model)


@pytest.fixture(scope="module", params=DATASETS)
def sweep(request):
    name = request.param
    return name, select_model(_data(name), random_state=0)


def test_pick_is_mclusts_or_better(sweep):
    name, result = sweep
    reference = REFERENCE[name]
    best = result.top(1).iloc[0]
    assert best["bic_mclust"] >= reference["best_bic"] - TOLERANCE, name
    same = result.best_params_ == {
        "n_components": reference["best_G"],
        "covariance_type": _mclust_model(name, reference["best_model"]),
    }
    assert same or best["bic_mclust"] > reference["best_bic"] + TOLERANCE, name


def test_every_cell_reaches_mclusts_bic(sweep):
    name, result = sweep
    reference = REFERENCE[name]
    table = result.table.set_index(["covariance_type", "n_components"])
    compared = 0
    for j, model in enumerate(reference["models"]):
        for i, k in enumerate(reference["G"]):
            theirs = reference["bic"][i][j]
            row = table.loc[(_mclust_model(name, model), int(k))]
            cell = (name, model, int(k))
            if theirs is None:
                continue  # mclust's fit failed (a singular covariance)
            if row["error"]:
                assert cell in SPURIOUS_IN_MCLUST_TOO, f"{cell}: {row['error']}"
                assert "spurious maximum" in row["error"]
                continue
            compared += 1
            gap = LOWER_THAN_MCLUST.get(cell, 0.0)
            assert row["bic_mclust"] >= theirs - TOLERANCE - gap, (cell, row["bic_mclust"], theirs)
    assert compared >= 0.9 * len(reference["models"]) * len(reference["G"])


def test_spurious_cells_are_collapsed_in_mclust_too(sweep):
    # Only cells listed above, or cells mclust reports as NA, fail; and they fail as
    # spurious maxima, not for another reason.
    name, result = sweep
    reference = REFERENCE[name]
    failed = result.table[result.table["error"] != ""]
    for row in failed.itertuples():
        j = [_mclust_model(name, model) for model in reference["models"]].index(
            row.covariance_type
        )
        theirs = reference["bic"][reference["G"].index(row.n_components)][j]
        cell = (name, row.covariance_type, row.n_components)
        assert theirs is None or cell in SPURIOUS_IN_MCLUST_TOO, (cell, row.error)
        assert "spurious maximum" in row.error, (cell, row.error)


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "acidity"])
def test_hc_tree_equals_mclusts(name):
    # mclust's tree, merge for merge, and the cost mclust's Fortran gives each merge.
    X = _data(name)
    tree = hc_tree(X)
    reference = REFERENCE[name]
    np.testing.assert_array_equal(tree.merges, np.array(reference["hc_pairs"]) - 1)
    np.testing.assert_allclose(tree.costs, reference["hc_costs"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["wreath", "thyroid"])
def test_hc_tree_does_not_depend_on_the_rounding_of_the_data(name, monkeypatch):
    # R's LAPACK rounds the transform differently from ours (by a few eps of its
    # largest entry); the tree, and so the equality above, does not hang on it.
    import gaussmix._hc

    X = _data(name)
    tree = hc_tree(X)
    noise = np.random.default_rng(0).uniform(-1.0, 1.0, size=(len(X), X.shape[1]))

    def rounded_otherwise(X, use, sample_weight):
        Z = hc_transform(X, use, sample_weight)
        return Z + 32 * EPS * np.abs(Z).max() * noise[:, : Z.shape[1]]

    monkeypatch.setattr(gaussmix._hc, "hc_transform", rounded_otherwise)
    np.testing.assert_array_equal(hc_tree(X).merges, tree.merges)


def test_exact_criterion_parts_from_mclust_at_the_top_of_wreaths_tree():
    # With the criterion priced exactly, the last three merges of wreath's tree differ
    # from mclust's, and so do its cuts into 2 and 3 groups; below that the trees agree.
    X = _data("wreath")
    exact = hc_tree(X, exact=True)
    reference = np.array(REFERENCE["wreath"]["hc_pairs"]) - 1
    differ = np.flatnonzero(np.any(exact.merges != reference, axis=1))
    np.testing.assert_array_equal(differ, [996, 997, 998])
    mclust_tree = hc_tree(X)
    for k in range(4, 10):
        np.testing.assert_array_equal(exact.labels(k), mclust_tree.labels(k))


def test_quantile_classes_equal_mclusts_qclass():
    x = _data("acidity")[:, 0]
    for k, expected in enumerate(REFERENCE["acidity"]["qclass"], start=1):
        np.testing.assert_array_equal(quantile_classes(x, k), np.array(expected) - 1)
