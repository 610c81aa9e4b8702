"""``gaussmix predict``, ``score`` and ``sample``: tables of rows, written in blocks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from ..covariance import get_covariance_model
from ..io import DataSource, write_atomically
from ._errors import InputError
from ._input import check_features, data_blocks, model_input
from ._parsing import check_table_path
from ._progress import rows_bar

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SAMPLE_BLOCK_ROWS",
    "predict_table",
    "sample_blocks",
    "sample_table",
    "score_table",
    "write_table",
    "write_table_blocks",
]

#: ``sample`` draws and writes this many rows at a time.
SAMPLE_BLOCK_ROWS = 1 << 16


def predict_table(
    model: Any, source: DataSource, *, proba: bool = False, progress: bool | None = None
) -> pd.DataFrame:
    """The most probable component of each row of DATA, in DATA's order.

    Parameters
    ----------
    model : GaussianMixture
    source : DataSource
        DATA with the model's columns (see :func:`select_columns`).
    proba : bool
        Also the posterior probability of each component, ``p0`` ... ``p{K-1}``, and
        the classification uncertainty ``1 - max_k p_k``.
    progress : bool or None
        Progress bar on standard error (None: when it is a terminal).

    Returns
    -------
    pandas.DataFrame
        Column ``component`` (and with ``proba``, ``p0`` ... and ``uncertainty``).

    Raises
    ------
    InputError
        If DATA's columns do not match the model's, or hold non-numeric or
        non-finite values.
    """
    import pandas as pd

    labels, probabilities, uncertainty = [], [], []
    for X in _model_inputs(model, source, "Predicting", progress):
        labels.append(model.predict(X))
        if proba:
            probabilities.append(model.predict_proba(X))
            uncertainty.append(model.uncertainty(X))
    table = pd.DataFrame({"component": np.concatenate(labels).astype(np.int64)})
    if proba:
        resp = np.concatenate(probabilities)
        for k in range(resp.shape[1]):
            table[f"p{k}"] = resp[:, k]
        table["uncertainty"] = np.concatenate(uncertainty)
    return table


def score_table(
    model: Any,
    source: DataSource,
    *,
    contamination: float | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The log-density of each row of DATA under the model, and optionally outlier flags.

    Parameters
    ----------
    model : GaussianMixture or outlier detector
        Anything with ``score_samples``. A detector (a model with ``offset_``, such
        as :class:`gaussmix.OutlierDetector`) flags outliers by its own threshold
        (``predict(X) == -1``) unless ``contamination`` is given.
    source : DataSource
    contamination : float in (0, 0.5] or None
        Flag the rows whose log-density is below the ``contamination`` quantile of
        these rows' log-densities (``numpy.quantile``, linear interpolation), as
        scikit-learn's detectors set their threshold: about that fraction of the
        rows, the least likely ones.
    progress : bool or None
        Progress bar on standard error (None: when it is a terminal).

    Returns
    -------
    pandas.DataFrame
        Column ``log_density``, and ``outlier`` (bool) with ``contamination`` or a
        detector.

    Raises
    ------
    InputError
        If DATA's columns do not match the model's, or hold non-numeric or
        non-finite values.
    """
    import pandas as pd

    if contamination is not None and not 0 < contamination <= 0.5:
        raise InputError(f"contamination must be in (0, 0.5]; got {contamination!r}.")
    detector = contamination is None and hasattr(model, "offset_")
    densities, flags = [], []
    for X in _model_inputs(model, source, "Scoring", progress):
        densities.append(model.score_samples(X))
        if detector:
            flags.append(np.asarray(model.predict(X)) == -1)
    log_density = np.concatenate(densities).astype(np.float64, copy=False)
    table = pd.DataFrame({"log_density": log_density})
    if contamination is not None:
        table["outlier"] = log_density < np.quantile(log_density, contamination)
    elif detector:
        table["outlier"] = np.concatenate(flags)
    return table


def _model_inputs(
    model: Any, source: DataSource, action: str, progress: bool | None
) -> Iterator[Any]:
    """DATA block by block as the model's input, counted on a progress bar of rows."""
    check_features(model, source)
    with rows_bar(source.n_rows, action, progress) as bar:
        for block in data_blocks(source):
            yield model_input(model, block)
            bar.update(block.shape[0])


def _free_name(name: str, taken: Sequence[str]) -> str:
    while name in taken:
        name = f"_{name}"
    return name


