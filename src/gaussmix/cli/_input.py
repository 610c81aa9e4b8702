"""Reading DATA for the commands: opening it, choosing a model's columns, checking values."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import DataSource, open_data
from ._errors import InputError
from ._parsing import parse_columns
from ._progress import rows_bar

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "IN_MEMORY_BYTES",
    "check_features",
    "data_blocks",
    "model_input",
    "open_for_model",
    "open_input",
    "read_data",
    "select_columns",
    "wording",
]

#: DATA is read into memory for ``fit`` when its values take at most this many
#: bytes (as float64); larger files are re-read on every EM pass.
IN_MEMORY_BYTES = 1 << 30

_NAMED_SUFFIXES = (".csv", ".parquet", ".pq")


def wording(message: str) -> str:
    """Library advice in command-line terms."""
    return message.replace("open_data(..., columns=[...])", "--columns")


def open_input(path: Path, columns: Sequence[str | int] | None = None) -> DataSource:
    """Open DATA (.npy, Parquet or CSV) as a block source.

    Raises
    ------
    InputError
        If the file is missing, of an unknown type, not a 2-D table, or lacks a column.
    """
    try:
        return open_data(path, columns)
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(wording(str(exc))) from None


def select_columns(
    model: Any, path: Path, columns: Sequence[str | int] | None
) -> Sequence[str | int] | None:
    """The columns to read from DATA for ``model``: those given, else the model's own.

    A model fitted on named columns reads those names from a CSV or Parquet file,
    so DATA may hold other columns (an id, a label) too.
    """
    if columns is not None:
        return columns
    names = getattr(model, "feature_names_in_", None)
    if names is not None and Path(path).suffix.lower() in _NAMED_SUFFIXES:
        return [str(name) for name in names]
    return None


def open_for_model(model: Any, path: Path, columns: str | None = None) -> DataSource:
    """Open DATA for a fitted model: ``--columns`` if given, else the model's columns.

    Raises
    ------
    InputError
        As :func:`open_input` and :func:`parse_columns`.
    """
    return open_input(path, select_columns(model, path, parse_columns(columns, path)))


def check_features(model: Any, source: DataSource) -> None:
    expected = int(model.n_features_in_)
    names = getattr(model, "feature_names_in_", None)
    fitted_on = f" ({', '.join(map(str, names))})" if names is not None else ""
    if source.n_features != expected:
        raise InputError(
            f"{source.path} gives {source.n_features} column(s) but the model was fitted on "
            f"{expected}{fitted_on}; choose them with --columns."
        )
    if names is not None and source.feature_names is not None:
        if list(map(str, names)) != list(map(str, source.feature_names)):
            raise InputError(
                f"the model was fitted on columns {list(map(str, names))} but "
                f"{list(map(str, source.feature_names))} were selected from {source.path}; "
                "select the model's columns, in its order, with --columns."
            )
    if source.n_rows == 0:
        raise InputError(f"{source.path} has no rows.")


def data_blocks(source: DataSource) -> Iterator[np.ndarray]:
    """The source's blocks; what is wrong with the data is an input error."""
    blocks = source.blocks()
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            return
        except ValueError as exc:
            raise InputError(wording(str(exc))) from None
        yield block


def read_data(
    source: DataSource, *, in_memory: bool | None = None, progress: bool | None = None
) -> np.ndarray | pd.DataFrame | DataSource:
    """Read DATA once, checking every value; keep it in memory if asked or if it is small.

    Checking first means a NaN or a text column is reported as such before a long
    fit, not as the failure of every cell of a model selection.

    Parameters
    ----------
    source : DataSource
    in_memory : bool or None
        True: return the values in memory; False: return ``source`` (EM then reads
        the file on every pass); None: in memory when they take at most
        :data:`IN_MEMORY_BYTES`.
    progress : bool or None
        Show a progress bar on standard error (None: when it is a terminal).

    Returns
    -------
    ndarray, DataFrame (when the file names its columns) or DataSource

    Raises
    ------
    InputError
        If the file holds non-numeric values, NaN or infinity, or fewer than 2 rows.
    """
    if source.n_rows < 2:
        raise InputError(f"{source.path} has {source.n_rows} row(s); fitting needs at least 2.")
    if in_memory is None:
        in_memory = source.n_rows * source.n_features * 8 <= IN_MEMORY_BYTES
    # Filled in place: no second copy of the data while it is read.
    X = np.empty((source.n_rows, source.n_features), source.dtype) if in_memory else None
    start = 0
    with rows_bar(source.n_rows, "Reading data", progress) as bar:
        for block in data_blocks(source):
            stop = start + block.shape[0]
            if X is not None and stop <= source.n_rows:
                X[start:stop] = block
            start = stop
            bar.update(block.shape[0])
    if X is None:
        return source
    if source.feature_names is None:
        return X
    import pandas as pd

    # A DataFrame, so that the model records the column names as a fit on the file would.
    return pd.DataFrame(X, columns=list(source.feature_names), copy=False)


def model_input(model: Any, block: np.ndarray) -> Any:
    """A block as the model expects it: named like its features, if it has names."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return block
    import pandas as pd

    return pd.DataFrame(block, columns=names, copy=False)
