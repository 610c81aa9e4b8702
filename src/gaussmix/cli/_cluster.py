"""``--scheduler``: run ``fit``, ``predict`` and ``score`` on a Dask cluster.

DATA (Parquet or CSV) is read by Dask on the workers; the fit's passes run there,
and the client receives statistics and the start's sample. ``predict`` and
``score`` compute their output columns on the workers and gather those columns
(not the data) to write the table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..backends import DaskRows, dask_rows
from ._errors import InputError

__all__ = ["cluster_client", "cluster_predict_table", "cluster_score_table", "read_on_cluster"]

_INSTALL_HINT = "--scheduler needs Dask: pip install 'gaussmix[dask]'."


@contextmanager
def cluster_client(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` connected to the scheduler at ``address``, closed after.

    Raises
    ------
    InputError
        When Dask is not installed or the scheduler cannot be reached.
    """
    try:
        import distributed
    except ImportError:
        raise InputError(_INSTALL_HINT) from None
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        raise InputError(
            f"Could not connect to the Dask scheduler at {address!r} ({error}); start one "
            "with `dask scheduler` and give the address it prints (tcp://HOST:8786)."
        ) from None
    with client:
        yield client


def read_on_cluster(path: Path, columns: Sequence[str] | None, model: Any = None) -> DaskRows:
    """DATA as the rows of a Dask DataFrame read by the workers.

    Parameters
    ----------
    path : Path
        A ``.parquet``/``.pq`` or ``.csv`` file (or a directory of Parquet files).
    columns : sequence of str or None
        The columns to use; None: the model's own columns when it has names, else
        every column.
    model : fitted estimator or None
    """
    import dask.dataframe as dd

    suffix = path.suffix.lower()
    if columns is None and model is not None:
        names = getattr(model, "feature_names_in_", None)
        columns = None if names is None else [str(name) for name in names]
    if suffix in (".parquet", ".pq") or path.is_dir():
        frame = dd.read_parquet(str(path))
    elif suffix == ".csv":
        frame = dd.read_csv(str(path))
    else:
        raise InputError(
            f"--scheduler reads Parquet or CSV files; {path.name} is neither. Convert it, "
            "or leave out --scheduler."
        )
    if columns is not None:
        missing = [name for name in columns if name not in frame.columns]
        if missing:
            raise InputError(
                f"{path.name} has no column(s) {missing}; its columns are {list(frame.columns)}."
            )
        frame = frame[list(columns)]
    try:
        return dask_rows(frame)
    except ValueError as error:
        raise InputError(f"{path.name}: {error}") from None


def cluster_predict_table(model: Any, rows: DaskRows, *, proba: bool = False):
    """:func:`~gaussmix.cli._tables.predict_table`'s columns, computed on the cluster."""
    import dask
    import numpy as np
    import pandas as pd

    lazy = [model.predict(rows)]
    if proba:
        lazy += [model.predict_proba(rows), model.uncertainty(rows)]
    computed = dask.compute(*lazy)
    table = pd.DataFrame({"component": np.asarray(computed[0]).astype(np.int64)})
    if proba:
        resp = computed[1]
        for k in range(resp.shape[1]):
            table[f"p{k}"] = resp[:, k]
        table["uncertainty"] = computed[2]
    return table


def cluster_score_table(model: Any, rows: DaskRows, *, contamination: float | None = None):
    """:func:`~gaussmix.cli._tables.score_table`'s columns, computed on the cluster."""
    import dask
    import numpy as np
    import pandas as pd

    detector = contamination is None and hasattr(model, "offset_")
    lazy = [model.score_samples(rows)]
    if detector:
        lazy.append(model.predict(rows) == -1)
    computed = dask.compute(*lazy)
    log_density = np.asarray(computed[0]).astype(np.float64, copy=False)
    table = pd.DataFrame({"log_density": log_density})
    if contamination is not None:
        table["outlier"] = log_density < np.quantile(log_density, contamination)
    elif detector:
        table["outlier"] = np.asarray(computed[1])
    return table
