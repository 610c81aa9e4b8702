"""Outlier detection on a fitted Gaussian mixture, with mclust's uniform noise component.

:class:`OutlierDetector` scores each point by its log-density under a mixture it
fits (choosing the number of components, and optionally the covariance model,
by BIC as :func:`~gaussmix.select_model` does), and flags the points below a
threshold: the ``contamination`` quantile of the training scores, or, with the
noise component, the boundary where a point is more likely noise than cluster.

The noise component is mclust's (Banfield & Raftery 1993; Fraley & Raftery
1998): a uniform density ``1/V`` over the data's hypervolume ``V`` joins the
Gaussians as one more mixture component with its own weight. EM with it is the
ordinary loop of :func:`gaussmix._em.fit_em` (``log_volume=``): the kernels add
the constant density to each row's sum and the Gaussian statistics leave out each
row's noise share, so nothing else changes. As mclust, the fit starts from an
initial guess of which points are noise; here that guess is Byers & Raftery's
nearest-neighbour clutter removal (:func:`nn_clean`), which mclust's
documentation recommends for this purpose (``prabclus::NNclean``).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Iterable, Sequence
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as check
from ._em import MixtureParams, fit_em, m_step
from ._init import partition_stats
from ._kmeans import kmeans_labels
from ._mixture import GaussianMixture, _warn_repairs
from ._selection import (
    CRITERIA,
    TABLE_COLUMNS,
    ModelSelection,
    _component_counts,
    _model_names,
    select_model,
)
from ._threads import get_num_threads
from .backends import thread_limit
from .exceptions import InvalidParameterError
from .io import DataSource
from .kernels import get_kernel

__all__ = ["OutlierDetector", "log_hypervolume", "nn_clean"]

# Candidate numbers of components for n_components="auto": mclust's default G = 1:9.
AUTO_COMPONENTS = range(1, 10)

# The noise fit's initial labelling looks at no more than this many rows (a
# uniform random sample of them): nearest-neighbour distances cost O(n^2 D) in
# high dimension, and a sample of this size tells scattered points from
# clusters as well as all rows would (every distance scales alike).
NN_CLEAN_MAX_ROWS = 20_000

# Neighbours used by nn_clean: mclust's documentation uses NNclean(x, k = 5).
NN_CLEAN_NEIGHBOURS = 5

# The noise component starts with at least this weight, so that EM can grow it
# when the initial labelling finds no noise (a weight of zero would stay zero).
MIN_INITIAL_NOISE = 0.01


class OutlierDetector(OutlierMixin, BaseEstimator):
    """Outlier detection by the density of a fitted Gaussian mixture.

    Follows scikit-learn's outlier-detector conventions (as
    :class:`~sklearn.ensemble.IsolationForest` and
    :class:`~sklearn.covariance.EllipticEnvelope`): :meth:`fit`, :meth:`predict`
    (+1 inlier, -1 outlier), :meth:`decision_function` (negative for outliers),
    :meth:`score_samples` (higher is more normal) and ``offset_`` with
    ``decision_function(X) == score_samples(X) - offset_``.

    The score is the log-density of each point under a
    :class:`~gaussmix.GaussianMixture` fitted to the training data. Unlike a
    single Gaussian envelope it follows data made of several clusters of
    different shapes, so points between clusters are scored as the outliers
    they are.

    Parameters
    ----------
    n_components : "auto", int or iterable of int, default="auto"
        Number of mixture components. An integer fits that many; an iterable
        (``range(1, 6)``) is searched by ``criterion``; ``"auto"`` searches
        ``range(1, 10)`` (mclust's default).
    covariance_type : str, sequence of str or "auto", default="full"
        Covariance model by scikit-learn or mclust name (``"full"``, ``"VVV"``,
        ``"diag"``, ...); a sequence, or ``"auto"`` for every model gaussmix
        has, is searched by ``criterion`` together with ``n_components``.
    contamination : float in (0, 0.5] or "auto", default=0.01
        Fraction of the training data to flag as outliers: ``offset_`` is the
        ``contamination`` quantile of the (weighted) training scores, so that at
        most that fraction of the training weight, and as much of it as ties
        allow, scores below it (midway between the highest flagged score and the
        lowest kept one, so that rounding cannot move a training row across
        it). ``"auto"`` needs ``noise=True``: then a point is
        an outlier when the noise component explains it better than the
        clusters do (noise posterior above 1/2), and the flagged fraction is the
        model's own estimate.
    noise : bool, default=False
        Add mclust's uniform noise component: a density ``1/V`` over the
        training data's hypervolume ``V`` (``noise_log_volume_``) with its own
        weight (``noise_weight_``), fitted by EM together with the Gaussians.
        Scattered outliers are then absorbed by it instead of inflating the
        clusters' covariances or claiming components of their own; use it when
        the data contain such outliers. See Notes.
    criterion : {"bic", "icl", "aic"}, default="bic"
        Chooses the model when there is a choice (lower is better).
    mixture : GaussianMixture or None, default=None
        Template for the other settings of every mixture fitted (``tol``,
        ``reg_covar``, ``max_iter``, ``n_init``, ``init_params``, ``kernel``,
        ``block_size``, ...). Its ``n_components``, ``covariance_type``,
        ``random_state`` and ``warm_start`` are not used. With None, one model
        is fitted with :class:`~gaussmix.GaussianMixture`'s defaults and a
        search uses :func:`~gaussmix.select_model`'s (``tol=1e-5``,
        ``max_iter=1000``).
    random_state : int, RandomState instance or None, default=None
        Seeds every fit (and the sample that the noise labelling looks at).
    n_jobs : int or None, default=None
        Models fitted at once during a search (joblib threads); ``-1`` uses
        every core.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture (with ``noise=True``, its Gaussian part, with weights
        that sum to one; the Gaussian components' weights in the whole model
        are ``(1 - noise_weight_) * mixture_.weights_``, and its
        ``lower_bound_`` is the whole model's).
    offset_ : float
        Threshold on :meth:`score_samples`; see ``contamination``.
    noise_weight_ : float
        Weight of the noise component (``noise=True`` only).
    noise_log_volume_ : float
        log V, the log-hypervolume of the training data over which the noise
        density is uniform (``noise=True`` only).
    selection_ : ModelSelection
        The search's table of models and criteria (when there was a search). Not
        kept in model files.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during ``fit``, when ``X`` had string column names.

    Notes
    -----
    With ``noise=True``:

    - V is mclust's ``hypvol``: the smaller of the volume of the data's bounding
      box and that of the box around the data in principal-component axes
      (:func:`log_hypervolume`). Every feature must vary.
    - The fit starts from Byers & Raftery's nearest-neighbour clutter removal
      (:func:`nn_clean`, k = 5 neighbours, on at most 20,000 sampled rows), the
      initial labelling mclust's documentation recommends: rows it calls noise
      start in the noise component (weight at least 1%), and k-means on the
      other rows starts the Gaussians. ``init_params`` and the ``*_init`` arrays
      of ``mixture`` are not used.
    - A search compares models by their criteria with the noise component
      included (its weight counts as one more parameter), as mclust does.
    - :meth:`score_samples` stays the log-density of the Gaussian part
      (``mixture_``): far from the clusters the density of the whole model
      flattens out at ``noise_weight_ / V`` and would no longer rank points,
      while that of the Gaussian part keeps falling. :meth:`noise_proba` gives
      each point's posterior probability of being noise.

    Sample weights are frequency weights, as in :class:`~gaussmix.GaussianMixture`:
    an integer weight is the same as repeating the row.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import OutlierDetector
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2)), [[4, 4]]])
    >>> detector = OutlierDetector(contamination=0.01, random_state=0).fit(X)
    >>> detector.mixture_.n_components
    2
    >>> int(detector.predict([[4.0, 4.0]])[0]), int(detector.predict([[8.0, 8.0]])[0])
    (-1, 1)
    """

    def __init__(
        self,
        n_components="auto",
        *,
        covariance_type="full",
        contamination=0.01,
        noise=False,
        criterion="bic",
        mixture=None,
        random_state=None,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.contamination = contamination
        self.noise = noise
        self.criterion = criterion
        self.mixture = mixture
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ checks

    def _check_params(self) -> tuple[list[int], list[str], bool]:
        """Validate the parameters; return (component counts, model names, search?)."""
        check.check_bool_param(self.noise, "noise")
        contamination = self.contamination
        if isinstance(contamination, str):
            if contamination != "auto":
                raise InvalidParameterError(
                    f"contamination must be a float in (0, 0.5] or 'auto'; got {contamination!r}."
                )
            if not self.noise:
                raise InvalidParameterError(
                    "contamination='auto' needs noise=True: without a noise component the "
                    "mixture has no boundary of its own between inliers and outliers. Set "
                    "noise=True, or give the fraction to flag (e.g. contamination=0.01)."
                )
        else:
            check.check_scalar_param(contamination, "contamination", Real)
            if not 0 < contamination <= 0.5:
                raise InvalidParameterError(
                    f"contamination must be in (0, 0.5]; got {contamination!r}. It is the "
                    "fraction of the training data to flag as outliers."
                )
        check.check_option(self.criterion, "criterion", CRITERIA)
        if self.mixture is not None and not isinstance(self.mixture, GaussianMixture):
            raise InvalidParameterError(
                "mixture must be a gaussmix.GaussianMixture (a template for the settings of "
                f"each fit) or None; got {type(self.mixture).__name__}."
            )
        if self.mixture is not None:
            self.mixture._check_params()
        n_components = self.n_components
        if isinstance(n_components, str) and n_components == "auto":
            ks, search = list(AUTO_COMPONENTS), True
        elif isinstance(n_components, Integral) and not isinstance(n_components, bool):
            ks, search = _component_counts(n_components), False
        elif isinstance(n_components, Iterable) and not isinstance(n_components, str):
            ks, search = _component_counts(n_components), True
        else:
            raise InvalidParameterError(
                "n_components must be 'auto', a positive integer or an iterable of positive "
                f"integers (e.g. range(1, 6)); got {n_components!r}."
            )
        covariance_type = self.covariance_type
        if isinstance(covariance_type, str):
            if covariance_type == "auto":
                models, many = _model_names("all"), True
            else:
                # Validated, but kept as spelled for a single fit ("full" stays "full").
                _model_names(covariance_type)
                models, many = [covariance_type], False
        elif isinstance(covariance_type, Sequence):
            models, many = _model_names(list(covariance_type)), True
        else:
            raise InvalidParameterError(
                "covariance_type must be a covariance model name, a sequence of names or "
                f"'auto'; got {covariance_type!r}."
            )
        if self.n_jobs is not None:
            check.check_scalar_param(self.n_jobs, "n_jobs", Integral)
        return ks, models, search or many or len(ks) > 1 or len(models) > 1

    def _mixture_settings(self, search: bool) -> dict:
        """GaussianMixture parameters for every fit, from the template."""
        if self.mixture is None:
            # k-means starts (GaussianMixture's default) rather than select_model's hc:
            # weights then act exactly as repeated rows, which hc's tree does not
            # guarantee (repeated rows start as separate groups there).
            return {"tol": 1e-5, "max_iter": 1000, "init_params": "kmeans"} if search else {}
        settings = self.mixture.get_params(deep=False)
        for name in ("n_components", "covariance_type", "random_state", "warm_start"):
            settings.pop(name)
        return settings

    # ----------------------------------------------------------------- fitting

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture (choosing it when asked) and set the outlier threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, in memory (an array or a DataFrame).
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights; None gives every row weight 1.

        Returns
        -------
        self : OutlierDetector
            The fitted detector.
        """
        ks, models, search = self._check_params()
        if isinstance(X, DataSource):
            raise TypeError(
                "OutlierDetector needs its training data in memory (an array or a "
                "DataFrame): the threshold is a quantile of every training score. Fit a "
                "GaussianMixture on the file, or load a sample of its rows."
            )
        X = validate_data(self, X, dtype=check.float_dtypes(X), ensure_min_samples=2)
        check.check_magnitude(X)
        weight = check.check_sample_weight(sample_weight, X.shape[0], 1)
        settings = self._mixture_settings(search)
        for name in ("selection_", "noise_weight_", "noise_log_volume_"):
            self.__dict__.pop(name, None)
        if self.noise:
            self._fit_noise(X, weight, ks, models, search, settings)
        elif search:
            init = {
                name: settings.pop(name) for name in ("init_params", "n_init") if name in settings
            }
            self.selection_ = select_model(
                X,
                n_components=ks,
                covariance_types=models,
                criterion=self.criterion,
                sample_weight=weight,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
                **init,
                **settings,
            )
            self.mixture_ = self.selection_.best_estimator_
        else:
            self.mixture_ = GaussianMixture(
                n_components=ks[0],
                covariance_type=models[0],
                random_state=self.random_state,
                **settings,
            ).fit(X, sample_weight=weight)
        scores = self.mixture_.score_samples(X)
        if self.contamination == "auto":
            self.offset_ = _noise_boundary(self.noise_weight_, self.noise_log_volume_)
        else:
            self.offset_ = weighted_threshold(scores, weight, self.contamination)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the detector and label the training rows: +1 inlier, -1 outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,), int
            Same as ``fit(X, sample_weight=sample_weight).predict(X)``.
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _fit_noise(self, X, weight, ks, models, search, settings) -> None:
        """Fit mixtures with a uniform noise component; keep the best one."""
        for name in ("weights_init", "means_init", "precisions_init"):
            settings.pop(name, None)  # the start is the initial noise labelling's
        rng = check_random_state(self.random_state)
        problem = _NoiseProblem.from_data(X, weight, settings, rng)
        self.noise_log_volume_ = problem.log_volume
        seeds = {k: int(rng.randint(np.iinfo(np.int32).max)) for k in ks}
        if not search:
            k = ks[0]
            self.mixture_, self.noise_weight_ = _fit_noise_model(problem, k, models[0], seeds[k])
            return
        selection, noise_weights = _select_noise_model(
            problem, ks, models, self.criterion, seeds, self.n_jobs
        )
        self.selection_ = selection
        self.mixture_ = selection.best_estimator_
        best = selection.best_params_
        self.noise_weight_ = noise_weights[best["n_components"], best["covariance_type"]]

    # --------------------------------------------------------------- inference

    def _validate(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=check.float_dtypes(X), reset=False)

    def score_samples(self, X):
        """Log-density of each sample under ``mixture_`` (higher is more normal).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``mixture_.score_samples(X)``, in the dtype of ``X`` and of the fit.
        """
        X = self._validate(X)
        return self.mixture_.score_samples(X)

    def decision_function(self, X):
        """Shifted score: negative for outliers, non-negative for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``. With ``noise=True`` and
            ``contamination="auto"`` it is the log-odds of cluster against noise.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each sample: +1 for an inlier, -1 for an outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,), int
            -1 where ``decision_function(X) < 0``, +1 elsewhere.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def noise_proba(self, X):
        """Posterior probability that each sample comes from the noise component.

        Only for ``noise=True``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples,)
            ``p0 / V / (p0 / V + (1 - p0) p(x))`` with ``p0 = noise_weight_`` and
            ``p(x)`` the density of ``mixture_``.
        """
        check_is_fitted(self)
        if not hasattr(self, "noise_weight_"):
            raise AttributeError(
                "noise_proba needs a noise component; fit with noise=True to have one."
            )
        log_odds = self.score_samples(X) - _noise_boundary(
            self.noise_weight_, self.noise_log_volume_
        )
        # 1 / (1 + exp(log_odds)) without overflow for large log-odds.
        return np.exp(-np.logaddexp(0, log_odds))


# ------------------------------------------------------------------ thresholds


def weighted_threshold(scores: np.ndarray, weight: np.ndarray | None, fraction: float) -> float:
    """A threshold that leaves at most ``fraction`` of the weight strictly below it.

    The rows flagged are those scoring below ``s``, the smallest score whose rows at
    or below it weigh more than ``fraction`` of the total: they weigh at most that
    fraction, and one more distinct score would take them past it. The threshold is
    the midpoint between ``s`` and the largest score below it (``s`` less half the
    gap to the next distinct score above when no row is flagged, or less 0.5
    when every score is equal), so that no
    training score lies on it: scoring a row again, in another batch of rows or
    with other BLAS kernels, moves its score by rounding and cannot move it across
    the threshold. It depends on the weighted distribution of the scores only, so
    an integer weight is the same as repeating the row.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
    weight : ndarray of shape (n_samples,) or None
    fraction : float in (0, 1)

    Returns
    -------
    threshold : float
    """
    if weight is not None:
        # Rows of zero weight are not in the data (as if removed).
        scores, weight = scores[weight > 0], weight[weight > 0]
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    if weight is None:
        cumulative = np.arange(1.0, ranked.shape[0] + 1)
    else:
        cumulative = np.cumsum(weight[order])
    # The relative slack keeps fraction * total, when it is a whole number of
    # rows (30 / 300 * 300 = 30.000000000000004), from tipping by rounding.
    target = fraction * cumulative[-1] * (1 + 1e-9)
    lowest_kept = ranked[np.argmax(cumulative > target)]
    below, above = ranked[ranked < lowest_kept], ranked[ranked > lowest_kept]
    if below.size:
        return float(below[-1] + (lowest_kept - below[-1]) / 2)
    gap = above[0] - lowest_kept if above.size else 1.0
    return float(lowest_kept - gap / 2)


def _noise_boundary(noise_weight: float, log_volume: float) -> float:
    """Score at which a point is as likely noise as cluster: log(p0 / (1 - p0)) - log V."""
    with np.errstate(divide="ignore"):
        return float(np.log(noise_weight) - np.log1p(-noise_weight) - log_volume)


# ------------------------------------------------------------------- the noise


# A principal range below this fraction of the largest is zero up to rounding.
_FLAT = math.sqrt(np.finfo(np.float64).eps)


def log_hypervolume(X: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """log of mclust's ``hypvol``: the hypervolume of the data, for the noise density.

    The smaller of two box volumes: that of the bounding box of the data, and
    that of the bounding box of the data in its principal axes (the eigenvectors
    of the weighted covariance). Rows with zero weight are left out. When the
    data lie (to rounding) in a subspace, the principal-axes box has no volume
    and the bounding box is used alone.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    log_volume : float

    Raises
    ------
    ValueError
        If a feature is constant over the rows (the volume would be zero).
    """
    X = np.asarray(X, dtype=np.float64)
    weight = None
    if sample_weight is not None:
        keep = np.asarray(sample_weight) > 0
        X, weight = X[keep], np.asarray(sample_weight, dtype=np.float64)[keep]
    ranges = np.ptp(X, axis=0)
    if np.any(ranges <= 0):
        constant = np.flatnonzero(ranges <= 0).tolist()
        raise ValueError(
            f"noise=True needs every feature to vary, but feature(s) {constant} are constant "
            "over the training rows, so the data have no volume for the uniform noise "
            "density. Drop those features."
        )
    mean = np.average(X, axis=0, weights=weight)
    centred = X - mean
    weighted = centred if weight is None else centred * weight[:, None]
    _, axes = np.linalg.eigh(weighted.T @ centred)
    principal_ranges = np.ptp(centred @ axes, axis=0)
    box = float(np.sum(np.log(ranges)))
    # Data confined to a subspace (fewer rows than features, collinear features)
    # have a principal-axes box of no volume: a density of 1/0 would call every
    # point noise. The bounding box, mclust's other candidate, is then used alone.
    if X.shape[0] <= X.shape[1] or principal_ranges.min() <= _FLAT * principal_ranges.max():
        return box
    return min(box, float(np.sum(np.log(principal_ranges))))


def nn_clean(
    X: np.ndarray,
    sample_weight: np.ndarray | None = None,
    n_neighbors: int = NN_CLEAN_NEIGHBOURS,
    max_iter: int = 1000,
) -> np.ndarray:
    """Flag scattered points: Byers & Raftery's nearest-neighbour clutter removal.

    The distance ``D`` from each point to its k-th nearest neighbour is modelled
    as coming from two homogeneous Poisson processes, a dense one (the
    features: clusters) and a sparse one (the clutter): ``D^d`` is then a
    mixture of two gamma distributions of shape k, fitted by EM. Points that
    the sparse process explains better are clutter. This is
    ``prabclus::NNclean``, which mclust's documentation uses to start its noise
    component (Byers & Raftery 1998, JASA 93, 577-584).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
        Frequency weights: a row of weight w counts as w coincident points
        (exactly for integer weights). Rows of weight zero are never flagged.
    n_neighbors : int, default=5
        k.
    max_iter : int, default=1000
        EM iterations for the two-gamma mixture.

    Returns
    -------
    noise : ndarray of shape (n_samples,), bool
        True for the points judged clutter.
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    n_rows, n_features = X.shape
    noise = np.zeros(n_rows, dtype=bool)
    rows = np.arange(n_rows) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    weight = np.ones(rows.size) if sample_weight is None else np.asarray(sample_weight)[rows]
    if rows.size < 3:
        return noise
    n_query = min(n_neighbors + 1, rows.size)
    finder = NearestNeighbors(n_neighbors=n_query).fit(X[rows])
    distances, indices = finder.kneighbors(X[rows])
    # Each row's copies of itself (weight - 1 of them) lie at distance zero.
    counts = weight[indices]
    own = indices == np.arange(rows.size)[:, None]
    counts[own] = np.maximum(weight[indices[own]] - 1, 0)
    reached = np.cumsum(counts, axis=1) >= min(n_neighbors, weight.sum() - 1)
    column = np.where(reached.any(axis=1), np.argmax(reached, axis=1), n_query - 1)
    kth = distances[np.arange(rows.size), column]
    positive = kth[kth > 0]
    if positive.size == 0:
        return noise
    # Duplicated points have D = 0, which no gamma density of shape k > 1 allows.
    log_d = np.log(np.maximum(kth, positive.min()))
    # D^d spans hundreds of orders of magnitude in high dimension: work relative
    # to its median, clipped so that exp stays finite.
    log_y = np.clip(n_features * (log_d - np.median(log_d)), -700.0, 700.0)
    y = np.exp(log_y)
    clutter = _two_gamma_em(y, weight, n_neighbors, max_iter)
    noise[rows] = clutter
    return noise


