"""Row-block sources over data files: ``.npy``, Parquet and CSV.

A source reads its file in blocks of rows on every pass; it never loads or maps
the whole file, so memory stays at one block whatever the file's size. Every
block is validated as it is read (numeric, finite), with the row numbers of the
first bad value in the error. Every error names the file: a file that is not
what its extension says, is damaged, or does not match its own header (a CSV
row with more fields than the header names, a ``.npy`` file whose size is not
the one its header declares) is refused with the reason.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .._validation import check_magnitude
from ._regular import NotRegularFileError, open_regular_file

__all__ = ["DataSource", "open_data"]

_DEFAULT_BLOCK_ROWS = 1 << 16
# A CSV line longer than this is refused: the parser holds a line whole, and no
# table a mixture is fitted to needs one this long (a million columns).
_MAX_CSV_LINE_BYTES = 16 << 20
_READ_PIECE = 1 << 20
_SEVERAL_READS = (
    "Give the path of a .npy, Parquet or CSV file; it is read more than once, so a pipe "
    "cannot stand for it."
)


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
        with open_regular_file(path) as f:
            try:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran_order, dtype = read_header(f)
            except (ValueError, EOFError) as exc:
                raise ValueError(
                    f"{path} is not a valid .npy file ({exc}); write it with numpy.save."
                ) from None
            self._offset = f.tell()
            file_bytes = os.fstat(f.fileno()).st_size
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
        data_bytes = shape[0] * shape[1] * dtype.itemsize
        if file_bytes - self._offset != data_bytes:
            raise ValueError(
                f"{path} holds {file_bytes - self._offset:,} bytes of data after its header, "
                f"but the header declares shape {shape} of {dtype} ({data_bytes:,} bytes): the "
                "file is truncated or was changed after it was written. Write it again with "
                "numpy.save."
            )
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
        with open_regular_file(self.path) as f:
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
        try:
            self._file = pq.ParquetFile(path)
            schema = self._file.schema_arrow
        except _arrow_errors() as exc:
            raise ValueError(
                f"{path}: not a Parquet file, or a damaged one ({_one_line(exc)})."
            ) from None
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
        batches = self._file.iter_batches(batch_size=block_rows, columns=self._names)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except _arrow_errors() as exc:
                raise ValueError(
                    f"{self.path}: the Parquet file is damaged ({_one_line(exc)})."
                ) from None
            columns = [column.to_numpy(zero_copy_only=False) for column in batch.columns]
            yield _stack_columns(columns, self._names, self.path)


class _CsvSource(DataSource):
    """A CSV file with a header row, parsed in chunks with pandas.

    Every row must have at most as many fields as the header names: a longer row
    is an error naming its line (a short row reads as missing values, which the
    block check reports).
    """

    def __init__(self, path: Path, columns, block_rows: int) -> None:
        pd = _import_pandas()
        self.path = path
        with open_regular_file(path) as handle:
            # Data rows: lines after the header, not counting blank lines.
            self.n_rows = max(_count_csv_lines(handle, path) - 1, 0)
        with open_regular_file(path) as handle, _csv_errors(path, pd):
            header = pd.read_csv(handle, nrows=0)
        self._header = [str(name) for name in header.columns]
        self._names = _column_names(columns, self._header, path)
        _check_first_row(path, len(self._header))
        self.n_features = len(self._names)
        self.dtype = np.dtype(np.float64)
        self.feature_names = np.asarray(self._names, dtype=object)
        self.block_rows = block_rows

    def _raw_blocks(self, block_rows):
        pd = _import_pandas()
        # Every column is parsed (pandas checks the number of fields only then);
        # the unused ones as text, so that nothing is inferred for them.
        unused = {name: object for name in self._header if name not in self._names}
        with open_regular_file(self.path) as handle, _csv_errors(self.path, pd):
            reader = pd.read_csv(handle, chunksize=block_rows, index_col=False, dtype=unused)
            with reader:
                for chunk in reader:
                    if chunk.empty:
                        continue
                    columns = [chunk[name].to_numpy() for name in self._names]
                    yield _stack_columns(columns, self._names, self.path)


def _count_csv_lines(handle, path: Path) -> int:
    """Non-blank lines of a CSV file, read in pieces; refuses overlong lines."""
    count = 0
    length = 0  # of the line read so far
    blank = True  # the line read so far holds only white space
    line = 1
    while piece := handle.read(_READ_PIECE):
        parts = piece.split(b"\n")
        if max(length + len(parts[0]), max(map(len, parts))) > _MAX_CSV_LINE_BYTES:
            lengths = [length + len(parts[0]), *map(len, parts[1:])]
            too_long = next(i for i, n in enumerate(lengths) if n > _MAX_CSV_LINE_BYTES)
            raise ValueError(
                f"{path}: line {line + too_long} is longer than {_MAX_CSV_LINE_BYTES:,} bytes; "
                "this is not a table gaussmix can read (is it a CSV file?)."
            )
        if len(parts) > 1:
            count += (not blank or bool(parts[0].strip())) + sum(
                1 for part in parts[1:-1] if part.strip()
            )
            line += len(parts) - 1
            length, blank = len(parts[-1]), not parts[-1].strip()
        else:
            length, blank = length + len(piece), blank and not piece.strip()
    return count + (not blank)


def _check_first_row(path: Path, n_fields: int) -> None:
    """Refuse a first data row longer than the header.

    pandas reports a long row as an error, except the first one, which it would
    take as holding an index column and cut short.
    """
    try:
        with open_regular_file(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            reader = csv.reader(text)
            rows = (row for row in reader if row)
            next(rows, None)  # the header
            row = next(rows, None)
    except UnicodeDecodeError as exc:
        raise ValueError(_not_utf8(path, exc)) from None
    except csv.Error as exc:
        raise ValueError(f"{path} cannot be read as CSV ({exc}).") from None
    if row is not None and len(row) > n_fields:
        raise ValueError(_long_row(path, reader.line_num, len(row), n_fields))


def _long_row(path: Path, line: int | str, n_found: int | str, n_fields: int | str) -> str:
    return (
        f"{path}: line {line} has {n_found} fields, but the header names {n_fields} columns. "
        "Fix that line (a field that holds a comma must be quoted)."
    )


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    return (
        f"{path} is not UTF-8 text ({exc.reason}: byte 0x{exc.object[exc.start]:02x}); "
        "save it as UTF-8 CSV."
    )


@contextlib.contextmanager
def _csv_errors(path: Path, pd) -> Iterator[None]:
    """pandas' errors while reading ``path`` as ValueErrors that name it (and the line)."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise ValueError(_not_utf8(path, exc)) from None
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path} is empty: a CSV file needs a header row naming its columns."
        ) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            expected, line, seen = found.groups()
            raise ValueError(_long_row(path, line, seen, expected)) from None
        raise ValueError(f"{path} cannot be read as CSV ({_one_line(exc)}).") from None


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
    selected = []
    for c in columns:
        if isinstance(c, int | np.integer) and not isinstance(c, bool | np.bool_):
            if not 0 <= c < len(names):
                raise ValueError(
                    f"{path} has {len(names)} columns; a column given by position must be an "
                    f"integer in [0, {len(names)}), got {c!r}. Its columns are {names}."
                )
            selected.append(names[c])
        else:
            selected.append(str(c))
    missing = [c for c in selected if c not in names]
    if missing:
        raise ValueError(f"{path} has no column(s) {missing}; its columns are {names}.")
    return selected


def _column_indices(columns, n_columns: int, path: Path) -> list[int] | None:
    if columns is None:
        return None
    indices = []
    for c in columns:
        if (
            not isinstance(c, int | np.integer)
            or isinstance(c, bool | np.bool_)
            or not 0 <= c < n_columns
        ):
            raise ValueError(
                f"{path} has {n_columns} unnamed columns; columns must be integers in "
                f"[0, {n_columns}), got {c!r}."
            )
        indices.append(int(c))
    return indices


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


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


def _arrow_errors() -> tuple[type[BaseException], ...]:
    """What pyarrow raises for a file it cannot read.

    ArrowInvalid is a ValueError and ArrowIOError an OSError; ArrowNotImplementedError
    (an unsupported codec, say) is neither.
    """
    import pyarrow as pa

    return (pa.ArrowException, ValueError, OSError)


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
    try:
        open_regular_file(path).close()
    except NotRegularFileError as exc:
        raise NotRegularFileError(path, exc.kind, _SEVERAL_READS) from None
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
