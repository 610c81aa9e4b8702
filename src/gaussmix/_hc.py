"""mclust's start: model-based agglomerative hierarchical clustering.

:func:`hc_tree` builds the tree once; :meth:`HCTree.labels` cuts it at any number of
groups, so one tree serves every number of components (and every covariance model)
of a model-selection sweep, as in ``mclustBIC``.

What is replicated from mclust (version 6.0.0, ``hc``, ``hcVVV``, ``hcEII``,
``hclass`` and the initialisation in ``mclustBIC``):

- ``use="SVD"`` (``mclust.options("hcUse")``, Scrucca & Raftery, 2016): centre and
  scale each column (standard deviation with ``n - 1``), drop constant columns,
  then ``Z = X_std V D^(-1/2) = U D^(1/2)`` from the thin SVD ``X_std = U D V^T``.
- ``model="VVV"`` (Fraley, 1998): merging groups increases
  ``sum_k n_k log(det(W_k / n_k) + beta (tr W_k + alpha) / n_k)`` least, with
  ``beta = 1`` and ``alpha = tr(W) / (n p)`` of the transformed data (at least
  machine epsilon); ``det`` counts as 0 for groups with at most ``p`` rows.
  ``model="EII"`` is Ward's criterion, which mclust uses when there are no more
  rows than features.
- mclust's arithmetic for VVV (``hcvvv``): when it stores the triangular factor of a
  merged group's scatter it writes the factor's first row into every stored row, so
  each group but the latest enters later merges with a scatter rebuilt from that one
  row (see :mod:`gaussmix.kernels._hc`). Its trees are the criterion's only while
  the groups are small: on mclust's ``wreath`` data the last three merges differ,
  and so do the cuts into 2 and 3 groups. ``exact=False`` (the default) reproduces
  mclust's costs; ``exact=True`` merges by the criterion itself.
- Every row starts as its own group (duplicated rows too). Ties go to the last
  pair in mclust's order of group slots, and merges are reported as mclust's
  ``hcPairs`` (the smallest row index of each group). Cutting at ``k`` groups
  numbers them by their first row, as ``hclass`` does.
- Costs equal in real arithmetic (data on a grid, duplicated rows) come out a few
  ulps apart, and which is lower depends on the CPU and the BLAS; so merges whose
  costs agree to ``TIE_RTOL`` of their magnitude count as tied (mclust's Fortran
  lets its own rounding pick), and the tree does not depend on the rounding.
- Data with more rows than ``subset`` (2000, ``mclust.options("subset")``) are
  clustered on a uniform random subset of that many rows.

The agglomeration runs in the compiled kernels (:mod:`gaussmix.kernels._hc`).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils import check_array, check_random_state

from ._qclass import QuantileClasses
from ._validation import check_option, check_sample_weight, check_scalar_param
from .backends import dask_rows, is_dask_collection, resolve
from .exceptions import InvalidParameterError
from .io import DataSource
from .kernels import hc_agglomerate

__all__ = [
    "HC_MODELS",
    "HC_USES",
    "SUBSET_ROWS",
    "TIE_RTOL",
    "HCTree",
    "hc_transform",
    "hc_tree",
    "mclust_start",
    "start_partitions",
]

HC_MODELS = ("VVV", "EII")
HC_USES = ("SVD", "STD", "VARS")

# mclust.options("subset"): the largest number of rows clustered.
SUBSET_ROWS = 2000

# The tree stores a cost for every pair of groups: n (n - 1) / 2 floats, 1.6 GB here.
_MAX_ROWS = 20_000

# mclust's floor for alpha (EPSMAX in hcVVV).
_EPS = float(np.finfo(np.float64).eps)

# Merges whose costs agree to this fraction of their magnitude are tied (see
# gaussmix.kernels._hc). On iris, costs computed from mclust's transform (R's LAPACK)
# and from ours differ by at most 1.3e-15 of it; the closest distinct costs met in
# the trees of tests/data/mclust_hc.json differ by 1.6e-11 of it.
TIE_RTOL = 1e-13

# A column whose standard deviation is below this times its mean is constant up to
# the round-off of its mean (100 copies of 0.1 have a standard deviation of ~1e-17).
_CONSTANT_RTOL = 1e3 * _EPS


@dataclass(frozen=True, repr=False, eq=False)
class HCTree:
    """A model-based hierarchical clustering of some rows of a data set.

    Attributes
    ----------
    rows : ndarray of shape (n_leaves,)
        Sorted indices, into the data given to :func:`hc_tree`, of the rows the tree
        clusters (all rows, or a random subset; rows of zero weight are left out).
    merges : ndarray of shape (n_leaves - 1, 2)
        Merge ``s`` joins the groups whose smallest leaf indices (positions in
        ``rows``) are ``merges[s, 0] < merges[s, 1]``: mclust's ``hcPairs``, 0-based.
    costs : ndarray of shape (n_leaves - 1,)
        The increase of the criterion made by each merge.
    n_samples : int
        Number of rows of the data the tree was built from.
    model : str
        The criterion, ``"VVV"`` or ``"EII"``.
    use : str
        The transformation of the data, ``"SVD"``, ``"STD"`` or ``"VARS"``.
    exact : bool
        Whether VVV merges were priced by the criterion itself rather than as
        mclust computes them.
    """

    rows: np.ndarray
    merges: np.ndarray
    costs: np.ndarray
    n_samples: int
    model: str
    use: str
    exact: bool = False

    @property
    def n_leaves(self) -> int:
        """Number of rows clustered."""
        return int(self.rows.shape[0])

    def labels(self, n_clusters: int) -> np.ndarray:
        """The partition of the leaves into ``n_clusters`` groups.

        Parameters
        ----------
        n_clusters : int
            Between 1 and ``n_leaves``.

        Returns
        -------
        labels : ndarray of shape (n_leaves,)
            The group of each row in ``rows``, numbered ``0..n_clusters - 1`` in the
            order of the groups' first rows (mclust's ``hclass``, 0-based).
        """
        check_scalar_param(n_clusters, "n_clusters", Integral, minimum=1)
        if n_clusters > self.n_leaves:
            raise ValueError(
                f"n_clusters={n_clusters} exceeds the {self.n_leaves} rows the tree "
                "clusters; cut it at fewer groups, or build it on more rows (subset)."
            )
        n_merges = self.n_leaves - n_clusters
        # Each merge points the larger representative at the smaller one, which
        # stays its group's representative; following the pointers gives the group.
        parent = np.arange(self.n_leaves)
        parent[self.merges[:n_merges, 1]] = self.merges[:n_merges, 0]
        while True:
            hop = parent[parent]
            if np.array_equal(hop, parent):
                break
            parent = hop
        # Representatives are first rows, so sorted representatives are in the order
        # of first appearance.
        return np.unique(parent, return_inverse=True)[1].reshape(-1)

    def __repr__(self) -> str:
        return (
            f"HCTree(n_leaves={self.n_leaves}, n_samples={self.n_samples}, "
            f"model={self.model!r}, use={self.use!r}, exact={self.exact!r})"
        )


def hc_tree(
    X,
    sample_weight=None,
    *,
    model: str = "VVV",
    use: str = "SVD",
    subset: int | None = SUBSET_ROWS,
    random_state=None,
    exact: bool = False,
) -> HCTree:
    """Model-based agglomerative hierarchical clustering, as mclust's ``hc``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataSource
        The data. A data file opened with :func:`gaussmix.open_data` is read once,
        for the rows clustered.
    sample_weight : array-like of shape (n_samples,), default=None
        Frequency weights. mclust's criterion is unweighted; here a row of weight
        ``w`` counts as ``w`` coincident rows (a group's count, mean and scatter are
        weighted), after rescaling the weights of the clustered rows to a mean of 1
        so the tree does not depend on their scale. Rows of zero weight are left
        out. All weights equal gives mclust's tree.
    model : {"VVV", "EII"}, default="VVV"
        The criterion: mclust's regularised VVV (volume, shape and orientation free)
        or EII (Ward's). mclust uses EII when there are no more rows than features.
    use : {"SVD", "STD", "VARS"}, default="SVD"
        The data the criterion sees: mclust's scaled SVD transformation (the
        default of ``mclust.options("hcUse")``), the standardised columns, or the
        columns as given.
    subset : int or None, default=2000
        Cluster a uniform random subset of this many rows when there are more (rows
        of positive weight); None clusters every row. The memory needed grows with
        the square of the number of rows clustered.
    random_state : int, RandomState instance or None, default=None
        Draws the subset; not used when every row is clustered.
    exact : bool, default=False
        With ``model="VVV"``: False prices merges as mclust 6.0.0's Fortran does
        (groups other than the latest enter with a scatter rebuilt from the first
        row of their stored factor), which gives mclust's trees; True prices them by
        the criterion above. The two agree while groups are small and can part
        near the top of the tree. Ignored by ``"EII"``.

    Returns
    -------
    HCTree
        Cut it at ``k`` groups with :meth:`HCTree.labels`; :attr:`HCTree.rows`
        says which rows of ``X`` it clusters.

    Notes
    -----
    The tree is built in O(n^2 p^3) time and O(n^2) memory for n rows clustered
    and p columns of the transformed data: 2000 rows of 5 features take a fraction
    of a second.

    A subset keeps its rows in the data's order (mclust keeps them in the order
    drawn); the order matters only to tied merges.

    References
    ----------
    C. Fraley (1998). Algorithms for model-based Gaussian hierarchical clustering.
    SIAM Journal on Scientific Computing 20:270-281.

    L. Scrucca and A. E. Raftery (2016). Improved initialisation of model-based
    clustering using Gaussian hierarchical partitions. Advances in Data Analysis
    and Classification 9:447-460.
    """
    check_option(model, "model", HC_MODELS)
    check_option(use, "use", HC_USES)
    if not isinstance(exact, bool | np.bool_):
        raise InvalidParameterError(f"exact must be True or False; got {exact!r}.")
    if subset is not None:
        check_scalar_param(subset, "subset", Integral, minimum=2)
    X_rows, weight_rows, rows, n_samples = _clustered_rows(X, sample_weight, subset, random_state)
    return build_tree(
        X_rows,
        weight_rows,
        rows=rows,
        n_samples=n_samples,
        model=model,
        use=use,
        exact=bool(exact),
    )


def mclust_start(X, sample_weight=None, *, random_state=None) -> HCTree | QuantileClasses:
    """mclust's starting partitions for every number of groups, as ``mclustBIC``'s.

    The rows are those :func:`hc_tree` clusters (a random subset of 2000 when there
    are more); see :func:`start_partitions`.
    """
    X_rows, weight_rows, rows, n_samples = _clustered_rows(
        X, sample_weight, SUBSET_ROWS, random_state
    )
    return start_partitions(X_rows, weight_rows, rows=rows, n_samples=n_samples)


def start_partitions(
    X_rows: np.ndarray, sample_weight: np.ndarray | None, *, rows: np.ndarray, n_samples: int
) -> HCTree | QuantileClasses:
    """mclust's starting partitions of the rows ``X_rows``, cut with ``.labels(k)``.

    One feature: mclust's quantile classes (``qclass``; the weights only choose the
    rows, the quantiles are unweighted), unless the feature is constant, which has no
    quantile classes (mclust's ``qclass`` never returns) and gets the tree. More: the
    VVV tree when there are more rows than features, else the EII tree (mclust's rule).
    """
    if X_rows.shape[1] == 1:
        values = np.asarray(X_rows, dtype=np.float64)[:, 0]
        if values.min() < values.max():
            return QuantileClasses(np.asarray(rows, dtype=np.intp), values, int(n_samples))
    model = "VVV" if X_rows.shape[0] > X_rows.shape[1] else "EII"
    return build_tree(X_rows, sample_weight, rows=rows, n_samples=n_samples, model=model)


def _clustered_rows(X, sample_weight, subset, random_state):
    """The rows to cluster: (their data, their weights, their indices, n_samples)."""
    if isinstance(X, DataSource):
        n_samples, take = X.n_rows, X.read_rows
    elif is_dask_collection(X):
        # The rows stay on the cluster; those of the subset are gathered.
        backend = resolve(dask_rows(X), None, n_components=1)
        n_samples = backend.n_rows

        def take(rows):
            return backend.take(rows)[0]

        if is_dask_collection(sample_weight):
            # Which rows may be drawn depends on every weight: gathered, 8 bytes a row.
            sample_weight = np.asarray(sample_weight)
    else:
        X = check_array(X, dtype=[np.float64, np.float32])
        n_samples = X.shape[0]

        def take(rows):
            return X[rows]

    weight = check_sample_weight(sample_weight, n_samples, 1)
    rows = sample_rows(n_samples, weight, subset, check_random_state(random_state))
    weight_rows = None if weight is None else weight[rows]
    return take(rows), weight_rows, rows, n_samples


def sample_rows(
    n_samples: int,
    sample_weight: np.ndarray | None,
    subset: int | None,
    random_state: np.random.RandomState,
) -> np.ndarray:
    """Sorted indices of the rows to cluster: every row of positive weight, or a
    uniform random ``subset`` of them (``random_state`` is used only then)."""
    # np.asarray: weights held by Dask are computed here (they decide the candidates).
    candidates = None if sample_weight is None else np.flatnonzero(np.asarray(sample_weight) > 0)
    n_candidates = n_samples if candidates is None else candidates.size
    if subset is None or n_candidates <= subset:
        return np.arange(n_samples) if candidates is None else candidates
    if n_candidates <= 4 * subset:
        picks = np.sort(random_state.permutation(n_candidates)[:subset])
    else:
        # Redraw until distinct: no permutation of all the rows.
        picks = np.unique(random_state.randint(0, n_candidates, size=subset))
        while picks.size < subset:
            extra = random_state.randint(0, n_candidates, size=subset - picks.size)
            picks = np.unique(np.concatenate([picks, extra]))
    return picks if candidates is None else candidates[picks]


def build_tree(
    X_rows: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    rows: np.ndarray,
    n_samples: int,
    model: str = "VVV",
    use: str = "SVD",
    exact: bool = False,
) -> HCTree:
    """The tree of the rows ``X_rows`` (the rows ``rows`` of an ``n_samples``-row set)."""
    n_leaves = X_rows.shape[0]
    if n_leaves > _MAX_ROWS:
        raise ValueError(
            f"hc would cluster {n_leaves} rows, which needs {n_leaves**2 * 4 / 1e9:.1f} GB "
            f"for the costs of all pairs; cluster a random subset (subset={SUBSET_ROWS}) "
            f"or at most {_MAX_ROWS} rows."
        )
    weight = _unit_mean(sample_weight, n_leaves)
    Z = hc_transform(X_rows, use, weight)
    if Z.shape[1] == 0:
        Z = np.zeros((n_leaves, 1))  # every column constant: any grouping fits as well
    centred = Z - weight @ Z / max(n_leaves, 1)
    total = float(weight @ np.einsum("ij,ij->i", centred, centred))
    alpha = max(total / (max(n_leaves, 1) * Z.shape[1]), _EPS)

    agglomerate, MODEL_CODES = hc_agglomerate()
    merges, costs = agglomerate(
        np.ascontiguousarray(Z, dtype=np.float64),
        weight,
        MODEL_CODES[model],
        alpha,
        1.0,
        TIE_RTOL,
        not exact,
    )
    return HCTree(
        rows=np.asarray(rows, dtype=np.intp),
        merges=merges.astype(np.intp),
        costs=costs,
        n_samples=int(n_samples),
        model=model,
        use=use,
        exact=exact,
    )


def hc_transform(X, use: str = "SVD", sample_weight=None) -> np.ndarray:
    """The data as mclust's hierarchical clustering sees them (``hcUse``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    use : {"SVD", "STD", "VARS"}, default="SVD"
        ``"VARS"``: the columns as given. ``"STD"``: centred and divided by their
        standard deviation (``n - 1`` in the denominator), constant columns dropped.
        ``"SVD"``: the standardised ``X_std = U D V^T`` (thin SVD) mapped to
        ``X_std V D^(-1/2) = U D^(1/2)``: rotated to its principal axes, each scaled
        by the square root of its singular value (a zero one gives a zero column).
        Equal rows give equal rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Positive weights: means, standard deviations and the SVD are those of the
        weighted rows (weights rescaled to a mean of 1).

    Returns
    -------
    Z : ndarray of shape (n_samples, n_columns)
        ``n_columns`` is ``n_features`` for ``"VARS"``, the number of non-constant
        columns ``q`` for ``"STD"`` and ``min(n_samples, q)`` for ``"SVD"``.
    """
    check_option(use, "use", HC_USES)
    X = np.asarray(X, dtype=np.float64)
    n_samples = X.shape[0]
    if use == "VARS":
        return X.copy()
    weight = _unit_mean(sample_weight, n_samples)
    if n_samples < 2:
        return np.zeros((n_samples, 0))
    mean = weight @ X / n_samples
    centred = X - mean
    sd = np.sqrt(weight @ (centred * centred) / (n_samples - 1))
    keep = sd > _CONSTANT_RTOL * np.abs(mean)
    standard = centred[:, keep] / sd[keep]
    if use == "STD":
        return standard
    root = np.sqrt(weight)[:, None]
    _, singular, Vt = np.linalg.svd(root * standard, full_matrices=False)
    # X_std V D^(-1/2) (mclust's formula), each entry summed in a fixed order rather
    # than by the BLAS: equal rows map to equal rows (U's rows need not be equal), so
    # merges of duplicated rows tie exactly. A zero singular value gives a zero column.
    scale = np.zeros_like(singular)
    positive = singular > 0
    scale[positive] = 1.0 / np.sqrt(singular[positive])
    projection = Vt.T * scale
    Z = np.zeros((n_samples, projection.shape[1]))
    for k in range(projection.shape[0]):
        Z += standard[:, k, None] * projection[k]
    return Z


def _unit_mean(sample_weight, n_rows: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n_rows)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n_rows,) or not np.all(weight > 0):
        raise ValueError("hc needs one positive weight per row clustered.")
    return weight * (n_rows / weight.sum())
