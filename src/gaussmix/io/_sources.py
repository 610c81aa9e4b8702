"""Row-block sources over data files: ``.npy``, Parquet and CSV.

A source reads its file in blocks of rows on every pass; it never loads or maps
the whole file, so memory stays at one block whatever the file's size. Every
block is validated as it is read (numeric, finite), with the row numbers of the
first bad value in the error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .._validation import check_magnitude

__all__ = ["DataSource", "open_data"]

_DEFAULT_BLOCK_ROWS = 1 << 16


class DataSource:
    """Rows of a data file, read block by block on each pass.

    Create one with :func:`open_data`. Pass it to ``GaussianMixture.fit``,
    ``predict``, ``predict_proba``, ``score_samples`` and ``score`` like an array:
    EM then reads the file once per iteration.

    Attributes
    ----------
    path : Path
    n_rows : int
    n_features : int
    dtype : numpy dtype
        float32 or float64 (the file's own float type; other types read as float64).
    feature_names : ndarray of str, or None
        Column names, for Parquet and CSV files.
    block_rows : int
        Rows per block read.
    """

    path: Path
    n_rows: int
    n_features: int
    dtype: np.dtype
    feature_names: np.ndarray | None
    block_rows: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, self.n_features)

    def _raw_blocks(self, block_rows: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def blocks(self, block_rows: int | None = None) -> Iterator[np.ndarray]:
        """Yield validated (rows, n_features) blocks in file order."""
        start = 0
        for block in self._raw_blocks(block_rows or self.block_rows):
            block = _check_block(block, self, start)
            start += block.shape[0]
            yield block
        if start != self.n_rows:
            raise ValueError(
                f"{self.path} changed while it was read: expected {self.n_rows} rows, "
                f"read {start}. Re-open it with gaussmix.open_data."
            )

    def read_rows(self, indices: np.ndarray) -> np.ndarray:
        """The rows at sorted ``indices``, read in one pass (for sampling)."""
        indices = np.asarray(indices)
        parts = []
        start = 0
        position = 0
        for block in self.blocks():
            stop = start + block.shape[0]
            end = np.searchsorted(indices, stop, side="left")
            parts.append(block[indices[position:end] - start])
            position, start = end, stop
        return np.concatenate(parts) if parts else np.empty((0, self.n_features), self.dtype)

    def __repr__(self) -> str:
        return (
            f"DataSource({str(self.path)!r}, n_rows={self.n_rows}, "
            f"n_features={self.n_features}, dtype={self.dtype})"
        )


def _check_block(block: np.ndarray, source: DataSource, start: int) -> np.ndarray:
    if block.dtype.kind not in "fiub":
        raise ValueError(
            f"{source.path}: rows {start}-{start + len(block) - 1} hold non-numeric data "
            f"(dtype {block.dtype}); select numeric columns with open_data(..., columns=[...])."
        )
    block = np.ascontiguousarray(block, dtype=source.dtype)
    # The sum is finite for almost every block: one cheap reduction, no temporary.
    if not np.isfinite(block.sum(dtype=np.float64)) and not np.all(np.isfinite(block)):
        bad_row = int(np.flatnonzero(~np.all(np.isfinite(block), axis=1))[0]) + start
        raise ValueError(
            f"{source.path}: row {bad_row} contains NaN or infinity. Remove or impute such "
            "rows before fitting."
        )
    check_magnitude(block)
    return block


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


class _NpySource(DataSource):
    """A 2-D ``.npy`` file, read with plain file reads (no memory map)."""

    def __init__(self, path: Path, columns, block_rows: int) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(f)
            self._offset = f.tell()
        if len(shape) != 2:
            raise ValueError(
                f"{path} holds an array of shape {shape}; expected 2-D (rows, features)."
            )
        if fortran_order:
            raise ValueError(
                f"{path} is stored in Fortran (column-major) order, which cannot be read in "
                "row blocks; save it with np.save(path, np.ascontiguousarray(X))."
            )
        if dtype.hasobject or dtype.kind not in "fiub":
            raise ValueError(f"{path} holds {dtype} data; expected a numeric array.")
        self.path = path
        self.n_rows, n_columns = shape
        self._file_dtype = dtype
        self._columns = _column_indices(columns, n_columns, path)
        self.n_features = len(self._columns) if self._columns is not None else n_columns
        self._n_columns = n_columns
        self.dtype = _float_dtype(dtype)
        self.feature_names = None
        self.block_rows = block_rows

    def _raw_blocks(self, block_rows):
        row_bytes = self._n_columns * self._file_dtype.itemsize
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            for start in range(0, self.n_rows, block_rows):
                count = min(block_rows, self.n_rows - start)
                block = np.empty((count, self._n_columns), dtype=self._file_dtype)
                read = f.readinto(memoryview(block).cast("B"))
                if read != count * row_bytes:
                    raise ValueError(
                        f"{self.path} is truncated: row {start + read // row_bytes} is missing."
                    )
                yield block if self._columns is None else block[:, self._columns]


class _ParquetSource(DataSource):
    """A Parquet file, read in record batches with pyarrow."""

    def __init__(self, path: Path, columns, block_rows: int) -> None:
        pq = _import_pyarrow_parquet()
        self._file = pq.ParquetFile(path)
        schema = self._file.schema_arrow
        names = list(schema.names)
        self._names = _column_names(columns, names, path)
        types = [schema.field(name).type for name in self._names]
        self.path = path
        self.n_rows = self._file.metadata.num_rows
        self.n_features = len(self._names)
        self.dtype = (
            np.dtype(np.float32) if all(str(t) == "float" for t in types) else np.dtype(np.float64)
        )
        self.feature_names = np.asarray(self._names, dtype=object)
        self.block_rows = block_rows

    def _raw_blocks(self, block_rows):
        for batch in self._file.iter_batches(batch_size=block_rows, columns=self._names):
            columns = [column.to_numpy(zero_copy_only=False) for column in batch.columns]
            yield _stack_columns(columns, self._names, self.path)


class _CsvSource(DataSource):
    """A CSV file with a header row, parsed in chunks with pandas."""

    def __init__(self, path: Path, columns, block_rows: int) -> None:
        pd = _import_pandas()
        header = pd.read_csv(path, nrows=0)
        names = [str(name) for name in header.columns]
        self._names = _column_names(columns, names, path)
        self.path = path
        with open(path, "rb") as f:
            # Data rows: lines after the header, not counting a final blank line.
            self.n_rows = max(sum(1 for line in f if line.strip()) - 1, 0)
        self.n_features = len(self._names)
        self.dtype = np.dtype(np.float64)
        self.feature_names = np.asarray(self._names, dtype=object)
        self.block_rows = block_rows

    def _raw_blocks(self, block_rows):
        pd = _import_pandas()
        reader = pd.read_csv(self.path, usecols=self._names, chunksize=block_rows)
        with reader:
            for chunk in reader:
                columns = [chunk[name].to_numpy() for name in self._names]
                yield _stack_columns(columns, self._names, self.path)


def _stack_columns(columns: Sequence[np.ndarray], names: Sequence[str], path: Path) -> np.ndarray:
    for column, name in zip(columns, names, strict=True):
        if column.dtype.kind not in "fiub":
            raise ValueError(
                f"{path}: column {name!r} holds non-numeric values ({column.dtype}); select "
                "numeric columns with open_data(..., columns=[...])."
            )
    return np.column_stack(columns) if columns else np.empty((0, 0))


def _column_names(columns, names: list[str], path: Path) -> list[str]:
    if columns is None:
        return names
    selected = [names[c] if isinstance(c, int | np.integer) else str(c) for c in columns]
    missing = [c for c in selected if c not in names]
    if missing:
        raise ValueError(f"{path} has no column(s) {missing}; its columns are {names}.")
    return selected


def _column_indices(columns, n_columns: int, path: Path) -> list[int] | None:
    if columns is None:
        return None
    indices = []
    for c in columns:
        if not isinstance(c, int | np.integer) or not -n_columns <= c < n_columns:
            raise ValueError(
                f"{path} has {n_columns} unnamed columns; columns must be integers in "
                f"[0, {n_columns}), got {c!r}."
            )
        indices.append(int(c) % n_columns)
    return indices


def _import_pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError('Reading CSV files needs pandas: pip install "gaussmix[data]"') from None
    return pd


def _import_pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            'Reading Parquet files needs pyarrow: pip install "gaussmix[data]"'
        ) from None
    return pq


_READERS = {
    ".npy": _NpySource,
    ".parquet": _ParquetSource,
    ".pq": _ParquetSource,
    ".csv": _CsvSource,
}


def open_data(
    path: str | os.PathLike,
    columns: Sequence[str | int] | None = None,
    *,
    block_rows: int = _DEFAULT_BLOCK_ROWS,
) -> DataSource:
    """Open a data file as a source of row blocks, for data bigger than memory.

    Parameters
    ----------
    path : str or path-like
        A 2-D ``.npy`` file (C order), a Parquet file (``.parquet``/``.pq``) or a CSV
        file with a header row (``.csv``).
    columns : sequence of str or int, default=None
        Columns to use, by name (Parquet, CSV) or position; None uses all.
    block_rows : int, default=65536
        Rows read per block. Memory use is about ``block_rows * n_features`` values.

    Returns
    -------
    source : DataSource
        Accepted by ``GaussianMixture.fit`` and the prediction methods.

    Examples
    --------
    >>> source = gaussmix.open_data("big.npy")                    # doctest: +SKIP
    >>> gm = gaussmix.GaussianMixture(5, verbose=2).fit(source)   # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such data file: {path}")
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise ValueError(
            f"Cannot read {path}: expected a .npy, .parquet or .csv file, got {suffix!r}."
        )
    if not isinstance(block_rows, int | np.integer) or block_rows < 1:
        raise ValueError(f"block_rows must be a positive integer; got {block_rows!r}.")
    source = _READERS[suffix](path, columns, int(block_rows))
    if source.n_features == 0:
        raise ValueError(f"{path} has no columns to use; select at least one.")
    return source
