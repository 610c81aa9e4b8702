"""The numbers a report shows, computed from a fitted mixture and its data.

Nothing here draws or writes HTML: each function returns plain values, so the
content can be tested apart from its presentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..covariance import get_covariance_model

__all__ = [
    "SILHOUETTE_ROWS",
    "ComponentSummary",
    "DataSummary",
    "FitDiagnostics",
    "KMeansComparison",
    "SelectionSummary",
    "check_inputs",
    "component_summary",
    "data_summary",
    "fit_diagnostics",
    "kmeans_comparison",
    "selection_summary",
    "silhouette",
    "silhouette_rows",
    "uncertainty",
]

# The silhouette costs O(n^2) distances; beyond this many rows it is computed on
# a random subset (the same rows for the mixture and for k-means).
SILHOUETTE_ROWS = 5000

# Kass & Raftery (1995): a BIC difference approximates twice the log Bayes
# factor, read on this scale (mclust's documentation uses the same one).
_BIC_EVIDENCE = ((2.0, "weak"), (6.0, "positive"), (10.0, "strong"), (math.inf, "very strong"))

# Relative spread of eigenvalues below which a covariance is called spherical.
_SPHERICAL_RTOL = 1e-6


@dataclass(frozen=True)
class DataSummary:
    """Shape, type and per-feature statistics of the data.

    ``mean``, ``sd`` (with ``n - 1``), ``minimum`` and ``maximum`` have shape
    (n_features,).
    """

    n_rows: int
    n_features: int
    dtype: str
    feature_names: list[str]
    mean: np.ndarray
    sd: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    n_missing: int


@dataclass(frozen=True)
class FitDiagnostics:
    """How the fit went and how good it is; criteria in scikit-learn's sign."""

    covariance_type: str
    mclust_name: str
    n_components: int
    n_parameters: int
    converged: bool | None
    n_iter: int | None
    max_iter: int | None
    log_likelihood: float
    log_likelihood_per_row: float
    bic: float
    icl: float
    aic: float
    silhouette: float | None
    silhouette_rows: int
    mean_uncertainty: float


@dataclass(frozen=True)
class ComponentSummary:
    """Per-component parameters; mclust's decomposition ``Sigma = lambda D A D^T``.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
    sizes : ndarray of shape (n_components,)
        Rows assigned to each component by ``predict``.
    means : ndarray of shape (n_components, n_features)
    sds : ndarray of shape (n_components, n_features)
        Square roots of each covariance's diagonal.
    covariances : ndarray of shape (n_components, n_features, n_features)
    volumes : ndarray of shape (n_components,)
        ``det(Sigma) ** (1 / n_features)``.
    shapes : ndarray of shape (n_components, n_features)
        Eigenvalues over the volume, decreasing (their product is 1).
    orientations : list of str
        The direction of each component's leading axis, in words.
    diagonal : bool
        Whether the covariance model is diagonal (axis-aligned).
    """

    weights: np.ndarray
    sizes: np.ndarray
    means: np.ndarray
    sds: np.ndarray
    covariances: np.ndarray
    volumes: np.ndarray
    shapes: np.ndarray
    orientations: list[str]
    diagonal: bool


@dataclass(frozen=True)
class KMeansComparison:
    """k-means with as many clusters as components, beside the mixture."""

    kmeans: Any
    labels: np.ndarray
    ari: float
    silhouette_gmm: float | None
    silhouette_kmeans: float | None
    sizes_gmm: np.ndarray
    sizes_kmeans: np.ndarray


@dataclass(frozen=True)
class SelectionSummary:
    """What a model selection chose, and by how much.

    ``ranked`` holds the cells that fitted, best first (a DataFrame with a
    ``delta`` column: the criterion minus the best's); ``failed`` the
    ``(n_components, model, reason)`` of every cell that did not.
    """

    criterion: str
    table: Any
    ranked: Any
    best: tuple[int, str]
    best_value: float
    runner_up: tuple[int, str] | None
    delta: float | None
    evidence: str | None
    failed: list[tuple[int, str, str]] = field(default_factory=list)
    estimator_is_best: bool = True


