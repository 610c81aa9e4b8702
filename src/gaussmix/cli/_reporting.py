"""``gaussmix fit --report``: the rows a report is drawn from, and writing it atomically."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import DataSource, temporary_path

if TYPE_CHECKING:
    from .._selection import ModelSelection

__all__ = [
    "REPORT_ROWS",
    "ReportUnavailable",
    "check_report_available",
    "report_data",
    "write_report",
]

#: The report gets at most this many rows of DATA when DATA is not in memory.
REPORT_ROWS = 100_000


def report_data(X: Any, *, seed: int | None = None) -> Any:
    """The rows a report is drawn from: ``X``, or a random sample of a file's rows."""
    if not isinstance(X, DataSource):
        return X
    indices = np.arange(X.n_rows)
    if X.n_rows > REPORT_ROWS:
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(X.n_rows, REPORT_ROWS, replace=False))
    rows = X.read_rows(indices)
    if X.feature_names is None:
        return rows
    import pandas as pd

    return pd.DataFrame(rows, columns=list(X.feature_names), copy=False)


class ReportUnavailable(RuntimeError):
    """``gaussmix.report`` cannot be imported in this installation."""


def _report_writer() -> Any:
    try:
        from ..report import write_report
    except ModuleNotFoundError as exc:
        if exc.name not in ("gaussmix.report", "gaussmix"):
            raise
        raise ReportUnavailable(
            "writing a report needs gaussmix.report, which this installation of gaussmix "
            "does not have."
        ) from None
    return write_report


def check_report_available() -> None:
    """Raise :class:`ReportUnavailable` unless a report can be written."""
    _report_writer()


def write_report(
    path: Path,
    estimator: Any,
    X: Any,
    *,
    selection: ModelSelection | None = None,
    title: str | None = None,
) -> Path:
    """Write the HTML report of :mod:`gaussmix.report` to ``path``, atomically.

    The report is written to a temporary file in ``path``'s directory and renamed
    over ``path`` once complete; on failure no file is left behind.

    Raises
    ------
    ReportUnavailable
        If :mod:`gaussmix.report` is not part of this installation.
    """
    _write_report = _report_writer()
    path = Path(path)
    # The temporary name keeps the suffix, in case the writer goes by it.
    with temporary_path(path, suffix=path.suffix) as temporary:
        written = temporary
        try:
            written = Path(
                _write_report(temporary, estimator, X, selection=selection, title=title)
            )
            if written != temporary:
                os.replace(written, temporary)
        except BaseException:
            with contextlib.suppress(OSError):
                written.unlink()
            raise
    return path
