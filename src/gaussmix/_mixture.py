"""``GaussianMixture``: the scikit-learn drop-in on the sufficient-statistics engine."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from numbers import Integral
from types import MappingProxyType
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as check
from ._fit import fit_mixture, fitted_params, partial_fit_step
from .backends import dask_rows, is_dask_collection, resolve, weighted_sums
from .covariance import get_covariance_model
from .io import DataSource
from .kernels import get_kernel

__all__ = ["GaussianMixture", "criteria_terms", "n_free_parameters", "row_criteria_terms"]

# The attributes GaussianMixture.check_saved_attributes checks as arrays.
_SAVED_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by EM over sufficient statistics.

    A drop-in for :class:`sklearn.mixture.GaussianMixture`: the same parameters
    with the same defaults, the same fitted attributes and methods, and the same
    numbers from the same start. The EM runs as one pass over row blocks per
    iteration, accumulating per-component soft counts, means and centred scatter;
    no array of size ``n_samples x n_components`` is held beyond one block.

    Beyond scikit-learn: ``fit`` takes ``sample_weight``; ``reg_covar="auto"``
    scales the regularisation to each feature's variance; and where scikit-learn
    aborts with "ill-defined empirical covariance" the fit repairs the component
    and warns (:class:`gaussmix.DegenerateComponentWarning`).

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : str, default="full"
        Structure of the covariances: scikit-learn's ``"full"`` (each component
        its own general matrix), ``"tied"`` (one general matrix shared by all
        components), ``"diag"`` (each component its own diagonal matrix),
        ``"spherical"`` (each component a single variance), or any of mclust's 14
        models (Celeux & Govaert, 1995). These write each covariance as
        ``lambda_k D_k A_k D_k^T``, a volume ``lambda_k = det^(1/d)``, a diagonal
        shape ``A_k`` of determinant 1 and an orientation ``D_k`` (orthogonal),
        and name them by three letters for volume, shape and orientation: E
        (equal for all components), V (variable) or I (identity). ``"VVV"``,
        ``"EEE"``, ``"VVI"`` and ``"VII"`` are ``"full"``, ``"tied"``, ``"diag"``
        and ``"spherical"``. The shapes of ``covariances_``, ``precisions_``,
        ``precisions_cholesky_`` and ``precisions_init``:

        ===============================================  ======================================
        covariance_type                                  shape
        ===============================================  ======================================
        "spherical" (VII), "EII"                         (n_components,)
        "diag" (VVI), "EEI", "VEI", "EVI"                (n_components, n_features)
        "tied" (EEE)                                     (n_features, n_features)
        "full" (VVV), "VEE", "EVE", "VVE"                (n_components, n_features, n_features)
        "EEV", "VEV", "EVV"                              (n_components, n_features, n_features)
        ===============================================  ======================================

        A part shared by all components is stored in each component's entry (the
        rows of "EEI", say, are equal). VEI, VEE, EVE, VVE and VEV have no
        closed-form M-step: theirs iterates from the previous covariances (the
        MM algorithm of Browne & McNicholas (2014) for EVE and VVE), to a
        tolerance of 1e-8 and at most 100 iterations: a generalised EM step,
        which with ``reg_covar=0`` never lowers the likelihood (as for any EM,
        ``reg_covar > 0`` makes it EM for a regularised objective instead).
        ``bic`` and ``aic`` count mclust's free parameters.
    tol : float, default=1e-3
        EM stops when the mean log-likelihood changes by less than ``tol``.
    reg_covar : float or "auto", default=1e-6
        Non-negative finite value added to the diagonal of every covariance. ``"auto"``
        adds ``1e-6`` times each feature's (weighted) variance instead, so the
        regularisation follows the data's own scale (data with features of scale
        1e-6 or 1e9 then fit as well as standardised data). Precisely, ``n_k``
        times it is added to the diagonal of each component's scatter before the
        M-step: the same for the four scikit-learn models, and a prior that keeps
        the constraint of the others.
    max_iter : int, default=100
        The maximum number of EM iterations per initialisation.
    n_init : int, default=1
        The number of initialisations (per method of ``init_params``); the one with
        the best lower bound is kept.
    init_params : str or sequence of str, default="kmeans"
        How initial responsibilities are chosen: ``"kmeans"`` (hard k-means labels),
        ``"k-means++"`` (k-means++ seeds), ``"random"`` (random responsibilities),
        ``"random_from_data"`` (random data points as means), or mclust's start
        ``"hc"``: the partition into ``n_components`` groups of a model-based
        agglomerative hierarchical clustering (Fraley, 1998) of mclust's scaled SVD
        of the data, with the VVV criterion (EII when there are no more rows than
        features); see :func:`gaussmix.hc_tree`. As in mclust, ``"hc"`` clusters a
        uniform random subset of 2000 rows when there are more (the only use of
        ``random_state``; files opened with :func:`gaussmix.open_data` are read once
        for those rows), and EM starts from that partition's M-step on all rows. A
        list or tuple of methods, such as ``("hc", "kmeans")``, runs ``n_init``
        starts of each, in the order given, and keeps the best lower bound of all
        (:meth:`partial_fit` starts from the first). With ``sample_weight`` the
        k-means methods use the weights, ``"random_from_data"`` draws rows in
        proportion to their weight, and ``"hc"`` counts a row of weight w as w
        coincident rows (weights rescaled to a mean of 1; zero-weight rows left
        out).
    weights_init : array-like of shape (n_components,), default=None
        Initial weights; drawn with ``init_params`` when None.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means; drawn with ``init_params`` when None.
    precisions_init : array-like, default=None
        Initial precisions (inverse covariances); drawn with ``init_params`` when
        None. Shape ``(n_components,)`` for "spherical", ``(n_features, n_features)``
        for "tied", ``(n_components, n_features)`` for "diag" and
        ``(n_components, n_features, n_features)`` for "full"; the mclust models
        as in the table under ``covariance_type``. They need not satisfy the
        model's constraint: the first M-step imposes it.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` is then ignored).
    verbose : int, default=0
        1 prints each initialisation and iteration; 2 adds timings and the change
        of the log-likelihood.
    verbose_interval : int, default=10
        Iterations between two messages.
    block_size : int or None, default=None
        Rows per block of the EM pass; None chooses from the problem's shape. The
        result does not depend on it (to rounding).
    kernel : {"auto", "compiled", "numpy"}, default="auto"
        The E-step kernel: the compiled kernel (fused loops in C++, built with the
        package; ``"auto"``), or the NumPy kernel (BLAS products; the reference).
        ``"numba"``, the name of the kernels the compiled ones replaced, is
        accepted as another name for ``"compiled"``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Mixing proportions.
    means_ : ndarray of shape (n_components, n_features)
        Component means.
    covariances_ : ndarray
        Component covariances; shape by ``covariance_type`` (see there).
    precisions_ : ndarray
        Inverses of the covariances; same shape as ``covariances_``.
    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factors ``P`` of the precisions (``P @ P.T`` is
        the precision), or the square roots of diagonal/spherical precisions.
    converged_ : bool
        Whether the best initialisation converged.
    n_iter_ : int
        EM iterations run by the best initialisation.
    lower_bound_ : float
        Mean log-likelihood (weighted by ``sample_weight``) at the E-step of the
        last iteration of the best initialisation.
    lower_bounds_ : list of float
        ``lower_bound_`` at every iteration of the best initialisation.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during ``fit``, when ``X`` had string column names.

    Notes
    -----
    Arrays keep the input's floating dtype: float32 data give float32 attributes
    and outputs. Statistics are accumulated in float64 whatever the input dtype.

    Sample weights are frequency weights: an integer weight is the same as
    repeating the row, and a zero weight the same as removing it. ``score``,
    ``aic`` and ``bic`` take ``sample_weight`` too, with the number of samples
    taken as the sum of the weights.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.means_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> gm.predict([[0, 0], [12, 3]])
    array([1, 0])
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        block_size=None,
        kernel="auto",
        learning_decay=0.7,
        learning_offset=10.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.block_size = block_size
        self.kernel = kernel
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # What a model file keeps of a fitted mixture besides its parameters (see
    # gaussmix.persistence): the fitted attributes by kind, and those it may lack.
    saved_attributes: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "weights_": "array",
            "means_": "array",
            "covariances_": "array",
            "precisions_": "array",
            "precisions_cholesky_": "array",
            "converged_": "bool",
            "n_iter_": "int",
            "lower_bound_": "float",
            "lower_bounds_": "floats",
            "n_features_in_": "int",
            "feature_names_in_": "strings",
        }
    )
    optional_saved_attributes: ClassVar[tuple[str, ...]] = ("feature_names_in_",)

    @classmethod
    def check_saved_attributes(cls, params: dict, attributes: dict) -> None:
        """Raise ValueError unless a mixture's fitted attributes are valid and consistent.

        Checks one float dtype for all arrays; shapes from ``n_components``,
        ``n_features_in_`` and the covariance model's ``shape``; weights
        non-negative and summing to one; each covariance symmetric positive
        definite; ``precisions_cholesky_`` the Cholesky factor of its inverse and
        ``precisions_`` its product, to within what the dtype and the covariance's
        condition number allow; ``feature_names_in_`` one name per feature.

        Parameters
        ----------
        params : dict
            The estimator's (already valid) parameters; uses ``n_components`` and
            ``covariance_type``.
        attributes : dict
            Fitted attributes of the kinds in ``saved_attributes``.
        """
        n_components = int(params["n_components"])
        n_features = attributes["n_features_in_"]
        model = get_covariance_model(params["covariance_type"])
        arrays = {name: attributes[name] for name in _SAVED_ARRAYS}
        dtypes = {str(array.dtype) for array in arrays.values()}
        if len(dtypes) != 1:
            found = ", ".join(f"{name} {array.dtype}" for name, array in arrays.items())
            raise ValueError(f"the fitted arrays should share one dtype; found {found}.")
        if n_features < 1:
            raise ValueError(f"n_features_in_ should be at least 1; got {n_features}.")
        shapes = dict.fromkeys(_SAVED_ARRAYS, model.shape(n_components, n_features))
        shapes["weights_"] = (n_components,)
        shapes["means_"] = (n_components, n_features)
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise ValueError(
                    f"{name} should have shape {shape} for n_components={n_components}, "
                    f"n_features_in_={n_features} and covariance_type="
                    f"{params['covariance_type']!r}; got {arrays[name].shape}."
                )
        eps = float(np.finfo(arrays["weights_"].dtype).eps)
        weights = arrays["weights_"].astype(np.float64)
        if np.any(weights < 0):
            raise ValueError(f"weights_ should be non-negative; got {weights.min():g}.")
        # 1e-6: what weights_init may be off by (and with max_iter=0 it is weights_).
        if abs(weights.sum() - 1.0) > 1e-6 + 4 * n_components * eps:
            raise ValueError(f"weights_ should sum to 1; they sum to {weights.sum():.17g}.")
        model.check_saved(
            *(arrays[name].astype(np.float64) for name in _SAVED_ARRAYS[2:]),
            n_components,
            n_features,
            eps,
        )
        names = attributes.get("feature_names_in_")
        if names is not None and names.shape != (n_features,):
            raise ValueError(
                f"feature_names_in_ should hold n_features_in_ = {n_features} names; "
                f"got {names.shape[0]}."
            )

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model's parameters with the EM algorithm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataSource
            Training data: a NumPy array (any real dtype; integers become float64),
            a pandas or polars DataFrame, a (read-only) memory map, or a data file
            opened with :func:`gaussmix.open_data`, which is read block by block on
            every EM iteration, or a Dask array or DataFrame chunked by rows, whose
            passes run on its cluster (predictions on it are then lazy Dask arrays).
            With more than 100,000 rows the initialisation runs on a uniform random
            sample of 100,000 of them.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights; None gives every row weight 1.

        Returns
        -------
        self : GaussianMixture
            The fitted estimator.
        """
        fit_mixture(self, X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the model and return the component label of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Same as ``fit(X).predict(X)``.
        """
        fit_mixture(self, X, sample_weight)
        return self.predict(X)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one batch of a stream: one step of online EM.

        Stepwise EM (Cappé & Moulines, 2009): the batch's E-step statistics under
        the current parameters move running statistics by a step
        ``(learning_offset + t) ** -learning_decay`` for the t-th batch, and the
        M-step turns the running statistics into parameters. The first call starts
        from the fitted model if there is one (after :meth:`fit`), otherwise from
        ``init_params`` (or the ``*_init`` arrays) on the first batch, which then
        needs at least ``n_components`` rows.

        Unlike :meth:`fit`, each batch is seen once and only one EM step is made
        per batch, so the model follows the stream rather than converging on a
        fixed data set; on a stream from a fixed mixture it approaches the batch
        optimum as batches accumulate. ``lower_bound_`` is the mean log-likelihood
        of the latest batch under the parameters before its update, ``n_iter_``
        counts the batches, and ``converged_`` stays False.

        With the default schedule and start, batches of 500 rows drawn from a fixed
        4-component mixture bring the held-out log-likelihood within 1% of that of
        a batch fit after 10,000 rows, for every covariance type (tested).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture
        """
        partial_fit_step(self, X, sample_weight)
        return self

    def _check_features(self, rows, where: str, how_to_select: str) -> None:
        """Refuse ``rows`` (a DataSource or DaskRows) unlike the columns seen in fit."""
        if rows.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {rows.n_features} features, but GaussianMixture is expecting "
                f"{self.n_features_in_} features as input."
            )
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and rows.feature_names is not None:
            if list(fitted) != list(rows.feature_names):
                raise ValueError(
                    f"The columns of {where} ({list(rows.feature_names)}) differ from "
                    f"those seen in fit ({list(fitted)}); select them with {how_to_select}."
                )

    # --------------------------------------------------------------- inference

    def _validate_for_inference(self, X):
        check_is_fitted(self)
        if isinstance(X, DataSource):
            self._check_features(X, X.path, "open_data(..., columns=[...])")
            return X
        if is_dask_collection(X):
            rows = dask_rows(X)
            self._check_features(rows, "the Dask DataFrame", "X[[...]]")
            return rows
        return validate_data(self, X, dtype=check.float_dtypes(X), reset=False)

    def _map_rows(self, X, fn: Callable, dtype=None) -> np.ndarray:
        """``fn(log_prob, log_resp)`` of each row block of validated ``X``, stacked."""
        model = get_covariance_model(self.covariance_type)
        params = fitted_params(self)
        n_components, n_features = params.means.shape
        precisions = model.kernel_precisions(params.precisions_chol, n_components, n_features)
        log_norm = params.log_norm(model)
        kernel = get_kernel(self.kernel)
        backend = resolve(X, None, n_components=n_components, block_size=self.block_size)

        def block(X_block):
            log_prob, log_resp = kernel.log_prob_resp(
                X_block, params.means, precisions, log_norm, model.form
            )
            return fn(log_prob, log_resp)

        return backend.map_rows(block, dtype=dtype)

    def _out_dtype(self, X) -> np.dtype:
        return np.result_type(X.dtype, self.means_.dtype)

    def score_samples(self, X):
        """Log-likelihood of each sample under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            log p(x_i), in the dtype of ``X`` and of the fitted parameters.
        """
        X = self._validate_for_inference(X)
        return self._map_rows(X, lambda log_prob, _: log_prob, dtype=self._out_dtype(X))

    def predict(self, X):
        """Most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._validate_for_inference(X)
        return self._map_rows(X, lambda _, log_resp: np.argmax(log_resp, axis=1))

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Rows sum to one.
        """
        X = self._validate_for_inference(X)
        return self._map_rows(X, lambda _, log_resp: np.exp(log_resp), dtype=self._out_dtype(X))

    def score(self, X, y=None, sample_weight=None):
        """Mean log-likelihood of the samples, weighted by ``sample_weight``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        log_likelihood : float
            sum_i w_i log p(x_i) / sum_i w_i: as in scikit-learn,
            ``score_samples(X).mean()`` (taken in the dtype of the log-densities,
            float32 for a float32 model and data), or its weighted average.
        """
        log_prob = self.score_samples(X)
        if is_dask_collection(log_prob):
            n, (log_likelihood,) = weighted_sums([log_prob], sample_weight)
            return log_likelihood / n
        weight = check.check_sample_weight(sample_weight, log_prob.shape[0], 1)
        if weight is None:
            return float(log_prob.mean())
        return float(np.average(log_prob, weights=weight))

    def _n_samples(self, X, sample_weight) -> float:
        if sample_weight is None:
            return float(np.shape(X)[0])
        return float(np.sum(check.check_sample_weight(sample_weight, np.shape(X)[0], 1)))

    def _log_likelihood(self, X, sample_weight) -> tuple[float, float]:
        """``(n, log L)`` of ``X``: the number of samples (or weight) and the log-likelihood."""
        if is_dask_collection(X):
            # One pass over the rows, the weights checked with the sums.
            n, (log_likelihood,) = weighted_sums([self.score_samples(X)], sample_weight)
            return n, log_likelihood
        n = self._n_samples(X, sample_weight)
        return n, self.score(X, sample_weight=sample_weight) * n

    def _n_parameters(self) -> int:
        """Number of free parameters of the model (as scikit-learn's estimator has it)."""
        return n_free_parameters(self)

    def bic(self, X, sample_weight=None):
        """Bayesian information criterion (lower is better).

        ``-2 log L + p log n``, with n the number of samples (the sum of
        ``sample_weight`` when given) and p the number of free parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        bic : float
        """
        n, log_likelihood = self._log_likelihood(X, sample_weight)
        return -2 * log_likelihood + self._n_parameters() * math.log(n)

    def aic(self, X, sample_weight=None):
        """Akaike information criterion (lower is better): ``-2 log L + 2 p``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        aic : float
        """
        _, log_likelihood = self._log_likelihood(X, sample_weight)
        return -2 * log_likelihood + 2 * self._n_parameters()

    def uncertainty(self, X):
        """Classification uncertainty of each sample: ``1 - max_k r_ik``.

        0 for a point the model assigns to one component with certainty, up to
        ``1 - 1/n_components`` for a point shared equally (mclust's
        ``uncertainty``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        uncertainty : ndarray of shape (n_samples,)
        """
        X = self._validate_for_inference(X)
        # -expm1(log r) keeps the digits of 1 - r when r is close to one.
        return self._map_rows(
            X, lambda _, log_resp: -np.expm1(np.max(log_resp, axis=1)), dtype=self._out_dtype(X)
        )

    def icl(self, X, sample_weight=None):
        """Integrated completed likelihood criterion (lower is better, like :meth:`bic`).

        mclust's ICL (Biernacki, Celeux & Govaert 2000) in the estimator's sign:
        ``bic(X) - 2 sum_i w_i log max_k r_ik``. It adds to BIC a penalty for
        overlapping components, so it favours well-separated clusters. mclust
        reports the negative of this value (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        icl : float
        """
        n, log_likelihood, max_log_resp = criteria_terms(self, X, sample_weight)
        bic = -2 * log_likelihood + self._n_parameters() * math.log(n)
        return bic - 2 * max_log_resp

    def sample(self, n_samples=1):
        """Draw samples from the fitted mixture.

        With the same ``random_state`` the draws equal scikit-learn's.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples, in the dtype of the fitted parameters.
        y : ndarray of shape (n_samples,)
            The component each sample was drawn from.
        """
        check_is_fitted(self)
        check.check_scalar_param(n_samples, "n_samples", Integral)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at "
                "least one sample."
            )
        model = get_covariance_model(self.covariance_type)
        params = fitted_params(self)
        rng = check_random_state(self.random_state)
        # float32 weights_ may sum to 1 + 1e-7, which multinomial rejects.
        counts = rng.multinomial(n_samples, params.weights / params.weights.sum())
        X = model.sample(rng, params.means, params.covariances, counts)
        y = np.repeat(np.arange(self.n_components), counts)
        return X.astype(self.means_.dtype, copy=False), y


