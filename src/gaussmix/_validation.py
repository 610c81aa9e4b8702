"""Checks of hyperparameters, sample weights and user-given initial parameters.

Every error names the parameter, what was expected, what came in, and the fix.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from .exceptions import InvalidParameterError

__all__ = [
    "check_bool_param",
    "check_init_means",
    "check_init_params",
    "check_init_precisions",
    "check_init_weights",
    "check_magnitude",
    "check_option",
    "check_sample_weight",
    "check_scalar_param",
    "check_variance_range",
    "check_weight_summary",
    "float_dtypes",
    "float_weights",
]


def check_scalar_param(
    value,
    name: str,
    kind: type,
    *,
    minimum: float | None = None,
    allow_none: bool = False,
    options: tuple[str, ...] = (),
) -> None:
    """Raise InvalidParameterError unless ``value`` is a number of ``kind`` >= ``minimum``.

    ``kind`` is ``numbers.Integral`` or ``numbers.Real`` (then the number must be
    finite: scikit-learn refuses inf and NaN too); ``options`` lists strings also
    accepted, and ``allow_none`` accepts None.
    """
    if (value is None and allow_none) or (isinstance(value, str) and value in options):
        return
    if not isinstance(value, kind) or isinstance(value, bool | np.bool_):
        expected = "an integer" if kind is Integral else "a real number"
        alternatives = [repr(o) for o in options] + (["None"] if allow_none else [])
        extra = f" (or {', '.join(alternatives)})" if alternatives else ""
        raise InvalidParameterError(
            f"{name} must be {expected}{extra}; got {value!r} of type {type(value).__name__}."
        )
    if kind is Real and not math.isfinite(value):
        bound = "" if minimum is None else f" >= {minimum}"
        raise InvalidParameterError(f"{name} must be a finite real number{bound}; got {value!r}.")
    if minimum is not None and not value >= minimum:
        raise InvalidParameterError(f"{name} must be >= {minimum}; got {value!r}.")


def check_option(value, name: str, options: tuple[str, ...]) -> None:
    """Raise InvalidParameterError unless ``value`` is one of the string ``options``."""
    if not (isinstance(value, str) and value in options):
        valid = ", ".join(repr(o) for o in options)
        raise InvalidParameterError(f"{name} must be one of {valid}; got {value!r}.")


def check_init_params(value, options: tuple[str, ...]) -> tuple[str, ...]:
    """The initialisation methods named by ``init_params``: one name, or a sequence.

    Returns a tuple of distinct names from ``options``; raises
    InvalidParameterError otherwise.
    """
    if isinstance(value, str):
        check_option(value, "init_params", options)
        return (value,)
    valid = ", ".join(repr(o) for o in options)
    if not isinstance(value, list | tuple) or not value:
        raise InvalidParameterError(
            f"init_params must be one of {valid}, or a non-empty list or tuple of them "
            f"(each gets n_init starts and the best is kept); got {value!r}."
        )
    for method in value:
        if not (isinstance(method, str) and method in options):
            raise InvalidParameterError(
                f"init_params holds {method!r}; every entry must be one of {valid}."
            )
    if len(set(value)) != len(value):
        raise InvalidParameterError(
            f"init_params names a method twice ({value!r}); name each once and raise "
            "n_init for more starts of it."
        )
    return tuple(value)


def check_bool_param(value, name: str) -> None:
    """Raise InvalidParameterError unless ``value`` is a boolean."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidParameterError(f"{name} must be True or False; got {value!r}.")


def float_weights(sample_weight, n_samples: int) -> np.ndarray:
    """``sample_weight`` as a float64 array of shape (n_samples,), or 0-d for a scalar.

    A scalar (one weight for every row) is left for the caller to broadcast, so a
    caller that keeps weights elsewhere (a Dask array) need not build the vector.
    Raises ValueError if the values are not numbers or the shape is wrong.
    """
    try:
        weight = np.array(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"sample_weight must be an array of numbers, one per row of X; could not "
            f"convert it to floats ({exc})."
        ) from None
    if weight.ndim != 0 and weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per row of X; "
            f"got shape {weight.shape}."
        )
    return weight


def check_sample_weight(sample_weight, n_samples: int, n_components: int) -> np.ndarray | None:
    """Validate ``sample_weight`` for ``fit``: shape (n_samples,), finite, >= 0, not all zero.

    Returns a float64 copy (the caller's array is never modified), or None.
    """
    if sample_weight is None:
        return None
    weight = float_weights(sample_weight, n_samples)
    if weight.ndim == 0:
        weight = np.full(n_samples, float(weight))
    check_weight_summary(
        int(np.count_nonzero(~np.isfinite(weight))),
        int(np.sum(weight < 0)),
        float(weight.min()) if weight.size else 0.0,
        int(np.count_nonzero(weight)),
        n_components,
    )
    return weight


