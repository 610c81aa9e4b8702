"""Saving a fitted estimator to a model file and loading it back, without pickle.

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
holds (:mod:`._archive`). Writes go to a temporary file in the target's
directory, renamed over the target once complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._version import __version__
from ..io import write_atomically
from . import _archive as archive_io
from . import _format as fmt
from . import _registry as registry
from ._codec import Reader, encode_estimator

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

__all__ = ["load", "read_metadata", "save"]


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
    write_atomically(path, lambda handle: archive_io.write_zip(handle, members))


def _serialise(model) -> list[tuple[str, bytes]]:
    """The archive's members, in order: metadata, its digest, then the arrays."""
    entry = registry.entry_for(model)
    if entry is None:
        names = [entry.cls.__name__ for entry in registry.savable_classes().values()]
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
    node = encode_estimator(model, "", arrays, require_fitted=True)
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
        members.append((f"{fmt.ARRAY_DIR}{name}.npy", data))
    metadata = {
        "format": fmt.FORMAT_NAME,
        "format_version": f"{fmt.FORMAT_VERSION[0]}.{fmt.FORMAT_VERSION[1]}",
        "gaussmix_version": __version__,
        "numpy_version": np.__version__,
        "estimator": node,
        "arrays": manifest,
    }
    text = json.dumps(metadata, indent=1, ensure_ascii=True, allow_nan=False) + "\n"
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest() + "\n"
    members = [(fmt.METADATA, data), (fmt.METADATA_DIGEST, digest.encode("ascii")), *members]
    archive_io.check_limits(members, type(model).__name__)
    return members


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
    return archive_io.with_archive(_as_path(path), _read)


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
    return archive_io.with_archive(
        _as_path(path), lambda archive: archive_io.read_metadata_entry(archive)[0]
    )


def _as_path(path) -> Path:
    if isinstance(path, str | os.PathLike):
        return Path(os.fsdecode(os.fspath(path)))
    raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")


def _read(archive: zipfile.ZipFile):
    """Validate the archive and build its estimator; raises ``fmt.Problem``."""
    metadata, infos = archive_io.read_metadata_entry(archive)
    try:
        arrays = archive_io.read_arrays(archive, infos, metadata.get("arrays"))
    except fmt.Problem as problem:
        raise fmt.Problem(f"{problem} {fmt.MODIFIED_HINT}") from None
    try:
        return Reader(arrays).estimator(metadata.get("estimator"), "", require_fitted=True)
    except fmt.Problem as problem:
        raise fmt.Problem(f"{problem} {archive_io.version_hint(metadata)}") from None