def _two_gamma_em(y: np.ndarray, weight: np.ndarray, shape: int, max_iter: int) -> np.ndarray:
    """EM for a mixture of two gamma(shape, rate) laws; True where the low rate wins."""
    # Start: the largest 10% of the values in the sparse (low-rate) component.
    split = np.quantile(y, 0.9)
    sparse = (y > split).astype(np.float64)
    if not sparse.any():
        return np.zeros(y.shape, dtype=bool)
    previous = -np.inf
    total = weight.sum()
    rate_dense = rate_sparse = 1.0
    for _ in range(max_iter):
        dense_count = weight @ (1 - sparse)
        sparse_count = weight @ sparse
        if dense_count <= 0 or sparse_count <= 0:
            # One process explains every point: no clutter to tell apart.
            return np.zeros(y.shape, dtype=bool)
        proportion = sparse_count / total
        rate_dense = shape * dense_count / (weight @ ((1 - sparse) * y))
        rate_sparse = shape * sparse_count / (weight @ (sparse * y))
        # Terms common to both components (the y^(k-1) / Gamma(k)) cancel.
        log_dense = math.log1p(-proportion) + shape * math.log(rate_dense) - rate_dense * y
        log_sparse = math.log(proportion) + shape * math.log(rate_sparse) - rate_sparse * y
        log_total = np.logaddexp(log_dense, log_sparse)
        sparse = np.exp(log_sparse - log_total)
        likelihood = float(weight @ log_total)
        if abs(likelihood - previous) <= 1e-10 * abs(likelihood):
            break
        previous = likelihood
    if not np.isfinite(sparse).all():
        return np.zeros(y.shape, dtype=bool)
    # Label the component with the lower rate (larger distances) as clutter.
    if rate_sparse > rate_dense:
        sparse = 1 - sparse
    return sparse > 0.5


