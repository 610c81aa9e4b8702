"""Model files: a fitted estimator saved to one file and loaded back, without pickle.

A model file is a ZIP archive (see ``docs/model-file-format.md``)::

    metadata.json          format name and version, the estimator's class, its
                           parameters and scalar attributes, a manifest of the arrays
    metadata.json.sha256   SHA-256 of the bytes of metadata.json
    arrays/<name>.npy      one NumPy .npy file per array, numeric dtypes only

Nothing read from a file is executed: the metadata is strict JSON; each array's
.npy header is parsed and its dtype checked against an allow-list before its
bytes are read (object arrays, which need pickle, are refused); the estimator
class comes from an allow-list, never from an import; and every value is
validated before the estimator is built. Reading is bounded whatever the file
holds: only regular files are opened, the number and size of the entries are
checked against fixed limits before anything is read, and each entry is read in
pieces that stop at its declared size. Writes go to a temporary file in the
target's directory, renamed over the target once complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..covariance import get_covariance_model
from ..exceptions import ModelFileError
from ._atomic import write_atomically
from ._regular import NotRegularFileError, open_regular_file

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODEL_FILE_EXTENSION",
    "SavableClass",
    "load",
    "read_metadata",
    "save",
]

FORMAT_NAME = "gaussmix-model"
#: (major, minor). A reader loads every minor version of its own major; see the
#: versioning policy in docs/model-file-format.md before changing either.
FORMAT_VERSION = (1, 0)
MODEL_FILE_EXTENSION = ".gmm"

_METADATA = "metadata.json"
_METADATA_DIGEST = "metadata.json.sha256"
_ARRAY_DIR = "arrays/"

# Limits, checked against what the file declares before anything is read (and by
# save, so that it never writes a file load refuses). Entries are read in pieces
# that stop at their declared size, so neither a forged size nor a deflate stream
# that inflates beyond it can make load hold more than these allow.
_MAX_METADATA_BYTES = 16 << 20
_MAX_NPY_HEADER = 1 << 16
_MAX_ENTRIES = 1024
# The ZIP central directory, which zipfile parses whole on opening: 1024 entries
# with names of a few hundred bytes fit well within it.
_MAX_DIRECTORY_BYTES = 1 << 20
# All entries together, as they are when extracted.
_MAX_TOTAL_BYTES = 4 << 30
# Deflate cannot compress by more than about 1032:1; an entry that claims more is
# forged, and is refused before it is inflated.
_MAX_DEFLATE_RATIO = 1100
_READ_PIECE = 1 << 20
_MAX_DEPTH = 32
_MAX_NDIM = 32
# What an error message quotes of a file: this many names, or characters of a value.
_MAX_LISTED = 10
_MAX_QUOTED = 80
_MAX_MESSAGE = 2000

# Fixed member timestamps: the same model always gives the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# Array dtypes a file may hold (little-endian or byte-order free). Fitted arrays
# are further restricted to float32 and float64.
_ARRAY_DTYPES = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8"]
)
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_ARRAY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"(\d{1,6})\.(\d{1,6})")

# What a damaged archive raises while it is read: a bad CRC or header
# (BadZipFile), a broken deflate stream (zlib.error), data ending early (EOFError).
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)

_MODIFIED_HINT = (
    "Files written by gaussmix.save pass this check, so the file was damaged or modified "
    "after it was written: save the model again with gaussmix.save, or restore the file "
    "from a copy."
)


class _Problem(Exception):
    """A reason a file cannot be loaded; ``load`` adds the file's path."""


# ------------------------------------------------------------------ savable classes


@dataclass(frozen=True)
class SavableClass:
    """An estimator class that model files can hold, and how its values are checked.

    Making another estimator savable (as :class:`~gaussmix.OutlierDetector`, which
    wraps a fitted mixture) is one more entry in ``_savable_classes``: a name, the fitted
    attributes with their kinds, and two checks. A fitted mixture held by the
    wrapper is an attribute of kind ``"estimator"``, saved and validated as a
    mixture of its own.

    Attributes
    ----------
    name : str
        The name written to files. Never change it once released: files carry it.
    cls : type
        The estimator class; only instances of exactly this class are saved.
    attributes : mapping of str to str
        Fitted attributes and their kinds: ``"array"`` (finite float32 or
        float64 ndarray), ``"int"`` (>= 0), ``"bool"``, ``"float"``, ``"floats"``
        (list of float), ``"strings"`` (1-D array of str), ``"estimator"`` (a
        fitted estimator of a savable class).
    optional : tuple of str
        Attributes that a fitted estimator may lack (``feature_names_in_``).
    check_params : callable
        ``check_params(estimator)`` raises ValueError or TypeError when the
        estimator's parameters are invalid.
    check_attributes : callable
        ``check_attributes(params, attributes)`` raises ValueError unless the
        attributes (of the declared kinds) are consistent with one another and
        with the parameters (a dict from ``get_params(deep=False)``).
    """

    name: str
    cls: type
    attributes: Mapping[str, str]
    optional: tuple[str, ...]
    check_params: Callable[[Any], None]
    check_attributes: Callable[[dict, dict], None]


@cache
def _savable_classes() -> dict[str, SavableClass]:
    """The allow-list of classes a model file may name, by file name."""
    # Imported here: estimators sit above io in the package's layers.
    from .._anomaly import OutlierDetector
    from .._mixture import GaussianMixture

    entries = [
        SavableClass(
            name="GaussianMixture",
            cls=GaussianMixture,
            attributes=MIXTURE_ATTRIBUTES,
            optional=("feature_names_in_",),
            check_params=_check_mixture_params,
            check_attributes=check_mixture_attributes,
        ),
        SavableClass(
            name="OutlierDetector",
            cls=OutlierDetector,
            attributes=DETECTOR_ATTRIBUTES,
            optional=("feature_names_in_", "noise_weight_", "noise_log_volume_"),
            check_params=_check_detector_params,
            check_attributes=check_detector_attributes,
        ),
    ]
    return {entry.name: entry for entry in entries}


def _entry_for(estimator) -> SavableClass | None:
    for entry in _savable_classes().values():
        if type(estimator) is entry.cls:
            return entry
    return None


