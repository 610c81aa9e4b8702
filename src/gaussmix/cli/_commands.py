"""The work behind the ``gaussmix`` commands: typed functions, free of click.

Each command in :mod:`gaussmix.cli` parses its arguments and calls the
functions here, which tests call directly. Errors follow one rule: anything
wrong with what the user gave (an option value, a column, the data file's
contents) raises :class:`InputError`, which the command line turns into exit
status 2; a failure of the computation or of a model file raises anything else
(exit status 1).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import numpy as np

from ..covariance import get_covariance_model
from ..exceptions import InvalidParameterError
from ..io import DataSource, open_data
from ..io._atomic import temporary_path, write_atomically
from ._progress import EMBar, SelectionBar, rows_bar

if TYPE_CHECKING:
    import pandas as pd

    from .._mixture import GaussianMixture
    from .._selection import ModelSelection

__all__ = [
    "DEFAULT_MAX_ITER",
    "DEFAULT_TOL",
    "IN_MEMORY_BYTES",
    "TABLE_FORMATS",
    "FitOutcome",
    "InputError",
    "check_report_available",
    "check_table_path",
    "describe_model",
    "fit_model",
    "fit_summary",
    "format_description",
    "open_for_model",
    "open_input",
    "parse_columns",
    "parse_components",
    "parse_covariance",
    "predict_table",
    "read_data",
    "report_data",
    "run_demo",
    "sample_blocks",
    "sample_table",
    "score_table",
    "select_columns",
    "write_report",
    "write_table",
    "write_table_blocks",
]

#: Output tables by file extension.
TABLE_FORMATS: dict[str, Literal["csv", "parquet"]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: DATA is read into memory for ``fit`` when its values take at most this many
#: bytes (as float64); larger files are re-read on every EM pass.
IN_MEMORY_BYTES = 1 << 30
#: ``fit``'s defaults, those of :func:`gaussmix.select_model`: criteria compare
#: log-likelihoods to a fraction of a unit, so each fit runs closer to
#: convergence than GaussianMixture's own defaults (1e-3, 100).
DEFAULT_TOL = 1e-5
DEFAULT_MAX_ITER = 1000
#: The report gets at most this many rows of DATA when DATA is not in memory.
REPORT_ROWS = 100_000
#: ``sample`` draws and writes this many rows at a time.
SAMPLE_BLOCK_ROWS = 1 << 16

_NAMED_SUFFIXES = (".csv", ".parquet", ".pq")


class InputError(ValueError):
    """The command line or the data it names cannot be used (exit status 2)."""


# ------------------------------------------------------------------- parsing


def parse_components(text: str) -> list[int]:
    """Numbers of components from ``"3"``, ``"1-9"``, ``"2,4,6"`` or a mix (``"1-3,8"``).

    Returns
    -------
    list of int
        Sorted, distinct, each at least 1.

    Raises
    ------
    InputError
        If ``text`` is not of that form.
    """
    counts: set[int] = set()
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise InputError(
                f"expected a number (3), a range (1-9) or a comma-separated list (2,4,6) "
                f"of component counts; got {text!r}."
            )
        low = int(match[1])
        high = int(match[2]) if match[2] else low
        if low < 1 or high < low:
            raise InputError(
                f"component counts are at least 1 and ranges go upwards (1-9); got {text!r}."
            )
        counts.update(range(low, high + 1))
    return sorted(counts)


def parse_covariance(text: str) -> list[str] | Literal["all"]:
    """Covariance models from ``"auto"`` (all of them), one name or a comma-separated list.

    Names are looked up in the registry of :mod:`gaussmix.covariance` (scikit-learn's
    names and mclust's three-letter names), ignoring case.

    Returns
    -------
    "all" or list of str
        ``"all"`` for ``"auto"``/``"all"``, else the names in the registry's spelling,
        one per model (``"full"`` and ``"VVV"`` are one), in the order given.

    Raises
    ------
    InputError
        If a name is unknown; the message lists the known names.
    """
    names = [name.strip() for name in str(text).split(",")]
    if len(names) == 1 and names[0].lower() in ("auto", "all"):
        return "all"
    if not all(names):
        raise InputError(f"expected 'auto' or model names separated by commas; got {text!r}.")
    resolved: dict[str, str] = {}  # by mclust's name: "full" and "VVV" are one model
    for name in names:
        for candidate in (name, name.upper(), name.lower()):
            try:
                model = get_covariance_model(candidate)
            except InvalidParameterError:
                continue
            resolved.setdefault(model.mclust_name, candidate)
            break
        else:
            try:
                get_covariance_model(name)
            except InvalidParameterError as exc:
                raise InputError(f"{exc} Use 'auto' to try them all.") from None
    return list(resolved.values())


def parse_columns(text: str | None, data: Path) -> list[str] | list[int] | None:
    """The columns ``--columns`` names: names for CSV and Parquet, 0-based positions for .npy.

    Raises
    ------
    InputError
        For an empty name, or a position that is not an integer for a ``.npy`` file.
    """
    if text is None:
        return None
    parts = [part.strip() for part in str(text).split(",")]
    if not all(parts):
        raise InputError(f"--columns takes names separated by commas; got {text!r}.")
    if Path(data).suffix.lower() != ".npy":
        return parts
    try:
        return [int(part) for part in parts]
    except ValueError:
        raise InputError(
            f"{data} is a .npy file, whose columns have no names: give --columns as 0-based "
            f"positions (e.g. 0,2,3); got {text!r}."
        ) from None


def check_table_path(path: Path) -> Literal["csv", "parquet"]:
    """The format of an output table, from its extension.

    Raises
    ------
    InputError
        Unless the extension is ``.csv``, ``.parquet`` or ``.pq``.
    """
    kind = TABLE_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(
            f"cannot tell the format of {str(path)!r} from its extension: use .csv or .parquet."
        )
    return kind


# ---------------------------------------------------------------------- data


def _cli_wording(message: str) -> str:
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
        raise InputError(_cli_wording(str(exc))) from None


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


def _check_features(model: Any, source: DataSource) -> None:
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


def _blocks(source: DataSource) -> Iterator[np.ndarray]:
    """The source's blocks; what is wrong with the data is an input error."""
    blocks = source.blocks()
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            return
        except ValueError as exc:
            raise InputError(_cli_wording(str(exc))) from None
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
        for block in _blocks(source):
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


def _model_input(model: Any, block: np.ndarray) -> Any:
    """A block as the model expects it: named like its features, if it has names."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return block
    import pandas as pd

    return pd.DataFrame(block, columns=names, copy=False)


# ----------------------------------------------------------------------- fit


@dataclass
class FitOutcome:
    """What :func:`fit_model` gives back.

    Attributes
    ----------
    estimator : GaussianMixture
        The fitted model (the best one of a selection).
    selection : ModelSelection or None
        The selection, when more than one (components, covariance) cell was fitted.
    warnings : list of str
        Warnings raised during a direct fit (a selection records them in its table).
    """

    estimator: GaussianMixture
    selection: ModelSelection | None = None
    warnings: list[str] = field(default_factory=list)


def fit_model(
    X: Any,
    *,
    components: Sequence[int],
    covariance: Sequence[str] | Literal["all"] = "all",
    criterion: Literal["bic", "icl", "aic"] = "bic",
    init: str = "hc",
    n_init: int = 1,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> FitOutcome:
    """Fit one model, or select the best of several by ``criterion``.

    One number of components and one covariance model fit a
    :class:`~gaussmix.GaussianMixture` directly; anything more runs
    :func:`gaussmix.select_model` over every cell.

    Parameters
    ----------
    X : array-like or DataSource
        Checked data, from :func:`read_data`.
    components : sequence of int
        Numbers of components to try.
    covariance : "all" or sequence of str
        Covariance models to try.
    criterion : {"bic", "icl", "aic"}
        Chooses among several cells.
    init, n_init, max_iter, tol
        GaussianMixture's ``init_params``, ``n_init``, ``max_iter`` and ``tol``.
    seed : int or None
        ``random_state``.
    n_jobs : int or None
        Cells fitted at once by a selection.
    progress : bool or None
        Progress bar on standard error (None: when it is a terminal).

    Returns
    -------
    FitOutcome

    Raises
    ------
    InputError
        For an invalid ``init`` (or other parameter), or more components than rows.
    RuntimeError
        If the fit, or every cell of a selection, failed.
    """
    from .._mixture import GaussianMixture

    params = dict(init_params=init, n_init=n_init, max_iter=max_iter, tol=tol)
    try:
        # Checked before anything touches the data.
        GaussianMixture(**params)._check_params()
    except InvalidParameterError as exc:
        raise InputError(str(exc).replace("init_params", "--init")) from None
    n_rows = np.shape(X)[0]
    if max(components) > n_rows:
        raise InputError(
            f"cannot fit {max(components)} components to {n_rows} rows; ask for at most "
            f"{n_rows} with --components."
        )
    try:
        return _fit(X, components, covariance, criterion, params, seed, n_jobs, progress)
    except (InputError, InvalidParameterError):
        raise
    except (ValueError, ArithmeticError) as exc:
        raise RuntimeError(f"fitting failed: {exc}") from exc


def _fit(X, components, covariance, criterion, params, seed, n_jobs, progress) -> FitOutcome:
    from .._em import em_progress
    from .._mixture import GaussianMixture
    from .._selection import _model_names, select_model

    if len(components) == 1 and covariance != "all" and len(covariance) == 1:
        estimator = GaussianMixture(
            n_components=components[0],
            covariance_type=covariance[0],
            random_state=seed,
            **params,
        )
        with warnings.catch_warnings(record=True) as caught, EMBar(progress) as bar:
            # Recorded and shown as one line each, rather than with file and line.
            warnings.simplefilter("always")
            with em_progress(bar):
                estimator.fit(X)
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        return FitOutcome(estimator, None, messages)
    total = len(components) * len(_model_names(covariance))
    with SelectionBar(total, criterion, progress) as bar:
        selection = select_model(
            X,
            n_components=list(components),
            covariance_types=covariance,
            criterion=criterion,
            random_state=seed,
            n_jobs=n_jobs,
            callback=bar,
            **params,
        )
    return FitOutcome(selection.best_estimator_, selection)


def _covariance_label(name: str) -> str:
    """mclust's name, and scikit-learn's where it has one: ``"VVV (full)"``."""
    model = get_covariance_model(name)
    if model.name == model.mclust_name:
        return model.mclust_name
    return f"{model.mclust_name} ({model.name})"


def fit_summary(outcome: FitOutcome, X: Any, criterion: str = "bic") -> str:
    """A few lines on the fitted model (and the selection) for the terminal."""
    if outcome.selection is not None:
        return outcome.selection.summary()
    gm = outcome.estimator
    n_rows, n_features = np.shape(X)
    label = _covariance_label(gm.covariance_type)
    log_likelihood = gm.score(X) * n_rows
    converged = (
        f"converged in {gm.n_iter_} iterations"
        if gm.converged_
        else f"did NOT converge in {gm.n_iter_} iterations (raise --max-iter or --tol)"
    )
    values = [f"log-likelihood {log_likelihood:.2f}", f"BIC {gm.bic(X):.2f}"]
    if criterion != "bic":
        values.append(f"{criterion.upper()} {getattr(gm, criterion)(X):.2f}")
    return (
        f"{label} with {gm.n_components} component(s) on {n_rows} rows x {n_features} "
        f"features: {converged}; {', '.join(values)} (lower is better)."
    )


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


# ------------------------------------------------------------ predict, score


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

    _check_features(model, source)
    labels, probabilities, uncertainty = [], [], []
    with rows_bar(source.n_rows, "Predicting", progress) as bar:
        for block in _blocks(source):
            X = _model_input(model, block)
            labels.append(model.predict(X))
            if proba:
                probabilities.append(model.predict_proba(X))
                uncertainty.append(model.uncertainty(X))
            bar.update(block.shape[0])
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

    _check_features(model, source)
    detector = contamination is None and hasattr(model, "offset_")
    densities, flags = [], []
    with rows_bar(source.n_rows, "Scoring", progress) as bar:
        for block in _blocks(source):
            X = _model_input(model, block)
            densities.append(model.score_samples(X))
            if detector:
                flags.append(np.asarray(model.predict(X)) == -1)
            bar.update(block.shape[0])
    log_density = np.concatenate(densities).astype(np.float64, copy=False)
    table = pd.DataFrame({"log_density": log_density})
    if contamination is not None:
        if not 0 < contamination <= 0.5:
            raise InputError(f"contamination must be in (0, 0.5]; got {contamination!r}.")
        table["outlier"] = log_density < np.quantile(log_density, contamination)
    elif detector:
        table["outlier"] = np.concatenate(flags)
    return table


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


# ------------------------------------------------------------------- inspect


def _model_file_header(path: Path) -> dict[str, Any]:
    """The format and gaussmix versions recorded in a model file."""
    from ..io._model_files import read_metadata

    metadata = read_metadata(path)
    return {
        "format_version": metadata.get("format_version"),
        "gaussmix_version": metadata.get("gaussmix_version"),
    }


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready Python (non-finite floats become None)."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return type(value).__name__


def describe_model(model: Any, path: Path | None = None) -> dict[str, Any]:
    """What a fitted model is, as a JSON-ready dict.

    Keys: ``file``, ``format_version`` and ``gaussmix_version`` (with ``path``),
    ``class``, ``covariance_type``, ``mclust_name``, ``n_components``,
    ``n_features``, ``feature_names`` (or None), ``dtype``, ``n_parameters``,
    ``converged``, ``n_iter``, ``lower_bound`` (mean log-likelihood per row of
    the training data), ``weights``, ``means``, ``covariances``, ``params`` (the
    constructor's parameters) and, for a detector, ``offset``.
    """
    info: dict[str, Any] = {}
    if path is not None:
        info["file"] = str(path)
        info.update(_model_file_header(Path(path)))
    info["class"] = type(model).__name__
    covariance_type = getattr(model, "covariance_type", None)
    if covariance_type is not None:
        info["covariance_type"] = covariance_type
        info["mclust_name"] = get_covariance_model(covariance_type).mclust_name
    means = np.asarray(getattr(model, "means_", np.empty((0, 0))))
    info["n_components"] = getattr(model, "n_components", means.shape[0])
    info["n_features"] = int(getattr(model, "n_features_in_", means.shape[1]))
    names = getattr(model, "feature_names_in_", None)
    info["feature_names"] = None if names is None else [str(n) for n in names]
    info["dtype"] = str(means.dtype)
    if hasattr(model, "_n_parameters"):
        info["n_parameters"] = int(model._n_parameters())
    for key, attribute in (
        ("converged", "converged_"),
        ("n_iter", "n_iter_"),
        ("lower_bound", "lower_bound_"),
        ("offset", "offset_"),
        ("weights", "weights_"),
        ("means", "means_"),
        ("covariances", "covariances_"),
    ):
        if hasattr(model, attribute):
            info[key] = getattr(model, attribute)
    if hasattr(model, "get_params"):
        info["params"] = model.get_params(deep=False)
    return _plain(info)


#: Columns of means shown by :func:`format_description`; --json shows all.
_SHOWN_FEATURES = 8


def format_description(info: dict[str, Any]) -> str:
    """:func:`describe_model`'s dict as text for the terminal."""
    lines = []
    if "file" in info:
        lines.append(
            f"{info['file']}: {info['class']}, model file format {info['format_version']} "
            f"(written by gaussmix {info['gaussmix_version']})"
        )
    else:
        lines.append(info["class"])
    rows: list[tuple[str, str]] = []
    if "covariance_type" in info:
        rows.append(("covariance", _covariance_label(info["covariance_type"])))
    rows.append(("components", str(info["n_components"])))
    names = info["feature_names"]
    features = str(info["n_features"])
    if names is not None:
        features += ": " + ", ".join(names)
    rows.append(("features", features))
    rows.append(("dtype", info["dtype"]))
    if "n_parameters" in info:
        rows.append(("parameters", str(info["n_parameters"])))
    if "converged" in info:
        state = "yes" if info["converged"] else "NO"
        rows.append(("converged", f"{state} ({info['n_iter']} iterations)"))
    if info.get("lower_bound") is not None:
        rows.append(("lower bound", f"{info['lower_bound']:.6g} (mean log-likelihood per row)"))
    if info.get("offset") is not None:
        rows.append(("outlier offset", f"{info['offset']:.6g}"))
    width = max(len(key) for key, _ in rows)
    lines.extend(f"  {key:<{width}}  {value}" for key, value in rows)
    if "weights" in info and "means" in info:
        lines.append("")
        lines.append(_component_table(info))
    return "\n".join(lines)


def _component_table(info: dict[str, Any]) -> str:
    n_features = info["n_features"]
    names = info["feature_names"] or [f"x{j}" for j in range(n_features)]
    shown = min(n_features, _SHOWN_FEATURES)
    header = ["component", "weight", *(f"mean {name}" for name in names[:shown])]
    body = [
        [str(k), f"{weight:.4f}", *(f"{value:.6g}" for value in mean[:shown])]
        for k, (weight, mean) in enumerate(zip(info["weights"], info["means"], strict=True))
    ]
    widths = [max(len(row[j]) for row in [header, *body]) for j in range(len(header))]
    lines = [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *body]
    ]
    if shown < n_features:
        lines.append(f"(means of the first {shown} of {n_features} features; --json shows all)")
    return "\n".join(lines)


# ---------------------------------------------------------------------- demo


def run_demo(out_dir: Path, *, figures: bool = True, quiet: bool = False) -> dict[str, Any]:
    """Run :func:`gaussmix.demo.run_demo` and write its report next to its figures.

    Parameters
    ----------
    out_dir : Path
        Directory for the figures and ``report.html``.
    figures : bool
        Draw the figures and write the report (both need matplotlib).
    quiet : bool
        Do not print the demo's metrics.

    Returns
    -------
    dict
        :func:`gaussmix.demo.run_demo`'s result, with ``"report"``: the report's
        path, or None when there is none (no figures, or no :mod:`gaussmix.report`
        in this installation).
    """
    from ..demo import run_demo as _run_demo

    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        result = _run_demo(out_dir, make_figures=figures)
    # run_demo writes the report (with its model selection) when it draws figures.
    result.setdefault("report", None)
    return result