@dataclasses.dataclass(frozen=True)
class _NoiseProblem:
    """Everything the fits with a noise component share.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
    weight : ndarray of shape (n_samples,) or None
    log_volume : float
        log V of the uniform noise density.
    settings : dict
        GaussianMixture parameters of every fit.
    clean_rows : ndarray of int
        Sorted rows that start in the Gaussian components (those the initial
        labelling did not call noise, among the rows it looked at).
    start_total : float
        Weight of the rows looked at, clean and noise: the noise component starts
        with weight ``1 - weight(clean_rows) / start_total``.
    """

    X: np.ndarray
    weight: np.ndarray | None
    log_volume: float
    settings: dict
    clean_rows: np.ndarray
    start_total: float

    @classmethod
    def from_data(cls, X, weight, settings, rng) -> _NoiseProblem:
        """Label the initial noise (on a sample of rows when there are many)."""
        n_rows = X.shape[0]
        if n_rows > NN_CLEAN_MAX_ROWS:
            rows = np.sort(rng.choice(n_rows, size=NN_CLEAN_MAX_ROWS, replace=False))
        else:
            rows = np.arange(n_rows)
        looked_at = None if weight is None else weight[rows]
        clean_rows = rows[~nn_clean(X[rows], looked_at)]
        if weight is None:
            clean, total = float(clean_rows.size), float(rows.size)
        else:
            clean, total = float(weight[clean_rows].sum()), float(looked_at.sum())
        total = max(total, clean / (1 - MIN_INITIAL_NOISE))
        return cls(X, weight, log_hypervolume(X, weight), settings, clean_rows, total)

    def start_labels(self, k: int, random_state: np.random.RandomState) -> np.ndarray:
        """k-means labels of the clean rows, drawing from ``random_state``."""
        if self.clean_rows.size < k:
            raise ValueError(
                f"Only {self.clean_rows.size} rows are not initially labelled noise, fewer "
                f"than n_components = {k}; reduce n_components or give more rows."
            )
        weight = None if self.weight is None else self.weight[self.clean_rows]
        kernel = get_kernel(self.settings.get("kernel", "auto"))
        return kmeans_labels(
            self.X[self.clean_rows], weight, k, random_state, kernel, get_num_threads()
        )