MIXTURE_ATTRIBUTES: Mapping[str, str] = {
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
_MIXTURE_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def _check_mixture_params(estimator) -> None:
    estimator._check_params()


def check_mixture_attributes(params: dict, attributes: dict) -> None:
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
        Fitted attributes of the kinds in ``MIXTURE_ATTRIBUTES``.
    """
    n_components = int(params["n_components"])
    n_features = attributes["n_features_in_"]
    model = get_covariance_model(params["covariance_type"])
    arrays = {name: attributes[name] for name in _MIXTURE_ARRAYS}
    dtypes = {str(array.dtype) for array in arrays.values()}
    if len(dtypes) != 1:
        found = ", ".join(f"{name} {array.dtype}" for name, array in arrays.items())
        raise ValueError(f"the fitted arrays should share one dtype; found {found}.")
    if n_features < 1:
        raise ValueError(f"n_features_in_ should be at least 1; got {n_features}.")
    shapes = dict.fromkeys(_MIXTURE_ARRAYS, model.shape(n_components, n_features))
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
    _check_covariances(
        model,
        *(arrays[name].astype(np.float64) for name in _MIXTURE_ARRAYS[2:]),
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


DETECTOR_ATTRIBUTES: Mapping[str, str] = {
    "mixture_": "estimator",
    "offset_": "float",
    "noise_weight_": "float",
    "noise_log_volume_": "float",
    "n_features_in_": "int",
    "feature_names_in_": "strings",
}


def _check_detector_params(estimator) -> None:
    estimator._check_params()


def check_detector_attributes(params: dict, attributes: dict) -> None:
    """Raise ValueError unless an OutlierDetector's fitted attributes are consistent.

    ``mixture_`` (already validated as a mixture of its own) must be a
    GaussianMixture with ``n_features_in_`` features, and with the detector's
    ``n_components`` and ``covariance_type`` when those name one model;
    ``noise_weight_`` (in [0, 1)) and ``noise_log_volume_`` (finite) are there
    exactly when ``noise`` is True; ``offset_`` is a number, finite unless the
    noise component's boundary puts it at -inf (``contamination="auto"`` with a
    noise weight of zero), and that boundary when ``contamination="auto"``.
    """
    from .._anomaly import _noise_boundary
    from .._mixture import GaussianMixture

    mixture = attributes["mixture_"]
    n_features = attributes["n_features_in_"]
    if type(mixture) is not GaussianMixture:
        raise ValueError(f"mixture_ should be a GaussianMixture; got {type(mixture).__name__}.")
    if mixture.n_features_in_ != n_features:
        raise ValueError(
            f"mixture_ has {mixture.n_features_in_} features but n_features_in_ is {n_features}."
        )
    n_components = params["n_components"]
    if isinstance(n_components, int) and mixture.n_components != n_components:
        raise ValueError(
            f"mixture_ has {mixture.n_components} components but n_components is {n_components}."
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
        boundary = _noise_boundary(weight, log_volume)
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


# Round-off allowance for the consistency checks: a multiple of the dtype's
# epsilon times the number of features (entries are sums of D products) times,
# for quantities that go through an inverse, the covariance's condition number:
# a float32 model fitted in float64 and then rounded is consistent only to that.
_SLACK = 64
# Asymmetry allowed in a covariance, relative to sqrt(C_ii C_jj): loose, because
# the compiled kernel's scatter is symmetric only to round-off of the statistics,
# which on degenerate components can be large next to the regularised diagonal.
_SYMMETRY_TOLERANCE = 1e-3


def _check_covariances(
    model,
    covariances: np.ndarray,
    precisions: np.ndarray,
    precisions_chol: np.ndarray,
    n_components: int,
    n_features: int,
    eps: float,
) -> None:
    """Raise ValueError unless the covariances are SPD and the precisions match them."""
    # Values are finite but may be huge: overflow must fail a check, not warn.
    with np.errstate(all="ignore"):
        factors = model.kernel_precisions(precisions_chol, n_components, n_features)
        log_det = model.log_det_cholesky(precisions_chol, n_components, n_features)
        products = model.precisions(precisions_chol)
        for k in range(n_components if model.per_component else 1):
            which = f"component {k}" if model.per_component else "the shared covariance"
            cov = model.component_covariance(covariances, k, n_features)
            factor = factors[k] if model.form == "full" else np.diag(factors[k])
            _check_component(
                which,
                cov,
                factor,
                log_det[k],
                model.component_covariance(precisions, k, n_features),
                model.component_covariance(products, k, n_features),
                eps,
            )


def _check_component(
    which: str,
    cov: np.ndarray,
    factor: np.ndarray,
    log_det: float,
    precision: np.ndarray,
    product: np.ndarray,
    eps: float,
) -> None:
    """One component's covariance, precision factor, log-det and precision, all (D, D).

    The factor is the reference: predictions use it. The covariance is judged by
    its lower triangle, which is what its Cholesky factor and eigenvalues are
    computed from; the upper triangle must match it only loosely, since the
    scatter statistics are not always exactly symmetric. Rounding a positive
    definite covariance to the dtype moves its eigenvalues by up to
    ``D * eps / 2`` times the largest, so a float32 copy of an ill-conditioned
    float64 covariance may have a slightly negative one; that much is allowed.
    """
    n_features = cov.shape[0]
    allowance = _SLACK * n_features * eps
    diag = np.sqrt(np.abs(np.diag(cov)))
    if not np.all(np.abs(cov - cov.T) <= _SYMMETRY_TOLERANCE * np.outer(diag, diag)):
        raise ValueError(f"covariances_ of {which} is not symmetric.")
    cov = np.tril(cov) + np.tril(cov, -1).T
    eigenvalues = np.linalg.eigvalsh(cov)
    if not (eigenvalues[-1] > 0 and eigenvalues[0] >= -allowance * eigenvalues[-1]):
        raise ValueError(
            f"covariances_ of {which} is not positive definite (eigenvalues from "
            f"{eigenvalues[0]:.3g} to {eigenvalues[-1]:.3g})."
        )
    # The log-det is computed from the factor's diagonal, which gives det(factor)
    # only for a triangular factor with a positive diagonal.
    sign, log_abs_det = np.linalg.slogdet(factor)
    if not (sign > 0 and abs(log_det - log_abs_det) <= allowance * max(1.0, abs(log_abs_det))):
        raise ValueError(
            f"precisions_cholesky_ of {which} is not triangular with a positive diagonal."
        )
    singular = np.linalg.svd(factor, compute_uv=False)
    condition = (singular[0] / singular[-1]) ** 2  # of the covariance
    residual = np.abs(factor.T @ cov @ factor - np.eye(n_features)).max()
    if not residual <= allowance * condition:
        raise ValueError(
            f"precisions_cholesky_ of {which} is not a Cholesky factor of the inverse of its "
            f"covariance (max |P^T C P - I| = {residual:.3g}, allowed "
            f"{allowance * condition:.3g})."
        )
    scale = np.sqrt(np.outer(np.diag(product), np.diag(product)))
    if not np.all(np.abs(precision - product) <= allowance * scale):
        raise ValueError(
            f"precisions_ of {which} is not the product of precisions_cholesky_ with its "
            "transpose."
        )


# ------------------------------------------------------------------------ saving


def save(model: BaseEstimator, path: str | os.PathLike[str]) -> None:
    """Save a fitted estimator to a model file, without pickle.

    The file holds the estimator's class, its parameters and every fitted
    attribute, with checksums; :func:`gaussmix.load` gives back an estimator
    whose attributes are bit-for-bit equal (same dtypes), so its predictions
    are identical. The format is described in ``docs/model-file-format.md``.

    The file is written to a temporary file in the same directory and renamed
    over ``path`` once complete: an existing file is replaced atomically, and
    a failure leaves it as it was, with no partial file behind.

    Parameters
    ----------
    model : GaussianMixture
        A fitted estimator. Its parameters may be None, booleans, numbers
        (NaN and infinity included), strings, lists and tuples of these,
        numeric NumPy arrays and ``numpy.random.RandomState`` instances (saved
        with their state, so ``sample`` draws the same values after loading).
    path : str or os.PathLike
        Where to write. The extension ``.gmm`` is suggested but not added.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    TypeError
        If ``model`` is not an estimator that model files can hold.
    ModelFileError
        If a parameter has a value the format cannot hold (a callable, an
        object array, ...), or the fitted values are invalid (NaN, a covariance
        that is not positive definite, ...): no file is written then, since
        :func:`gaussmix.load` would refuse it.
    OSError
        If the file cannot be written (missing directory, permissions, disk full).

    See Also
    --------
    load : Load the estimator back.

    Examples
    --------
    >>> import numpy as np
    >>> import gaussmix
    >>> X = np.random.RandomState(0).randn(100, 2)
    >>> gm = gaussmix.GaussianMixture(2, random_state=0).fit(X)
    >>> gaussmix.save(gm, "model.gmm")  # doctest: +SKIP
    >>> gaussmix.load("model.gmm").predict(X[:3])  # doctest: +SKIP
    array([1, 1, 0])
    """
    path = _as_path(path)
    # Everything is encoded and validated before the disk is touched.
    members = _serialise(model)
    if path.is_dir():
        raise IsADirectoryError(f"Cannot save the model to {path}: it is a directory.")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save the model to {path}: the directory {path.parent} does not exist; "
            "create it first."
        )
    write_atomically(path, lambda handle: _write_zip(handle, members))


def _serialise(model) -> list[tuple[str, bytes]]:
    """The archive's members, in order: metadata, its digest, then the arrays."""
    from .. import __version__

    entry = _entry_for(model)
    if entry is None:
        names = [entry.cls.__name__ for entry in _savable_classes().values()]
        known = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        raise TypeError(
            f"gaussmix.save saves {known} estimators (exactly these classes, not "
            f"subclasses); got {type(model).__name__}."
        )
    check_is_fitted(
        model,
        msg=(
            "This %(name)s instance is not fitted yet, so there is nothing to save. Call "
            "'fit' with appropriate arguments before gaussmix.save."
        ),
    )
    arrays: dict[str, np.ndarray] = {}
    node = _encode_estimator(model, "", arrays, require_fitted=True)
    members = []
    manifest = {}
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        data = buffer.getvalue()
        manifest[name] = {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        members.append((f"{_ARRAY_DIR}{name}.npy", data))
    metadata = {
        "format": FORMAT_NAME,
        "format_version": f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}",
        "gaussmix_version": __version__,
        "numpy_version": np.__version__,
        "estimator": node,
        "arrays": manifest,
    }
    text = json.dumps(metadata, indent=1, ensure_ascii=True, allow_nan=False) + "\n"
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest() + "\n"
    members = [(_METADATA, data), (_METADATA_DIGEST, digest.encode("ascii")), *members]
    _check_limits(members, type(model).__name__)
    return members