def check_weight_summary(
    n_nonfinite: int, n_negative: int, smallest: float, n_positive: int, n_components: int
) -> None:
    """Raise ValueError unless weights summarised so are finite, >= 0 and enough positive.

    The checks of :func:`check_sample_weight`, from counts that a pass over weights
    held elsewhere (a Dask array) computes.
    """
    if n_nonfinite:
        raise ValueError(
            "sample_weight contains NaN or infinity; give every row a finite weight "
            "(use 0 to ignore a row)."
        )
    if n_negative:
        raise ValueError(
            f"sample_weight must be non-negative; got {n_negative} negative "
            f"weight(s), the smallest {smallest:g}."
        )
    if n_positive == 0:
        raise ValueError("sample_weight is all zero: at least one row needs a weight above zero.")
    if n_positive < n_components:
        raise ValueError(
            f"Expected at least n_components={n_components} rows with a non-zero "
            f"sample_weight, but got {n_positive}; reduce n_components or give more "
            "rows a positive weight."
        )


def float_dtypes(X) -> list | type:
    """dtype argument for ``validate_data`` that keeps float32 data float32.

    scikit-learn reads the dtype of NumPy arrays and pandas frames; for other
    frames (polars) it falls back to float64, so look at their column types here.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and not isinstance(X, np.ndarray):
        names = {str(dtype).lower() for dtype in dtypes}
        if names == {"float32"}:
            return np.float32
    return [np.float64, np.float32]


def _representable_spread(dtype) -> float:
    """1e-4 of the square root of the dtype's largest value (1.3e150 for float64).

    Squares of values up to this size, and reciprocals of squares of spreads down
    to its inverse, stay 1e-8 below the largest value: room for the sums of
    statistics, the regularisation and the products of precision factors.
    """
    return 1e-4 * math.sqrt(float(np.finfo(dtype).max))


def check_magnitude(X: np.ndarray) -> None:
    """Raise ValueError if the squares of ``X`` would overflow its dtype.

    The limit is 1e150 for float64 and 2e15 for float32 (a float32 fit keeps its
    covariances in float32).
    """
    # max and -min rather than abs(X): no temporary the size of X.
    largest = max(float(np.max(X)), -float(np.min(X))) if X.size else 0.0
    dtype = X.dtype if X.dtype == np.float32 else np.float64
    limit = float(f"{_representable_spread(dtype):.0e}")
    if largest > limit:
        name = np.dtype(dtype).name
        raise ValueError(
            f"X has values of magnitude up to {largest:.3g}; variances of such data "
            f"overflow {name} (values up to {limit:.0e} are accepted). Rescale X (for "
            f"example X / {largest:.0e}) before fitting."
        )


def check_variance_range(variance: np.ndarray, dtype) -> None:
    """Raise ValueError if a feature's spread is too small for ``dtype`` to model.

    ``variance`` (n_features,) holds each feature's variance in the data (constant
    features replaced by a positive scale). A precision is the inverse of a
    variance: below a standard deviation of about 1e-150 (float64) or 5e-16
    (float32) the precisions of a fitted model would overflow.
    """
    dtype = np.float32 if dtype == np.float32 else np.float64
    smallest_std = 1.0 / _representable_spread(dtype)
    std = np.sqrt(variance)
    if not np.all(np.isfinite(std)):
        raise ValueError(
            "The variance of X overflows float64 (its squared deviations summed over "
            "the rows). Rescale X (for example divide it by its largest value)."
        )
    if np.all(std >= smallest_std):
        return
    feature = int(np.argmin(std))
    name = np.dtype(dtype).name
    factor = float(f"{1.0 / std[feature]:.0e}")
    advice = ", or fit it as float64 (X.astype(np.float64))" if dtype == np.float32 else ""
    raise ValueError(
        f"Feature {feature} of X has a standard deviation of {std[feature]:.3g}: the "
        f"precisions (inverse variances) of a model of it overflow {name}, which holds "
        f"standard deviations down to {smallest_std:.1e}. Rescale X (for example "
        f"X * {factor:.0e}){advice}."
    )


def check_init_weights(weights, n_components: int) -> np.ndarray:
    """Validate ``weights_init``: shape (n_components,), in [0, 1], summing to 1."""
    weights = _as_float_array(weights, "weights_init")
    if weights.shape != (n_components,):
        raise ValueError(
            f"The parameter 'weights' should have the shape of ({n_components},), but got "
            f"{weights.shape}: weights_init needs one weight per component."
        )
    if np.any(weights < 0) or np.any(weights > 1):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{weights.max():.5f}, min value {weights.min():.5f}."
        )
    if not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(
            "The parameter 'weights' should be normalized, but got sum(weights) = "
            f"{weights.sum():.5f}; divide weights_init by its sum."
        )
    return weights


def check_init_means(means, n_components: int, n_features: int) -> np.ndarray:
    """Validate ``means_init``: shape (n_components, n_features), finite."""
    means = _as_float_array(means, "means_init")
    if means.shape != (n_components, n_features):
        raise ValueError(
            f"The parameter 'means' should have the shape of ({n_components}, {n_features}), "
            f"but got {means.shape}: means_init needs one row per component and one "
            "column per feature of X."
        )
    return means


def check_init_precisions(precisions, model, n_components: int, n_features: int) -> np.ndarray:
    """Validate ``precisions_init`` for the covariance model (shape, symmetric, positive)."""
    precisions = _as_float_array(precisions, "precisions_init")
    model.check_precisions(precisions, n_components, n_features)
    return precisions


def _as_float_array(value, name: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers; got {value!r} ({exc}).") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity; every entry must be finite.")
    return array