def _fit_noise_model(problem: _NoiseProblem, k, name, seed, shared=None, *, quiet=False):
    """Fit K Gaussians plus the uniform noise component by EM.

    Parameters
    ----------
    problem : _NoiseProblem
    k : int
    name : str
        Covariance model.
    seed : int
        Seeds the starts: k-means on the clean rows.
    shared : (labels, state) or None
        The first start's labels, already computed from ``RandomState(seed)``, and
        that random state after computing them: the fit is then the same as
        without them.
    quiet : bool
        Do not warn about degenerate components or convergence.

    Returns
    -------
    mixture : GaussianMixture
        The Gaussian part, fitted, with weights renormalised to sum to one.
    noise_weight : float
    """
    gm = GaussianMixture(
        n_components=k, covariance_type=name, random_state=seed, **problem.settings
    )
    model = gm._check_params()
    ctx = gm._em_context(problem.X, problem.weight, model)
    n_starts = [0]

    def initialize():
        if shared is not None and n_starts[0] == 0:
            labels, state = shared
            ctx.random_state.set_state(state)
        else:
            labels = problem.start_labels(k, ctx.random_state)
        n_starts[0] += 1
        stats = partition_stats(
            ctx.backend, ctx.kernel, problem.clean_rows, labels, k, model.scatter
        )
        stats = dataclasses.replace(stats, weight_sum=problem.start_total)
        return m_step(stats, model, ctx.reg, ctx.eps10, ctx.scale, noise=True)

    result = fit_em(
        ctx.backend,
        ctx.kernel,
        model,
        initialize,
        n_init=gm.n_init,
        tol=gm.tol,
        max_iter=gm.max_iter,
        reg=ctx.reg,
        eps10=ctx.eps10,
        scale=ctx.scale,
        verbose=gm.verbose,
        verbose_interval=gm.verbose_interval,
        log_volume=problem.log_volume,
    )
    if not quiet:
        _warn_repairs(result.repairs, model)
        if not result.converged and gm.max_iter > 0:
            warnings.warn(
                "The best initialization of the model with a noise component did not "
                "converge. Increase max_iter or tol, through the mixture parameter "
                "(mixture=GaussianMixture(max_iter=...)).",
                ConvergenceWarning,
                stacklevel=4,
            )
    params = result.params
    gaussian = MixtureParams(
        params.weights / params.weights.sum(),
        params.means,
        params.covariances,
        params.precisions_chol,
    )
    gm._set_params(gaussian, model, problem.X.dtype)
    gm.n_features_in_ = problem.X.shape[1]
    gm.converged_ = result.converged
    gm.n_iter_ = result.n_iter
    gm.lower_bound_ = float(result.lower_bound)
    gm.lower_bounds_ = [float(b) for b in result.lower_bounds]
    return gm, float(params.noise_weight)


