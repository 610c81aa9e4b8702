"""Outlier detection on a fitted Gaussian mixture.

:class:`OutlierDetector` scores each point by its log-density under a mixture it
fits (choosing the number of components, and optionally the covariance model,
by BIC as :func:`~gaussmix.select_model` does), and flags the points below a
threshold: the ``contamination`` quantile of the training scores, or, with
mclust's noise component (:mod:`gaussmix.anomaly._noise`), the boundary where a
point is more likely noise than cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral, Real
from types import MappingProxyType
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _validation as check
from .._fit import check_mixture_params, set_dask_features
from .._grid import CRITERIA, component_counts, model_names
from .._mixture import GaussianMixture
from .._selection import select_model
from ..backends import checked_weight, dask_rows, is_dask_collection
from ..covariance import get_covariance_model
from ..exceptions import InvalidParameterError
from ..io import DataSource
from ._dask_threshold import dask_weighted_threshold
from ._noise import NoiseProblem, fit_noise_model, noise_boundary, select_noise_model

__all__ = ["AUTO_COMPONENTS", "OutlierDetector", "check_detector_params", "weighted_threshold"]

# Candidate numbers of components for n_components="auto": mclust's default G = 1:9.
AUTO_COMPONENTS = range(1, 10)


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

    # What a model file keeps of a fitted detector besides its parameters (see
    # gaussmix.persistence): the fitted attributes by kind, and those it may lack.
    saved_attributes: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "mixture_": "estimator",
            "offset_": "float",
            "noise_weight_": "float",
            "noise_log_volume_": "float",
            "n_features_in_": "int",
            "feature_names_in_": "strings",
        }
    )
    optional_saved_attributes: ClassVar[tuple[str, ...]] = (
        "feature_names_in_",
        "noise_weight_",
        "noise_log_volume_",
    )

    @classmethod
    def check_saved_attributes(cls, params: dict, attributes: dict) -> None:
        """Raise ValueError unless an OutlierDetector's fitted attributes are consistent.

        ``mixture_`` (already validated as a mixture of its own) must be a
        GaussianMixture with ``n_features_in_`` features, and with the detector's
        ``n_components`` and ``covariance_type`` when those name one model;
        ``noise_weight_`` (in [0, 1)) and ``noise_log_volume_`` (finite) are there
        exactly when ``noise`` is True; ``offset_`` is a number, finite unless the
        noise component's boundary puts it at -inf (``contamination="auto"`` with a
        noise weight of zero), and that boundary when ``contamination="auto"``.
        """
        mixture = attributes["mixture_"]
        n_features = attributes["n_features_in_"]
        if type(mixture) is not GaussianMixture:
            raise ValueError(
                f"mixture_ should be a GaussianMixture; got {type(mixture).__name__}."
            )
        if mixture.n_features_in_ != n_features:
            raise ValueError(
                f"mixture_ has {mixture.n_features_in_} features but n_features_in_ is "
                f"{n_features}."
            )
        n_components = params["n_components"]
        if isinstance(n_components, int) and mixture.n_components != n_components:
            raise ValueError(
                f"mixture_ has {mixture.n_components} components but n_components is "
                f"{n_components}."
            )
        covariance_type = params["covariance_type"]
        if isinstance(covariance_type, str) and covariance_type != "auto":
            wanted = get_covariance_model(covariance_type).name
            if get_covariance_model(mixture.covariance_type).name != wanted:
                raise ValueError(
                    f"mixture_ has covariance_type {mixture.covariance_type!r} but the detector's "
                    f"is {covariance_type!r}."
                )
        noise_names = ("noise_weight_", "noise_log_volume_")
        present = [name for name in noise_names if name in attributes]
        if params["noise"] and len(present) != 2:
            raise ValueError("noise=True but noise_weight_ or noise_log_volume_ is missing.")
        if not params["noise"] and present:
            raise ValueError(f"noise=False but {', '.join(present)} is present.")
        if params["noise"]:
            weight, log_volume = attributes["noise_weight_"], attributes["noise_log_volume_"]
            if not 0 <= weight < 1:
                raise ValueError(f"noise_weight_ should be in [0, 1); got {weight!r}.")
            if not math.isfinite(log_volume):
                raise ValueError(f"noise_log_volume_ should be finite; got {log_volume!r}.")
        offset = attributes["offset_"]
        if params["contamination"] == "auto":
            boundary = noise_boundary(weight, log_volume)
            if not (offset == boundary or abs(offset - boundary) <= 1e-12 * abs(boundary)):
                raise ValueError(
                    f"offset_ should be the noise boundary {boundary!r} for contamination='auto'; "
                    f"got {offset!r}."
                )
        elif not math.isfinite(offset):
            raise ValueError(f"offset_ should be finite; got {offset!r}.")
        names = attributes.get("feature_names_in_")
        if names is not None and names.shape != (n_features,):
            raise ValueError(
                f"feature_names_in_ should hold n_features_in_ = {n_features} names; "
                f"got {names.shape[0]}."
            )

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
            Training data, in memory (an array or a DataFrame), or a Dask array or
            DataFrame with ``noise=False``: the rows stay on the cluster, and the
            threshold, the same as in memory, is found there by weighted histograms
            that narrow down to at most 100,000 scores gathered to the client.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights; None gives every row weight 1.

        Returns
        -------
        self : OutlierDetector
            The fitted detector.
        """
        ks, models, search = check_detector_params(self)
        if isinstance(X, DataSource):
            raise TypeError(
                "OutlierDetector needs its training data in memory (an array or a "
                "DataFrame): the threshold is a quantile of every training score. Fit a "
                "GaussianMixture on the file, or load a sample of its rows."
            )
        on_cluster = is_dask_collection(X)
        if on_cluster:
            if self.noise:
                raise ValueError(
                    "OutlierDetector(noise=True) needs its training data in memory: the "
                    "noise component starts from a nearest-neighbour clean-up of every "
                    "row. Use noise=False with a contamination fraction on a Dask "
                    "collection, or fit on a sample of its rows."
                )
            X = dask_rows(X).checked()
            set_dask_features(self, X)
            weight = checked_weight(sample_weight, X.row_chunks, 1)
        else:
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
            self.offset_ = noise_boundary(self.noise_weight_, self.noise_log_volume_)
        elif on_cluster:
            self.offset_ = dask_weighted_threshold(scores, weight, self.contamination)
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
        problem = NoiseProblem.from_data(X, weight, settings, rng)
        self.noise_log_volume_ = problem.log_volume
        seeds = {k: int(rng.randint(np.iinfo(np.int32).max)) for k in ks}
        if not search:
            k = ks[0]
            self.mixture_, self.noise_weight_ = fit_noise_model(problem, k, models[0], seeds[k])
            return
        selection, noise_weights = select_noise_model(
            problem, ks, models, self.criterion, seeds, self.n_jobs
        )
        self.selection_ = selection
        self.mixture_ = selection.best_estimator_
        best = selection.best_params_
        self.noise_weight_ = noise_weights[best["n_components"], best["covariance_type"]]

    # --------------------------------------------------------------- inference

    def _validate(self, X):
        check_is_fitted(self)
        if is_dask_collection(X):
            return X  # the mixture checks its features; its scores stay lazy
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
        log_odds = self.score_samples(X) - noise_boundary(
            self.noise_weight_, self.noise_log_volume_
        )
        # 1 / (1 + exp(log_odds)) without overflow for large log-odds.
        return np.exp(-np.logaddexp(0, log_odds))