def _check_limits(members: list[tuple[str, bytes]], what: str) -> None:
    """Refuse to write what load would refuse for its size."""
    problem = None
    if len(members) > _MAX_ENTRIES:
        problem = f"it needs {len(members):,} entries, more than the {_MAX_ENTRIES:,}"
    elif len(members[0][1]) > _MAX_METADATA_BYTES:
        problem = (
            f"its metadata takes {len(members[0][1]):,} bytes, more than the "
            f"{_MAX_METADATA_BYTES:,}"
        )
    elif sum(len(data) for _, data in members) > _MAX_TOTAL_BYTES:
        total = sum(len(data) for _, data in members)
        problem = f"it takes {total:,} bytes, more than the {_MAX_TOTAL_BYTES:,}"
    if problem is not None:
        raise ModelFileError(
            f"Cannot save the {what}: {problem} a model file may hold "
            "(docs/model-file-format.md lists the limits)."
        )


def _encode_estimator(estimator, prefix: str, arrays: dict, *, require_fitted: bool) -> dict:
    """JSON node for an estimator: class, parameters, fitted attributes (or None)."""
    entry = _entry_for(estimator)
    what = type(estimator).__name__
    try:
        entry.check_params(estimator)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"Cannot save the {what}: invalid parameter: {exc}") from None
    params = {
        name: _encode(value, f"{prefix}params/{name}", arrays, f"parameter {name!r} of {what}")
        for name, value in estimator.get_params(deep=False).items()
    }
    present = [name for name in entry.attributes if hasattr(estimator, name)]
    required = [name for name in entry.attributes if name not in entry.optional]
    if not present and not require_fitted:
        return {"class": entry.name, "params": params, "attributes": None}
    missing = [name for name in required if name not in present]
    if missing:
        raise NotFittedError(
            f"Cannot save the {what}: it lacks the fitted attribute(s) {', '.join(missing)}; "
            "fit it first."
        )
    values = {
        name: _check_kind(entry.attributes[name], getattr(estimator, name), name)
        for name in present
    }
    try:
        entry.check_attributes(estimator.get_params(deep=False), values)
    except ValueError as exc:
        raise ModelFileError(
            f"Cannot save the {what}: {exc} gaussmix.load would refuse such a file; refit "
            "the model."
        ) from None
    attributes = {}
    for name, value in values.items():
        where = f"{prefix}{name}"
        if entry.attributes[name] == "array":
            attributes[name] = _store_array(value, where, arrays)
        elif entry.attributes[name] == "estimator":
            node = _encode_estimator(value, f"{where}/", arrays, require_fitted=True)
            attributes[name] = {"$estimator": node}
        else:
            attributes[name] = _encode(value, where, arrays, f"attribute {name!r} of {what}")
    return {"class": entry.name, "params": params, "attributes": attributes}