def check_inputs(estimator: Any, X: Any) -> tuple[Any, np.ndarray, list[str]]:
    """Validate ``X`` against the fitted ``estimator``.

    Returns
    -------
    X_model : ndarray or DataFrame
        What to pass to the estimator's methods: ``X`` itself, or its values
        when it is a DataFrame but the estimator was fitted without feature
        names (passing the frame would make scikit-learn warn).
    values : ndarray of shape (n_samples, n_features)
        ``X`` as float64, for statistics.
    names : list of str
        Feature names: the estimator's, else the DataFrame's, else ``feature i``.
    """
    check_is_fitted(estimator)
    n_features = int(np.shape(estimator.means_)[1])
    try:
        values = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"X must be numeric, of shape (n_samples, {n_features}); converting it to "
            f"float failed ({exc}). Drop or encode non-numeric columns first."
        ) from None
    if values.ndim != 2 or values.shape[1] != n_features:
        raise ValueError(
            f"X must have shape (n_samples, {n_features}), the features the estimator was "
            f"fitted on; got shape {values.shape}. Pass the data the model was fitted on."
        )
    if values.shape[0] < 2:
        raise ValueError(f"X must have at least 2 rows for a report; got {values.shape[0]}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(
            "X contains NaN or infinity; the model cannot score such rows. Drop or impute "
            "them before writing the report."
        )
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None:
        names = [str(name) for name in fitted_names]
        X_model = X
    else:
        columns = getattr(X, "columns", None)
        names = (
            [str(c) for c in columns]
            if columns is not None
            else [f"feature {i}" for i in range(n_features)]
        )
        X_model = X.to_numpy() if columns is not None else X
    return X_model, values, names


def data_summary(X: Any, values: np.ndarray, names: list[str]) -> DataSummary:
    """Per-feature mean, sd, minimum and maximum of ``values`` (n_samples, n_features)."""
    n_rows = values.shape[0]
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None:
        kinds = sorted({str(d) for d in dtypes})
        dtype = ", ".join(kinds)
    else:
        dtype = str(np.asarray(X).dtype)
    return DataSummary(
        n_rows=n_rows,
        n_features=values.shape[1],
        dtype=dtype,
        feature_names=names,
        mean=values.mean(axis=0),
        sd=values.std(axis=0, ddof=1),
        minimum=values.min(axis=0),
        maximum=values.max(axis=0),
        n_missing=int(np.count_nonzero(~np.isfinite(values))),
    )


def silhouette_rows(n_rows: int, seed: int = 0) -> np.ndarray | None:
    """Sorted row indices the silhouette is computed on, or None for all rows."""
    if n_rows <= SILHOUETTE_ROWS:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, SILHOUETTE_ROWS, replace=False))


def silhouette(values: np.ndarray, labels: np.ndarray, rows: np.ndarray | None) -> float | None:
    """Mean silhouette of ``labels`` on ``rows`` of ``values``; None where undefined."""
    from sklearn.metrics import silhouette_score

    if rows is not None:
        values, labels = values[rows], labels[rows]
    # Defined only for 2 <= number of clusters <= n_samples - 1.
    if not 2 <= len(np.unique(labels)) <= len(labels) - 1:
        return None
    return float(silhouette_score(values, labels))


def uncertainty(estimator: Any, X: Any) -> np.ndarray:
    """Classification uncertainty ``1 - max_k r_ik`` of every row, shape (n_samples,)."""
    if hasattr(estimator, "uncertainty"):
        return np.asarray(estimator.uncertainty(X), dtype=np.float64)
    # scikit-learn's GaussianMixture has no uncertainty(); this is its definition.
    return 1.0 - np.max(np.asarray(estimator.predict_proba(X), dtype=np.float64), axis=1)