def sample_blocks(
    model: Any,
    n_samples: int,
    *,
    seed: int | None = None,
    block_rows: int | None = None,
) -> Iterator[pd.DataFrame]:
    """``n_samples`` rows drawn from the model, in tables of at most ``block_rows`` rows.

    The rows are those of :meth:`GaussianMixture.sample` from the same random
    state, in the same order: the number of rows of each component comes from
    one multinomial draw, then each component's rows are drawn in turn, block by
    block. A component's rows are linear transforms of standard normals, which
    the random state gives in the same sequence however they are split into
    blocks, so only rounding in the transform can differ (far below 1e-12).
    Memory holds one block whatever ``n_samples``.

    Parameters
    ----------
    model : GaussianMixture
    n_samples : int
        At least 1.
    seed : int or None
        Seeds the draw; None uses the model's own ``random_state`` (a model saved
        with an integer seed then draws the same rows every time).
    block_rows : int or None
        Rows per table; None: :data:`SAMPLE_BLOCK_ROWS`.

    Yields
    ------
    pandas.DataFrame
        One column per feature, named as the model's features (``x0``, ``x1``,
        ... when it has no names), then ``component``; rows grouped by component.

    Raises
    ------
    InputError
        If ``model`` is not a fitted mixture (an outlier detector, say).
    """
    import pandas as pd
    from sklearn.utils import check_random_state

    if not all(hasattr(model, name) for name in ("weights_", "means_", "covariances_")):
        raise InputError(
            f"the model is a {type(model).__name__}, which does not draw samples; "
            "gaussmix sample draws from a GaussianMixture."
        )
    covariance = get_covariance_model(model.covariance_type)
    # GaussianMixture.sample's draws, in the same order (it works in float64 too).
    weights = np.asarray(model.weights_, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    covariances = np.asarray(model.covariances_, dtype=np.float64)
    rng = check_random_state(model.random_state if seed is None else seed)
    counts = rng.multinomial(n_samples, weights / weights.sum())
    names = getattr(model, "feature_names_in_", None)
    columns = (
        [str(name) for name in names]
        if names is not None
        else [f"x{j}" for j in range(means.shape[1])]
    )
    label = _free_name("component", columns)
    block_rows = block_rows or SAMPLE_BLOCK_ROWS
    ends = np.cumsum(counts)
    starts = ends - counts
    for start in range(0, n_samples, block_rows):
        stop = min(start + block_rows, n_samples)
        # Rows of each component that fall in [start, stop) of the grouped order.
        block_counts = np.clip(np.minimum(ends, stop) - np.maximum(starts, start), 0, None)
        X = covariance.sample(rng, means, covariances, block_counts)
        table = pd.DataFrame(X.astype(model.means_.dtype, copy=False), columns=columns)
        table[label] = np.repeat(np.arange(len(counts), dtype=np.int64), block_counts)
        yield table


def sample_table(model: Any, n_samples: int, *, seed: int | None = None) -> pd.DataFrame:
    """All of :func:`sample_blocks`' rows in one table (for small ``n_samples``).

    Returns
    -------
    pandas.DataFrame
        One column per feature, then ``component``; the rows of
        :meth:`GaussianMixture.sample` from the same seed.
    """
    import pandas as pd

    return pd.concat(list(sample_blocks(model, n_samples, seed=seed)), ignore_index=True)


def write_table(table: pd.DataFrame, path: Path | None, stream: TextIO | None = None) -> None:
    """Write ``table`` to ``path`` (CSV or Parquet by extension), or as CSV to ``stream``.

    As :func:`write_table_blocks` with one block.
    """
    write_table_blocks([table], path, stream)


def write_table_blocks(
    blocks: Iterable[pd.DataFrame], path: Path | None, stream: TextIO | None = None
) -> int:
    """Write tables with the same columns one after the other, as one table.

    To ``path`` (CSV or Parquet by extension), or as CSV to ``stream``. Each
    block is written as it comes, so memory holds one block. A file is written
    to a temporary file in its directory and renamed over ``path`` once
    complete: an existing file is replaced whole or not at all, and a failure
    (or Ctrl-C) leaves no partial file.

    Returns
    -------
    int
        The number of rows written.

    Raises
    ------
    InputError
        If ``path``'s extension is not ``.csv``, ``.parquet`` or ``.pq``.
    OSError
        If the file cannot be written; it names ``path``.
    """
    written = 0
    if path is None:
        for block in blocks:
            block.to_csv(stream, index=False, header=written == 0)
            written += len(block)
        return written
    kind = check_table_path(path)

    def write_csv(handle) -> None:
        nonlocal written
        for block in blocks:
            block.to_csv(handle, index=False, header=written == 0)
            written += len(block)

    def write_parquet(handle) -> None:
        nonlocal written
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for block in blocks:
                schema = None if writer is None else writer.schema
                table = pa.Table.from_pandas(block, schema=schema, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(handle, table.schema)
                writer.write_table(table)
                written += len(block)
        finally:
            if writer is not None:
                writer.close()

    write_atomically(Path(path), write_csv if kind == "csv" else write_parquet)
    return written