def check_detector_params(detector: OutlierDetector) -> tuple[list[int], list[str], bool]:
    """Raise InvalidParameterError unless the detector's parameters are valid.

    Returns
    -------
    ks : list of int
        The numbers of components to fit.
    models : list of str
        The covariance models to fit.
    search : bool
        Whether there is a choice to make among fits.
    """
    check.check_bool_param(detector.noise, "noise")
    contamination = detector.contamination
    if isinstance(contamination, str):
        if contamination != "auto":
            raise InvalidParameterError(
                f"contamination must be a float in (0, 0.5] or 'auto'; got {contamination!r}."
            )
        if not detector.noise:
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
    check.check_option(detector.criterion, "criterion", CRITERIA)
    if detector.mixture is not None and not isinstance(detector.mixture, GaussianMixture):
        raise InvalidParameterError(
            "mixture must be a gaussmix.GaussianMixture (a template for the settings of "
            f"each fit) or None; got {type(detector.mixture).__name__}."
        )
    if detector.mixture is not None:
        check_mixture_params(detector.mixture)
    n_components = detector.n_components
    if isinstance(n_components, str) and n_components == "auto":
        ks, search = list(AUTO_COMPONENTS), True
    elif isinstance(n_components, Integral) and not isinstance(n_components, bool):
        ks, search = component_counts(n_components), False
    elif isinstance(n_components, Iterable) and not isinstance(n_components, str):
        ks, search = component_counts(n_components), True
    else:
        raise InvalidParameterError(
            "n_components must be 'auto', a positive integer or an iterable of positive "
            f"integers (e.g. range(1, 6)); got {n_components!r}."
        )
    covariance_type = detector.covariance_type
    if isinstance(covariance_type, str):
        if covariance_type == "auto":
            models, many = model_names("all"), True
        else:
            # Validated, but kept as spelled for a single fit ("full" stays "full").
            model_names(covariance_type)
            models, many = [covariance_type], False
    elif isinstance(covariance_type, Sequence):
        models, many = model_names(list(covariance_type)), True
    else:
        raise InvalidParameterError(
            "covariance_type must be a covariance model name, a sequence of names or "
            f"'auto'; got {covariance_type!r}."
        )
    if detector.n_jobs is not None:
        check.check_scalar_param(detector.n_jobs, "n_jobs", Integral)
    return ks, models, search or many or len(ks) > 1 or len(models) > 1


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