def _icl(estimator: Any, X: Any, bic: float) -> float:
    if hasattr(estimator, "icl"):
        return float(estimator.icl(X))
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    with np.errstate(divide="ignore"):
        return bic - 2.0 * float(np.sum(np.log(np.max(proba, axis=1))))


def fit_diagnostics(
    estimator: Any,
    X: Any,
    values: np.ndarray,
    labels: np.ndarray,
    uncertainty: np.ndarray,
    rows: np.ndarray | None,
) -> FitDiagnostics:
    """Convergence, likelihood, AIC/BIC/ICL, silhouette and mean uncertainty of the fit."""
    model = get_covariance_model(estimator.covariance_type)
    n_components, n_features = np.shape(estimator.means_)
    per_row = float(estimator.score(X))
    bic = float(estimator.bic(X))
    return FitDiagnostics(
        covariance_type=model.name,
        mclust_name=model.mclust_name,
        n_components=int(n_components),
        n_parameters=int(model.n_parameters(n_components, n_features)),
        converged=_maybe(bool, getattr(estimator, "converged_", None)),
        n_iter=_maybe(int, getattr(estimator, "n_iter_", None)),
        max_iter=_maybe(int, getattr(estimator, "max_iter", None)),
        log_likelihood=per_row * values.shape[0],
        log_likelihood_per_row=per_row,
        bic=bic,
        icl=_icl(estimator, X, bic),
        aic=float(estimator.aic(X)),
        silhouette=silhouette(values, labels, rows),
        silhouette_rows=values.shape[0] if rows is None else len(rows),
        mean_uncertainty=float(np.mean(uncertainty)),
    )


def _maybe(kind, value):
    return None if value is None else kind(value)


def component_summary(estimator: Any, labels: np.ndarray, names: list[str]) -> ComponentSummary:
    """Weights, sizes, means and the covariance decomposition of every component.

    ``labels`` (n_samples,) are the predicted components; ``names`` the features'.
    """
    model = get_covariance_model(estimator.covariance_type)
    means = np.asarray(estimator.means_, dtype=np.float64)
    n_components, n_features = means.shape
    stored = np.asarray(estimator.covariances_, dtype=np.float64)
    # The model knows its storage layout (shared, diagonal, ...), so this holds
    # for every covariance model in the registry.
    covariances = np.stack(
        [
            np.asarray(model.component_covariance(stored, k, n_features), dtype=np.float64)
            for k in range(n_components)
        ]
    )
    volumes = np.empty(n_components)
    shapes = np.empty((n_components, n_features))
    orientations = []
    diagonal = model.form == "diag"
    for k, cov in enumerate(covariances):
        eigvals, eigvecs = np.linalg.eigh(cov)
        eigvals, eigvecs = np.clip(eigvals[::-1], 0.0, None), eigvecs[:, ::-1]
        # Through logs: the determinant of a large matrix under- or overflows.
        volume = float(np.exp(np.mean(np.log(eigvals)))) if np.all(eigvals > 0) else 0.0
        volumes[k] = volume
        shapes[k] = eigvals / volume if volume > 0 else np.nan
        orientations.append(_orientation(eigvals, eigvecs[:, 0], cov, diagonal, names))
    return ComponentSummary(
        weights=np.asarray(estimator.weights_, dtype=np.float64),
        sizes=np.bincount(labels, minlength=n_components),
        means=means,
        sds=np.sqrt(np.clip(np.diagonal(covariances, axis1=1, axis2=2), 0.0, None)),
        covariances=covariances,
        volumes=volumes,
        shapes=shapes,
        orientations=orientations,
        diagonal=diagonal,
    )