def _encode(value, name: str, arrays: dict, what: str, depth: int = 0):
    """JSON-safe form of a parameter or scalar attribute; arrays go to ``arrays``."""
    if depth > _MAX_DEPTH:
        raise ModelFileError(f"Cannot save {what}: it is nested more than {_MAX_DEPTH} deep.")
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        # Strict JSON has no NaN or infinity.
        return value if math.isfinite(value) else {"$float": repr(value)}
    if type(value) in (list, tuple):
        items = [
            _encode(item, f"{name}/{i}", arrays, what, depth + 1) for i, item in enumerate(value)
        ]
        return items if type(value) is list else {"$tuple": items}
    if isinstance(value, np.ndarray):
        if value.dtype.newbyteorder("<").str in _ARRAY_DTYPES:
            return _store_array(value, name, arrays)
        if _is_string_array(value):
            return {"$strings": {"values": value.tolist(), "dtype": value.dtype.str}}
    if isinstance(value, np.random.RandomState):
        return _encode_random_state(value, name, arrays, what)
    if _entry_for(value) is not None:
        node = _encode_estimator(value, f"{name}/", arrays, require_fitted=False)
        return {"$estimator": node}
    kind = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) else None
    raise ModelFileError(
        f"Cannot save {what}: it is {kind or f'of type {type(value).__name__}'} ({value!r:.80}), "
        "which a model file cannot hold. Model files hold None, booleans, numbers, strings, "
        "lists and tuples of these, numeric arrays and numpy RandomState instances; set "
        "the parameter to one of these with set_params before saving."
    )


def _store_array(array: np.ndarray, name: str, arrays: dict) -> dict:
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    arrays[name] = array
    return {"$array": name}


def _is_string_array(value: np.ndarray) -> bool:
    if value.ndim != 1:
        return False
    if value.dtype.kind == "U":
        return value.dtype.byteorder != ">"
    return value.dtype.kind == "O" and all(type(item) is str for item in value)


def _encode_random_state(state: np.random.RandomState, name: str, arrays: dict, what: str):
    inner = state.get_state(legacy=False)
    if inner["bit_generator"] != "MT19937":
        raise ModelFileError(
            f"Cannot save {what}: a RandomState on the {inner['bit_generator']} bit generator "
            "cannot be saved, only the default MT19937; pass an integer seed instead."
        )
    return {
        "$random_state": {
            "key": _store_array(inner["state"]["key"], name, arrays),
            "pos": int(inner["state"]["pos"]),
            "has_gauss": int(inner["has_gauss"]),
            "gauss": _encode(inner["gauss"], name, arrays, what),
        }
    }


def _write_zip(handle: BinaryIO, members: list[tuple[str, bytes]]) -> None:
    # Stored, not deflated: float arrays barely compress, and stored members
    # can later be read in place.
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.create_system = 3  # Unix: the same bytes on every platform
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


# ----------------------------------------------------------------------- loading


def load(path: str | os.PathLike[str]) -> BaseEstimator:
    """Load an estimator saved with :func:`gaussmix.save`.

    Nothing in the file is executed (no pickle). Before the estimator is built
    the loader checks the format name and version, the checksums of the
    metadata and of every array, that the class is one model files may hold,
    the parameters, and the fitted values: dtypes (float32 or float64), shapes
    consistent with ``n_components``, ``n_features_in_`` and
    ``covariance_type``, finite values, weights non-negative and summing to one,
    covariances symmetric positive definite and precisions consistent with them.
    Time and memory are bounded whatever the file holds: only a regular file is
    opened, and its entries are checked against the limits of
    ``docs/model-file-format.md`` before they are read.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`gaussmix.save`.

    Returns
    -------
    estimator : GaussianMixture
        A fitted estimator equal to the one saved: the same parameters and
        fitted attributes, bit for bit and in the same dtypes, so the same
        predictions and, from the same ``random_state``, the same samples. A
        ``partial_fit`` on it continues from the fitted model, as after ``fit``.

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable or not a regular file, is not a
        gaussmix model file, is truncated or was modified (a checksum does not
        match), exceeds the format's limits, has a format version this gaussmix
        does not read, or holds invalid values. The message says which, and
        what to do.

    See Also
    --------
    save : Save a fitted estimator.
    """
    return _with_archive(_as_path(path), _read)


def read_metadata(path: str | os.PathLike[str]) -> dict:
    """The ``metadata.json`` of a model file, format-checked and checksum-verified.

    For tools that describe a file (its format and gaussmix versions) without
    loading its arrays; the same checks and limits as :func:`load` apply up to
    the metadata.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`gaussmix.save`.

    Returns
    -------
    metadata : dict
        The parsed JSON object (see ``docs/model-file-format.md``).

    Raises
    ------
    ModelFileError
        As :func:`load`, for the file and its metadata.
    """
    return _with_archive(_as_path(path), lambda archive: _read_metadata(archive)[0])