def _noise_criteria_terms(problem: _NoiseProblem, gm, noise_weight: float):
    """(n, sum w log p(x), sum w log max posterior) of a mixture with noise."""
    with np.errstate(divide="ignore"):
        log_noise = math.log(noise_weight) if noise_weight > 0 else -math.inf
    log_noise -= problem.log_volume
    log_gauss_weight = math.log1p(-noise_weight)
    log_prob, max_log_resp = [], []
    for block_log_prob, log_resp in gm._blocks_log_prob_resp(problem.X):
        gauss = log_gauss_weight + block_log_prob
        total = np.logaddexp(gauss, log_noise)
        log_prob.append(total)
        max_log_resp.append(np.maximum(gauss + np.max(log_resp, axis=1), log_noise) - total)
    log_prob, max_log_resp = np.concatenate(log_prob), np.concatenate(max_log_resp)
    weight = problem.weight
    if weight is None:
        return float(log_prob.shape[0]), float(log_prob.sum()), float(max_log_resp.sum())
    return float(weight.sum()), float(weight @ log_prob), float(weight @ max_log_resp)


def _select_noise_model(problem: _NoiseProblem, ks, models, criterion, seeds, n_jobs):
    """Every (K, covariance model) cell with the noise component, as mclust does.

    Returns the selection (criteria with the noise component included; its
    weight is one more parameter) and the noise weight of each cell.
    """
    import pandas as pd
    from joblib import Parallel, delayed

    # One starting partition per number of components, shared by the covariance
    # models: the one each cell would draw first from its own seed.
    shared = {}
    for k in ks:
        if problem.clean_rows.size >= k:
            random_state = np.random.RandomState(seeds[k])
            shared[k] = (problem.start_labels(k, random_state), random_state.get_state())
    cells = [(k, name) for k in ks for name in models]
    parallel = n_jobs not in (None, 1)

    def run(cell):
        k, name = cell
        began = time.perf_counter()
        try:
            with thread_limit(1 if parallel else None), warnings.catch_warnings():
                # Convergence is in the table and degenerate components are repaired,
                # as in select_model: one warning per cell would drown the user.
                warnings.simplefilter("ignore")
                gm, noise_weight = _fit_noise_model(
                    problem, k, name, seeds[k], shared.get(k), quiet=True
                )
                n, log_likelihood, max_log_resp = _noise_criteria_terms(problem, gm, noise_weight)
        except Exception as exc:
            row = (k, name, *([math.nan] * 7), False, 0, time.perf_counter() - began)
            return (*row, f"{type(exc).__name__}: {exc}"), None
        n_parameters = gm._n_parameters() + 1  # the noise weight
        bic = -2 * log_likelihood + n_parameters * math.log(n)
        icl = bic - 2 * max_log_resp
        aic = -2 * log_likelihood + 2 * n_parameters
        converged, n_iter = bool(gm.converged_), int(gm.n_iter_)
        seconds = time.perf_counter() - began
        row = (k, name, log_likelihood, n_parameters, bic, -bic, icl, -icl, aic)
        return (*row, converged, n_iter, seconds, ""), (gm, noise_weight)

    if parallel:
        outcomes = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(run)(c) for c in cells)
    else:
        outcomes = [run(c) for c in cells]
    table = pd.DataFrame([row for row, _ in outcomes], columns=list(TABLE_COLUMNS))
    fits = {cell: fit for cell, (_, fit) in zip(cells, outcomes, strict=True) if fit}
    ok = table[table["error"] == ""]
    if ok.empty:
        reasons = "; ".join(
            f"{r.covariance_type},{r.n_components}: {r.error}" for r in table.itertuples()
        )
        raise ValueError(f"every model with a noise component failed: {reasons}")
    best = ok.loc[ok[criterion].idxmin()]
    best_key = (int(best["n_components"]), str(best["covariance_type"]))
    selection = ModelSelection(
        table=table,
        criterion=criterion,
        best_estimator_=fits[best_key][0],
        best_params_={"n_components": best_key[0], "covariance_type": best_key[1]},
        estimators_={cell: fit[0] for cell, fit in fits.items()},
    )
    return selection, {cell: fit[1] for cell, fit in fits.items()}