def _orientation(
    eigvals: np.ndarray, leading: np.ndarray, cov: np.ndarray, diagonal: bool, names: list[str]
) -> str:
    """The direction of the leading axis (eigenvector ``leading``) in words."""
    if leading.size == 1:
        return "n/a (one feature)"
    if eigvals[0] <= 0 or eigvals[-1] >= eigvals[0] * (1 - _SPHERICAL_RTOL):
        return "none (spherical)"
    if diagonal:
        return f"axis-aligned, longest along {names[int(np.argmax(np.diag(cov)))]}"
    # An eigenvector's sign is arbitrary: make its largest loading positive.
    leading = leading * np.sign(leading[np.argmax(np.abs(leading))])
    if leading.size == 2:
        angle = math.degrees(math.atan2(leading[1], leading[0]))
        return f"{angle:.0f}° from {names[0]} towards {names[1]}"
    # The three largest loadings say which features the axis mostly follows.
    order = np.argsort(-np.abs(leading), kind="stable")[:3]
    return ", ".join(f"{leading[i]:+.2f} {names[i]}" for i in order)


def kmeans_comparison(
    estimator: Any,
    X: Any,
    values: np.ndarray,
    labels: np.ndarray,
    rows: np.ndarray | None,
    silhouette_gmm: float | None,
) -> KMeansComparison:
    """Fit k-means with as many clusters as components and compare the partitions.

    ``silhouette_gmm`` is the mixture's silhouette on the same ``rows``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    n_components = int(np.shape(estimator.means_)[0])
    seed = getattr(estimator, "random_state", None)
    # An integer seed is reused; anything else (None, a RandomState that the call
    # would advance) gives way to 0, so the same model gives the same report.
    seed = int(seed) if isinstance(seed, int | np.integer) else 0
    kmeans = KMeans(n_clusters=n_components, n_init=10, random_state=seed).fit(X)
    km_labels = np.asarray(kmeans.labels_)
    return KMeansComparison(
        kmeans=kmeans,
        labels=km_labels,
        ari=float(adjusted_rand_score(labels, km_labels)),
        silhouette_gmm=silhouette_gmm,
        silhouette_kmeans=silhouette(values, km_labels, rows),
        sizes_gmm=np.bincount(labels, minlength=n_components),
        sizes_kmeans=np.bincount(km_labels, minlength=n_components),
    )


def evidence(delta: float) -> str:
    """Kass & Raftery's reading of a BIC difference ``delta`` >= 0."""
    for bound, words in _BIC_EVIDENCE:
        if delta < bound:
            return words
    return _BIC_EVIDENCE[-1][1]  # pragma: no cover - inf is the last bound


def selection_summary(selection: Any, estimator: Any) -> SelectionSummary:
    """The chosen cell, the runner-up, the margin between them and the failures."""
    criterion = selection.criterion
    table = selection.table
    ok = table[table["error"] == ""]
    ranked = ok.sort_values(criterion, kind="stable").copy()
    best_value = float(ranked[criterion].iloc[0])
    ranked["delta"] = ranked[criterion].astype(float) - best_value
    best = (
        int(selection.best_params_["n_components"]),
        str(selection.best_params_["covariance_type"]),
    )
    runner_up = delta = words = None
    if len(ranked) > 1:
        second = ranked.iloc[1]
        runner_up = (int(second["n_components"]), str(second["covariance_type"]))
        delta = float(second["delta"])
        words = evidence(delta) if criterion == "bic" else None
    failed = [
        (int(r.n_components), str(r.covariance_type), str(r.error))
        for r in table.itertuples(index=False)
        if r.error != ""
    ]
    try:
        name = get_covariance_model(estimator.covariance_type).mclust_name
    except ValueError:
        name = str(estimator.covariance_type)
    shown = (int(np.shape(estimator.means_)[0]), name)
    return SelectionSummary(
        criterion=criterion,
        table=table,
        ranked=ranked,
        best=best,
        best_value=best_value,
        runner_up=runner_up,
        delta=delta,
        evidence=words,
        failed=failed,
        estimator_is_best=shown == best,
    )