def _with_archive(path: Path, read: Callable[[zipfile.ZipFile], Any]) -> Any:
    """``read(archive)`` on the model file at ``path``; every failure a ModelFileError."""
    where = f"Cannot load the model file '{path}'"
    try:
        handle = _open_regular_file(path)
    except _Problem as problem:
        raise ModelFileError(f"{where}: {problem}") from None
    with handle:
        try:
            _check_directory(handle)
            archive = zipfile.ZipFile(handle)
        except _Problem as problem:
            raise ModelFileError(f"{where}: {_bounded(str(problem))}") from None
        except _DAMAGE:
            raise ModelFileError(f"{where}: {_not_a_zip(handle)}") from None
        except OSError as exc:
            raise ModelFileError(f"{where}: it cannot be read ({exc}).") from exc
        with archive:
            try:
                return read(archive)
            except _Problem as problem:
                raise ModelFileError(f"{where}: {_bounded(str(problem))}") from None
            except _DAMAGE as exc:
                raise ModelFileError(
                    f"{where}: the file is corrupted ({exc}): it was damaged or modified after "
                    "it was written. Save the model again, or restore the file from a copy."
                ) from None
            except OSError as exc:
                raise ModelFileError(f"{where}: reading it failed ({exc}).") from exc


def _as_path(path) -> Path:
    if isinstance(path, str | os.PathLike):
        return Path(os.fsdecode(os.fspath(path)))
    raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")


def _open_regular_file(path: Path) -> BinaryIO:
    try:
        return open_regular_file(path)
    except FileNotFoundError:
        raise _Problem("there is no such file; check the path.") from None
    except NotRegularFileError as exc:
        raise _Problem(
            f"it is {exc.kind}, not a regular file. Give the path of a file written by "
            "gaussmix.save."
        ) from None
    except OSError as exc:
        raise _Problem(f"it cannot be read ({exc}).") from None


def _not_a_zip(handle: BinaryIO) -> str:
    """Why a file that is not a readable ZIP archive is not a model file."""
    with contextlib.suppress(OSError):
        handle.seek(0)
        start = handle.read(4)
        if not start:
            return "the file is empty (0 bytes): an interrupted copy or save?"
        if start == b"PK\x03\x04":
            return (
                "the file is truncated or corrupted: it starts as a model file but its end "
                "(the ZIP directory) is missing or damaged. Copy or save it again."
            )
    return "it is not a gaussmix model file (not a ZIP archive)."


# The end of central directory record (EOCD), its ZIP64 locator and record.
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"