def n_free_parameters(estimator: GaussianMixture) -> int:
    """Number of free parameters of a fitted mixture (mclust's count for its model)."""
    model = get_covariance_model(estimator.covariance_type)
    return model.n_parameters(estimator.n_components, estimator.means_.shape[1])


def row_criteria_terms(estimator: GaussianMixture, X) -> tuple[np.ndarray, np.ndarray]:
    """``(log p(x_i), log max_k r_ik)`` of each row of ``X`` under a fitted mixture, float64.

    Returns
    -------
    log_prob : ndarray of shape (n_samples,)
    max_log_resp : ndarray of shape (n_samples,)
        Lazy Dask arrays for a Dask collection ``X``.
    """
    X = estimator._validate_for_inference(X)
    terms = estimator._map_rows(
        X, lambda log_prob, log_resp: np.column_stack([log_prob, np.max(log_resp, axis=1)])
    )
    if is_dask_collection(terms):
        return terms[:, 0], terms[:, 1]
    return np.ascontiguousarray(terms[:, 0]), np.ascontiguousarray(terms[:, 1])


def criteria_terms(
    estimator: GaussianMixture, X, sample_weight=None
) -> tuple[float, float, float]:
    """``(n, sum_i w_i log p(x_i), sum_i w_i log max_k r_ik)`` in one pass over ``X``.

    The terms of BIC, AIC and ICL under a fitted mixture, in float64; ``n`` is the
    number of rows, or the sum of ``sample_weight``.
    """
    log_prob, max_log_resp = row_criteria_terms(estimator, X)
    if is_dask_collection(log_prob):
        n, (log_likelihood, max_log_resp_sum) = weighted_sums(
            [log_prob, max_log_resp], sample_weight
        )
        return n, log_likelihood, max_log_resp_sum
    weight = check.check_sample_weight(sample_weight, log_prob.shape[0], 1)
    if weight is None:
        return float(log_prob.shape[0]), float(log_prob.sum()), float(max_log_resp.sum())
    return float(weight.sum()), float(weight @ log_prob), float(weight @ max_log_resp)