def _check_directory(handle: BinaryIO) -> None:
    """Refuse an archive whose central directory exceeds the limits, before zipfile reads it.

    zipfile reads and parses the whole central directory when it opens an
    archive, as large as the end record says. Every candidate end record zipfile
    might use (the last 22 bytes, and the last signature in the final 64 KiB) is
    checked, with its ZIP64 record where there is one. Anything unreadable is left
    to zipfile, which reports it as damage.
    """
    size = handle.seek(0, os.SEEK_END)
    tail_size = min(size, _EOCD.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    candidates = {tail.rfind(_EOCD_SIGNATURE), len(tail) - _EOCD.size}
    for position in sorted(c for c in candidates if 0 <= c <= len(tail) - _EOCD.size):
        record = _EOCD.unpack_from(tail, position)
        if record[0] != _EOCD_SIGNATURE:
            continue
        entries, directory_bytes = record[4], record[5]
        entries, directory_bytes = _zip64_sizes(
            handle, size - tail_size + position, entries, directory_bytes
        )
        if entries > _MAX_ENTRIES:
            raise _Problem(
                f"it holds {entries:,} entries; a model file holds at most {_MAX_ENTRIES:,} "
                f"(its metadata, the checksum and one per array). {_MODIFIED_HINT}"
            )
        if directory_bytes > _MAX_DIRECTORY_BYTES:
            raise _Problem(
                f"its ZIP directory declares {directory_bytes:,} bytes; a model file's takes at "
                f"most {_MAX_DIRECTORY_BYTES:,}. {_MODIFIED_HINT}"
            )


def _zip64_sizes(handle: BinaryIO, eocd_offset: int, entries: int, directory_bytes: int):
    """The entry count and directory size, from the ZIP64 record when there is one."""
    start = eocd_offset - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
    if start < 0:
        return entries, directory_bytes
    handle.seek(start)
    data = handle.read(_ZIP64_EOCD.size + _ZIP64_LOCATOR.size)
    if len(data) != _ZIP64_EOCD.size + _ZIP64_LOCATOR.size:
        return entries, directory_bytes
    locator = _ZIP64_LOCATOR.unpack_from(data, _ZIP64_EOCD.size)
    record = _ZIP64_EOCD.unpack_from(data, 0)
    if locator[0] != _ZIP64_LOCATOR_SIGNATURE or record[0] != _ZIP64_EOCD_SIGNATURE:
        return entries, directory_bytes
    return max(entries, record[7]), max(directory_bytes, record[8])


def _read(archive: zipfile.ZipFile):
    """Validate the archive and build its estimator; raises _Problem."""
    metadata, infos = _read_metadata(archive)
    try:
        arrays = _read_arrays(archive, infos, metadata.get("arrays"))
    except _Problem as problem:
        raise _Problem(f"{problem} {_MODIFIED_HINT}") from None
    try:
        return _Reader(arrays).estimator(metadata.get("estimator"), "", require_fitted=True)
    except _Problem as problem:
        raise _Problem(f"{problem} {_version_hint(metadata)}") from None


def _read_metadata(archive: zipfile.ZipFile) -> tuple[dict, dict[str, zipfile.ZipInfo]]:
    """The metadata, format-checked and checksum-verified, and the archive's entries."""
    entries = archive.infolist()
    if len(entries) > _MAX_ENTRIES:  # a directory that holds more than its end record says
        raise _Problem(
            f"it holds {len(entries):,} entries; a model file holds at most {_MAX_ENTRIES:,}. "
            f"{_MODIFIED_HINT}"
        )
    infos = {}
    for info in entries:
        if info.filename in infos:
            raise _Problem(f"it holds the entry {_quoted(info.filename)} twice. {_MODIFIED_HINT}")
        infos[info.filename] = info
    total = sum(info.file_size for info in infos.values())
    if total > _MAX_TOTAL_BYTES:
        raise _Problem(
            f"its entries declare {total:,} bytes in all; a model file holds at most "
            f"{_MAX_TOTAL_BYTES:,}. {_MODIFIED_HINT}"
        )
    if _METADATA not in infos:
        raise _Problem(f"it is a ZIP archive without {_METADATA}, so not a gaussmix model file.")
    data = _read_member(archive, infos[_METADATA], _MAX_METADATA_BYTES)
    try:
        metadata = _parse_json(data)
    except ValueError:
        metadata = None
    # The format and version are read before the checksum, so that a file of a
    # future format (whose layout may differ) gets "upgrade gaussmix", not "corrupted".
    if isinstance(metadata, dict):
        _check_format(metadata)
    if _METADATA_DIGEST not in infos:
        raise _Problem(f"the entry {_METADATA_DIGEST} is missing. {_MODIFIED_HINT}")
    digest = _read_member(archive, infos[_METADATA_DIGEST], 1024)
    if digest.strip() != hashlib.sha256(data).hexdigest().encode("ascii"):
        raise _Problem(
            f"the file is corrupted or was modified: {_METADATA} does not match its SHA-256 "
            f"checksum. {_MODIFIED_HINT}"
        )
    if not isinstance(metadata, dict):
        raise _Problem(f"{_METADATA} is not a valid JSON object. {_MODIFIED_HINT}")
    return metadata, infos


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytearray:
    """An entry's bytes, read in pieces that never go past its declared size."""
    _check_entry(info, limit)
    data = bytearray()
    for piece in _pieces(archive, info):
        data += piece
    return data


def _check_entry(info: zipfile.ZipInfo, limit: int) -> None:
    """Refuse an entry by what the ZIP directory declares of it, before reading it."""
    name = _quoted(info.filename)
    if info.flag_bits & 0x1:
        raise _Problem(f"the entry {name} is encrypted.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Problem(
            f"the entry {name} uses ZIP compression method {info.compress_type}; "
            f"model files use only stored or deflated entries."
        )
    if info.file_size > limit:
        raise _Problem(
            f"the entry {name} declares {info.file_size:,} bytes, more than the "
            f"{limit:,} its manifest and the format's limits allow."
        )
    stored = info.compress_type == zipfile.ZIP_STORED
    if (stored and info.file_size != info.compress_size) or (
        not stored and info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024
    ):
        raise _Problem(
            f"the entry {name} declares {info.file_size:,} bytes from {info.compress_size:,} "
            "compressed ones, which its compression cannot give."
        )


def _pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """An entry's bytes in pieces of at most ``_READ_PIECE``; stops at its declared size.

    zipfile itself stops at the declared size and then checks the CRC; one byte
    more is asked for, to refuse an entry that holds more than it declares.
    """
    read = 0
    with archive.open(info) as member:
        while read <= info.file_size:
            piece = member.read(min(_READ_PIECE, info.file_size + 1 - read))
            if not piece:
                break
            read += len(piece)
            if read > info.file_size:
                raise _Problem(
                    f"the entry {_quoted(info.filename)} holds more than the "
                    f"{info.file_size:,} bytes it declares."
                )
            yield piece
    if read != info.file_size:
        raise _Problem(f"the entry {_quoted(info.filename)} is truncated.")


def _quoted(value: Any) -> str:
    """``repr(value)``, shortened: file contents in messages stay short."""
    return _short(repr(value))


def _short(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else f"{text[: _MAX_QUOTED - 3]}..."


def _listing(names: list[str]) -> str:
    """The first few of ``names``, and how many more there are."""
    shown = ", ".join(_short(str(name)) for name in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return f"{shown} ... and {more:,} more" if more > 0 else shown


def _bounded(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return f"{message[: _MAX_MESSAGE - 20]} ... (message cut)"


def _parse_json(data: bytes):
    """Strict JSON: UTF-8, no NaN/Infinity literals, no duplicate keys."""

    def no_duplicates(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    try:
        return json.loads(
            data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _check_format(metadata: dict) -> None:
    if metadata.get("format") != FORMAT_NAME:
        raise _Problem(
            f"it is not a gaussmix model file ({_METADATA} names the format "
            f"{_quoted(metadata.get('format'))}, not {FORMAT_NAME!r})."
        )
    version = metadata.get("format_version")
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise _Problem(f"its format_version {_quoted(version)} is not of the form 'major.minor'.")
    major = int(match[1])
    ours = f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}"
    if major > FORMAT_VERSION[0]:
        from .. import __version__

        writer = metadata.get("gaussmix_version")
        by = f" by gaussmix {writer:.{_MAX_QUOTED}}" if isinstance(writer, str) else ""
        raise _Problem(
            f"it has format version {version}, written{by}; this gaussmix ({__version__}) "
            f"reads format version {ours} and the earlier {FORMAT_VERSION[0]}.x versions. "
            "Upgrade gaussmix (pip install --upgrade gaussmix) to load it."
        )
    if major < FORMAT_VERSION[0]:
        raise _Problem(
            f"it has format version {version}, which this gaussmix no longer reads (it "
            f"reads {FORMAT_VERSION[0]}.x)."
        )


def _version_hint(metadata: dict) -> str:
    """Advice added to validation errors: upgrade when the writer was newer."""
    from .. import __version__

    writer = metadata.get("gaussmix_version")
    minor = int(_VERSION.fullmatch(metadata["format_version"])[2])
    if minor > FORMAT_VERSION[1] or (
        isinstance(writer, str) and _version_tuple(writer) > _version_tuple(__version__)
    ):
        return (
            f"The file was written by gaussmix {writer:.{_MAX_QUOTED}}, newer than this gaussmix "
            f"({__version__}): upgrading gaussmix (pip install --upgrade gaussmix) may let "
            "you load it."
        )
    return _MODIFIED_HINT


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = re.match(r"\d{0,9}", part)[0]
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _read_arrays(archive: zipfile.ZipFile, infos: dict, manifest) -> dict[str, np.ndarray]:
    """Every array in the manifest, checked against its dtype, shape and checksum."""
    if not isinstance(manifest, dict):
        raise _Problem(f"{_METADATA} has no array manifest ('arrays').")
    expected = {_METADATA, _METADATA_DIGEST} | {f"{_ARRAY_DIR}{name}.npy" for name in manifest}
    unexpected = sorted(set(infos) - expected)
    if unexpected:
        raise _Problem(f"it holds entries not in its manifest: {_listing(unexpected)}.")
    arrays = {}
    for name, spec in manifest.items():
        dtype, shape, digest = _check_manifest_entry(name, spec)
        member = f"{_ARRAY_DIR}{name}.npy"
        if member not in infos:
            raise _Problem(
                f"the array {_quoted(name)} in the manifest is missing from the archive."
            )
        info = infos[member]
        limit = math.prod(shape) * dtype.itemsize + _MAX_NPY_HEADER
        mismatch = _Problem(
            f"the file is corrupted or was modified: the array {name!r} does not match "
            "its SHA-256 checksum."
        )
        if info.compress_type != zipfile.ZIP_STORED:
            # A deflated entry can inflate to far more than the file's size: its
            # checksum is checked on a streamed pass before it is held in memory.
            _check_entry(info, limit)
            checksum = hashlib.sha256()
            for piece in _pieces(archive, info):
                checksum.update(piece)
            if checksum.hexdigest() != digest:
                raise mismatch
        data = _read_member(archive, info, limit)
        if hashlib.sha256(data).hexdigest() != digest:
            raise mismatch
        arrays[name] = _parse_npy(name, data, dtype, shape)
    return arrays


def _check_manifest_entry(name, spec) -> tuple[np.dtype, tuple[int, ...], str]:
    if not isinstance(name, str) or not _ARRAY_NAME.fullmatch(name):
        raise _Problem(f"the manifest names an array {_quoted(name)}, which is not a valid name.")
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "sha256"}:
        raise _Problem(
            f"the manifest entry of array {_quoted(name)} should hold dtype, shape, sha256."
        )
    dtype, shape, digest = spec["dtype"], spec["shape"], spec["sha256"]
    if not isinstance(dtype, str) or dtype not in _ARRAY_DTYPES:
        if isinstance(dtype, str) and dtype.lstrip("<>|=").startswith("O"):
            raise _Problem(
                f"the array {name!r} has the object dtype, which model files never hold: "
                "loading it would need pickle, which can run arbitrary code."
            )
        raise _Problem(
            f"the array {name!r} has dtype {_quoted(dtype)}; model files hold booleans, integers "
            "and little-endian floats only."
        )
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_NDIM
        or not all(type(n) is int and n >= 0 for n in shape)
    ):
        raise _Problem(
            f"the array {name!r} has an invalid shape {_quoted(shape)} in the manifest."
        )
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise _Problem(
            f"the array {name!r} has an invalid sha256 {_quoted(digest)} in the manifest."
        )
    return np.dtype(dtype), tuple(shape), digest


def _parse_npy(name: str, data: bytearray, dtype: np.dtype, shape: tuple) -> np.ndarray:
    """The array in .npy bytes, its header checked before its data is touched."""
    # The header's bytes only (magic, length, header): no copy of the data.
    handle = io.BytesIO(memoryview(data)[: 12 + _MAX_NPY_HEADER])
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(handle, _MAX_NPY_HEADER)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(handle, _MAX_NPY_HEADER)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise _Problem(
            f"the array {name!r} is not a valid .npy file ({_short(str(exc))})."
        ) from None
    found_shape, fortran_order, found_dtype = header
    if found_dtype != dtype or found_dtype.str != dtype.str or tuple(found_shape) != shape:
        raise _Problem(
            f"the array {name!r} has dtype {found_dtype.str} and shape {found_shape}, but the "
            f"manifest says {dtype.str} and {shape}."
        )
    payload = memoryview(data)[handle.tell() :]
    if len(payload) != math.prod(shape) * dtype.itemsize:
        raise _Problem(
            f"the array {name!r} has {len(payload)} bytes of data, not the size of "
            f"its shape {shape}."
        )
    flat = np.frombuffer(payload, dtype=dtype)
    array = flat.reshape(shape, order="F" if fortran_order else "C")
    # A writable copy in native byte order, keeping the saved memory layout.
    return np.array(array, dtype=dtype.newbyteorder("="), order="K", copy=True)


class _Reader:
    """Decodes JSON values and estimator nodes, handing out each array once."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.used: set[str] = set()

    def estimator(self, node, where: str, *, require_fitted: bool):
        what = f"the estimator at {where!r}" if where else "the estimator"
        if not isinstance(node, dict) or set(node) != {"class", "params", "attributes"}:
            raise _Problem(f"{what} should be an object with class, params and attributes.")
        classes = _savable_classes()
        entry = classes.get(node["class"]) if isinstance(node["class"], str) else None
        if entry is None:
            raise _Problem(
                f"{what} has the class {_quoted(node['class'])}, which model files cannot "
                f"hold; this gaussmix loads {', '.join(sorted(classes))}."
            )
        estimator = self._build(entry, node["params"], f"{what} ({entry.name})", where)
        raw = node["attributes"]
        if raw is None and not require_fitted:
            return estimator
        if not isinstance(raw, dict):
            raise _Problem(f"{what} ({entry.name}) has no fitted attributes.")
        unknown = sorted(set(raw) - set(entry.attributes))
        if unknown:
            raise _Problem(f"{entry.name} has no fitted attribute(s) {_listing(unknown)}.")
        missing = [n for n in entry.attributes if n not in raw and n not in entry.optional]
        if missing:
            raise _Problem(f"{what} ({entry.name}) lacks the fitted attribute(s) {missing}.")
        values = {}
        for name, value in raw.items():
            kind = entry.attributes[name]
            if kind == "estimator":
                inner = value.get("$estimator") if isinstance(value, dict) else None
                decoded = self.estimator(inner, f"{where}{name}", require_fitted=True)
            elif kind == "array":
                if not (isinstance(value, dict) and set(value) == {"$array"}):
                    raise _Problem(f"{name} of {entry.name} should be an array.")
                decoded = self.value(value, name)
            else:
                decoded = self.value(value, name)
            try:
                values[name] = _check_kind(kind, decoded, name)
            except ValueError as exc:
                raise _Problem(f"invalid {entry.name}: {exc}") from None
        try:
            entry.check_attributes(estimator.get_params(deep=False), values)
        except ValueError as exc:
            raise _Problem(f"invalid {entry.name}: {exc}") from None
        for name, value in values.items():
            setattr(estimator, name, value)
        return estimator

    def _build(self, entry: SavableClass, raw, what: str, where: str):
        """The (unfitted) estimator with the file's parameters, validated."""
        if not isinstance(raw, dict):
            raise _Problem(f"the parameters of {what} should be a JSON object.")
        accepted = _init_parameters(entry.cls)
        unknown = sorted(set(raw) - accepted)
        if unknown:
            raise _Problem(f"{entry.name} has no parameter(s) {_listing(unknown)}.")
        # Parameters a file lacks (written before they existed) take their defaults.
        params = {name: self.value(value, f"{where}params/{name}") for name, value in raw.items()}
        # __init__ only stores its arguments (the scikit-learn contract).
        estimator = entry.cls(**params)
        try:
            entry.check_params(estimator)
        except (ValueError, TypeError) as exc:
            raise _Problem(f"invalid parameter of {entry.name}: {exc}") from None
        return estimator

    def value(self, value, where: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise _Problem(f"the value at {where!r} is nested too deeply.")
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            # JSON integers are unbounded; no parameter or attribute needs more than 64 bits.
            if not -(2**63) <= value < 2**63:
                raise _Problem(f"the value at {where!r} is an out-of-range number.")
            return value
        if type(value) is float:
            # 1e999 parses as infinity; non-finite floats must be tagged.
            if not math.isfinite(value):
                raise _Problem(f"the value at {where!r} is an out-of-range number.")
            return value
        if type(value) is list:
            return [self.value(item, where, depth + 1) for item in value]
        if not (type(value) is dict and len(value) == 1):
            raise _Problem(f"the value at {where!r} is not a value model files hold.")
        ((tag, body),) = value.items()
        if tag == "$array":
            return self.array(body, where)
        if tag == "$float" and body in ("inf", "-inf", "nan"):
            return float(body)
        if tag == "$tuple" and type(body) is list:
            return tuple(self.value(item, where, depth + 1) for item in body)
        if tag == "$strings":
            return _decode_strings(body, where)
        if tag == "$random_state":
            return self.random_state(body, where)
        if tag == "$estimator":
            return self.estimator(body, f"{where}/", require_fitted=False)
        raise _Problem(f"the value at {_quoted(where)} has an unknown form {_quoted(tag)}.")

    def array(self, name, where: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise _Problem(
                f"the value at {_quoted(where)} names an array {_quoted(name)} not in the "
                "manifest."
            )
        if name in self.used:
            raise _Problem(f"the array {name!r} is used twice.")
        self.used.add(name)
        return self.arrays[name]

    def random_state(self, body, where: str) -> np.random.RandomState:
        if not (isinstance(body, dict) and set(body) == {"key", "pos", "has_gauss", "gauss"}):
            raise _Problem(f"the RandomState at {where!r} should hold key, pos, has_gauss, gauss.")
        key = self.value(body["key"], where)
        pos, has_gauss = body["pos"], body["has_gauss"]
        gauss = self.value(body["gauss"], where)
        if not (
            isinstance(key, np.ndarray)
            and key.dtype == np.uint32
            and key.shape == (624,)
            and type(pos) is int
            and 0 <= pos <= 624
            and has_gauss in (0, 1)
            and type(has_gauss) is int
            and type(gauss) is float
        ):
            raise _Problem(f"the RandomState at {where!r} has an invalid MT19937 state.")
        state = np.random.RandomState()
        state.set_state(("MT19937", key, pos, has_gauss, gauss))
        return state


@cache
def _init_parameters(cls: type) -> frozenset[str]:
    signature = inspect.signature(cls.__init__)
    return frozenset(
        name
        for name, parameter in signature.parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    )


def _decode_strings(body, where: str) -> np.ndarray:
    if not (isinstance(body, dict) and set(body) == {"values", "dtype"}):
        raise _Problem(f"the strings at {where!r} should hold values and dtype.")
    values, dtype = body["values"], body["dtype"]
    if not (isinstance(values, list) and all(type(v) is str for v in values)):
        raise _Problem(f"the strings at {where!r} should be a list of strings.")
    if dtype == "|O":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    if isinstance(dtype, str) and re.fullmatch(r"<U\d{1,6}", dtype):
        array = np.array(values, dtype=dtype).reshape(len(values))
        # NumPy truncates strings longer than the dtype allows.
        if array.tolist() == values:
            return array
    raise _Problem(f"the strings at {_quoted(where)} have an invalid dtype {_quoted(dtype)}.")


def _check_kind(kind: str, value, name: str):
    """``value`` as an attribute of ``kind``, or ValueError saying what is wrong."""
    if kind == "array":
        if not isinstance(value, np.ndarray) or value.dtype not in _FLOAT_DTYPES:
            found = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"{name} should be a float32 or float64 array; got {found}.")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or infinity.")
        return value
    if kind == "int":
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            if value >= 0:
                return int(value)
        raise ValueError(f"{name} should be a non-negative integer; got {_quoted(value)}.")
    if kind == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise ValueError(f"{name} should be True or False; got {_quoted(value)}.")
    if kind == "float":
        if isinstance(value, float | int | np.floating | np.integer) and not isinstance(
            value, bool | np.bool_
        ):
            return float(value)
        raise ValueError(f"{name} should be a number; got {_quoted(value)}.")
    if kind == "floats":
        if isinstance(value, list) and all(
            isinstance(v, float | int | np.floating) and not isinstance(v, bool) for v in value
        ):
            return [float(v) for v in value]
        raise ValueError(f"{name} should be a list of numbers.")
    if kind == "strings":
        if isinstance(value, np.ndarray) and _is_string_array(value):
            return value
        raise ValueError(f"{name} should be a 1-D array of strings.")
    if kind == "estimator":
        if _entry_for(value) is not None:
            return value
        raise ValueError(f"{name} should be an estimator that model files hold.")
    raise AssertionError(f"unknown attribute kind {kind!r}")
