"""The ``gaussmix`` command line: thin click commands over library functions.

Each command parses its arguments, calls the typed functions that do the work
(testable without click: ``_parsing`` for option values, ``_input`` for DATA,
``_fitting``, ``_reporting``, ``_tables`` for predict/score/sample, ``_describe``
and ``_demo``) and writes its output atomically. Heavy modules are imported inside the
commands, so ``gaussmix --help`` stays quick.

Exit status: 0 on success; 1 when the computation fails or a model file is
rejected; 2 when the command line or its data cannot be used (click's usage
errors, a missing file, an unknown column, non-numeric values, NaN). Every
error is one line, ``Error: ...``, on standard error.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["main"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Failure(click.ClickException):
    """An error shown as one line, ``Error: ...``, with its exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _usage_failure(exc: click.UsageError) -> _Failure:
    """A usage error as one line, like every other error, with where to find help."""
    # The command as people type it, whatever name the program was run under.
    path = exc.ctx.command_path.split()[1:] if exc.ctx is not None else []
    command = " ".join(["gaussmix", *path])
    return _Failure(f"{_one_line(exc.format_message())} See '{command} --help'.", 2)


def _failure(exc: Exception) -> _Failure:
    """The exit status and message for an exception out of a command."""
    from ..exceptions import InvalidParameterError, ModelFileError
    from ._errors import InputError

    if isinstance(exc, InputError | InvalidParameterError):
        return _Failure(_one_line(exc), 2)
    if isinstance(exc, ModelFileError):
        return _Failure(_one_line(exc), 1)
    if isinstance(exc, OSError) and exc.filename is not None:
        return _Failure(f"cannot write or read {exc.filename}: {exc.strerror or exc}", 1)
    if isinstance(exc, MemoryError):
        return _Failure("out of memory; try `gaussmix fit --stream` for large data", 1)
    message = _one_line(exc)
    if not isinstance(exc, ValueError | ArithmeticError | RuntimeError | ImportError):
        message = f"{type(exc).__name__}: {message} (gaussmix --debug ... shows the traceback)"
    return _Failure(message, 1)


class _Group(click.Group):
    """Turns exceptions out of a command into one-line errors and exit statuses."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise  # `gaussmix` alone shows the help
        except click.UsageError as exc:
            raise _usage_failure(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _usage_failure(exc) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader of standard output went away (`gaussmix predict ... | head`):
            # stop quietly, and keep Python from complaining at exit.
            if hasattr(sys.stdout, "fileno"):
                try:
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                except (OSError, ValueError):
                    pass
            raise click.exceptions.Exit(1) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise _failure(exc) from exc


# ------------------------------------------------------------------ arguments


class _Components(click.ParamType):
    name = "K"

    def convert(self, value: Any, param: Any, ctx: Any) -> list[int]:
        if isinstance(value, list):
            return value
        from ._errors import InputError
        from ._parsing import parse_components

        try:
            return parse_components(value)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class _Covariance(click.ParamType):
    name = "MODELS"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, list):
            return value
        from ._errors import InputError
        from ._parsing import parse_covariance

        try:
            return parse_covariance(value)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class _OutputFile(click.ParamType):
    """A file to write: its directory exists; a table's extension names its format."""

    name = "FILE"

    def __init__(self, table: bool = False) -> None:
        self.table = table

    def convert(self, value: Any, param: Any, ctx: Any) -> Path:
        path = Path(value)
        if path.is_dir():
            self.fail(f"{str(path)!r} is a directory; give a file name.", param, ctx)
        if not path.absolute().parent.is_dir():
            self.fail(
                f"the directory of {str(path)!r} does not exist; create it first.", param, ctx
            )
        if self.table:
            from ._errors import InputError
            from ._parsing import check_table_path

            try:
                check_table_path(path)
            except InputError as exc:
                self.fail(str(exc), param, ctx)
        return path


_EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
# What numpy.random.RandomState accepts as a seed.
_SEED = click.IntRange(0, 2**32 - 1)


def _check_jobs(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value == 0:
        raise click.BadParameter(
            "must be a positive number of models fitted at once, or negative (-1: every "
            "core, -2: all but one, ...); got 0.",
            ctx,
            param,
        )
    return value


_quiet = click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing but errors: no progress, no summary."
)
_columns = click.option(
    "--columns",
    metavar="A,B,...",
    help="Columns of DATA to use, comma-separated: names for CSV and Parquet, 0-based "
    "positions for .npy. Default: all for fit; the model's own columns otherwise.",
)
_scheduler = click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786): DATA, "
    "Parquet or CSV, is read and processed by the workers (needs gaussmix[dask]).",
)
_table_out = click.option(
    "-o",
    "--out",
    type=_OutputFile(table=True),
    help="Write the table to FILE, CSV or Parquet by its extension (.csv, .parquet), "
    "atomically. Default: CSV on standard output.",
)


def _show_progress(quiet: bool) -> bool | None:
    # None: a bar when standard error is a terminal.
    return False if quiet else None


def _note(message: str, quiet: bool) -> None:
    """A message for people, on standard error so that standard output stays data."""
    if not quiet:
        click.echo(message, err=True)


def _write(table: Any, out: Path | None, quiet: bool) -> None:
    from ._tables import write_table

    write_table(table, out, sys.stdout)
    if out is not None:
        _note(f"Wrote {len(table)} rows to {out}", quiet)


# ------------------------------------------------------------------- commands


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="gaussmix", prog_name="gaussmix")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def main(debug: bool) -> None:
    """Gaussian mixture models from the command line.

    Fit a mixture to a data file, choosing the number of components and the
    covariance model by BIC as mclust does; then label, score or sample with the
    saved model. DATA is a CSV file with a header row, a Parquet file or a 2-D
    .npy array.

    \b
      gaussmix fit data.csv --out model.gmm             # K = 1..9, every covariance model
      gaussmix fit data.csv -k 3 -c VVV --out model.gmm # one model, no selection
      gaussmix predict model.gmm data.csv --out labels.csv
      gaussmix score model.gmm new.parquet --contamination 0.01 --out scores.parquet
      gaussmix sample model.gmm -n 1000 --seed 0 --out synthetic.csv
      gaussmix inspect model.gmm
      gaussmix demo

    Exit status: 0 on success; 1 when the computation fails or a model file is
    rejected; 2 when the command line or its data cannot be used (a missing file,
    an unknown column, non-numeric values, NaN).
    """


@main.command()
@click.argument("data", type=_EXISTING_FILE)
@click.option(
    "-o",
    "--out",
    required=True,
    type=_OutputFile(),
    metavar="MODEL",
    help="Save the fitted model to MODEL (a gaussmix model file; .gmm is customary).",
)
@click.option(
    "-k",
    "--components",
    type=_Components(),
    default="1-9",
    show_default=True,
    help="Numbers of components to try: 3, a range 1-9, or a list 2,4,6.",
)
@click.option(
    "-c",
    "--covariance",
    type=_Covariance(),
    default="auto",
    show_default=True,
    help="Covariance models to try: auto (all of them), or names separated by commas: "
    "scikit-learn's full, tied, diag, spherical or mclust's EII, VII, ..., VVV.",
)
@click.option(
    "--criterion",
    type=click.Choice(["bic", "icl", "aic"]),
    default="bic",
    show_default=True,
    help="What chooses among several models (lower is better). ICL favours "
    "well-separated clusters.",
)
@_columns
@click.option(
    "--init",
    metavar="METHOD",
    default="hc",
    show_default=True,
    help="How EM starts: hc (mclust's hierarchical clustering), kmeans, k-means++, "
    "random or random_from_data.",
)
@click.option(
    "--n-init",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Starts per model; the best is kept.",
)
@click.option(
    "--max-iter",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Most EM iterations per start.",
)
@click.option(
    "--tol",
    type=click.FloatRange(min=0),
    default=1e-5,
    show_default=True,
    help="EM stops when the mean log-likelihood changes by less.",
)
@click.option(
    "--seed",
    type=_SEED,
    metavar="INTEGER",
    help="Random seed (0 to 2**32 - 1), for a reproducible fit.",
)
@click.option(
    "-j",
    "--jobs",
    type=int,
    callback=_check_jobs,
    help="Models fitted at once during a selection; -1 uses every core.",
)
@click.option(
    "--in-memory/--stream",
    default=None,
    help="Hold DATA in memory (fast), or re-read the file on every EM pass (for data "
    "bigger than memory). Default: in memory up to 1 GiB of values.",
)
@click.option(
    "--report",
    type=_OutputFile(),
    metavar="HTML",
    help="Also write an HTML report of the fit (and of the selection) to HTML.",
)
@_scheduler
@_quiet
def fit(
    data: Path,
    out: Path,
    components: list[int],
    covariance: Any,
    criterion: str,
    columns: str | None,
    init: str,
    n_init: int,
    max_iter: int,
    tol: float,
    seed: int | None,
    jobs: int | None,
    in_memory: bool | None,
    report: Path | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Fit a Gaussian mixture to DATA and save it to MODEL.

    With several numbers of components or covariance models, every combination
    is fitted and the best by --criterion is saved (mclust's model selection; its
    summary is printed). With one of each, that model is fitted directly. DATA is
    read once and checked (numbers only, no NaN) before any fit.

    \b
      gaussmix fit iris.csv --columns sepal_length,sepal_width --out iris.gmm
      gaussmix fit big.parquet -k 2-12 -c VVV,VEV,EEE --jobs -1 --out big.gmm
      gaussmix fit data.npy -k 4 -c diag --seed 0 --out model.gmm --report fit.html
    """
    from ..persistence import save
    from ._fitting import fit_model, fit_summary
    from ._input import open_input, read_data
    from ._parsing import parse_columns
    from ._reporting import check_report_available, report_data, write_report

    if scheduler is not None:
        from ._cluster import cluster_client, read_on_cluster
        from ._errors import InputError

        if report is not None or in_memory is not None:
            raise InputError(
                "--scheduler runs the fit on the cluster: --report, --in-memory and "
                "--stream do not apply; leave them out."
            )
        place = cluster_client(scheduler)
    else:
        if report is not None:
            check_report_available()  # before the fit, not after it
        place = contextlib.nullcontext()
    with place:
        if scheduler is not None:
            X = read_on_cluster(data, parse_columns(columns, data))
        else:
            source = open_input(data, parse_columns(columns, data))
            X = read_data(source, in_memory=in_memory, progress=_show_progress(quiet))
        outcome = fit_model(
            X,
            components=components,
            covariance=covariance,
            criterion=criterion,  # type: ignore[arg-type]
            init=init,
            n_init=n_init,
            max_iter=max_iter,
            tol=tol,
            seed=seed,
            n_jobs=jobs,
            progress=_show_progress(quiet),
        )
        for message in outcome.warnings:
            _note(f"Warning: {message}", quiet)
        save(outcome.estimator, out)
        if not quiet:
            click.echo(fit_summary(outcome, X, criterion))
            click.echo(f"Saved the model to {out}")
    if report is not None:
        write_report(
            report,
            outcome.estimator,
            report_data(X, seed=seed),
            selection=outcome.selection,
            title=f"gaussmix fit {data.name}",
        )
        _note(f"Wrote the report to {report}", quiet)


@main.command()
@click.argument("model", type=_EXISTING_FILE)
@click.argument("data", type=_EXISTING_FILE)
@_table_out
@click.option(
    "--proba",
    is_flag=True,
    help="Add each component's posterior probability (p0, p1, ...) and the "
    "uncertainty, 1 - max p.",
)
@_columns
@_scheduler
@_quiet
def predict(
    model: Path,
    data: Path,
    out: Path | None,
    proba: bool,
    columns: str | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Label each row of DATA with its most probable component of MODEL.

    Writes a column `component` (0 to K-1), one row per row of DATA, in DATA's
    order. DATA may hold other columns too: a model fitted on named columns
    reads those.

    \b
      gaussmix predict model.gmm data.csv > labels.csv
      gaussmix predict model.gmm data.parquet --proba --out posteriors.parquet
    """
    from ..persistence import load
    from ._input import open_for_model
    from ._tables import predict_table

    estimator = load(model)
    if scheduler is not None:
        from ._cluster import cluster_client, cluster_predict_table, read_on_cluster
        from ._parsing import parse_columns

        with cluster_client(scheduler):
            rows = read_on_cluster(data, parse_columns(columns, data), estimator)
            table = cluster_predict_table(estimator, rows, proba=proba)
    else:
        source = open_for_model(estimator, data, columns)
        table = predict_table(estimator, source, proba=proba, progress=_show_progress(quiet))
    _write(table, out, quiet)


@main.command()
@click.argument("model", type=_EXISTING_FILE)
@click.argument("data", type=_EXISTING_FILE)
@_table_out
@click.option(
    "--contamination",
    type=click.FloatRange(min=0, max=0.5, min_open=True),
    metavar="Q",
    help="Add a boolean column `outlier` flagging the rows whose log-density is below the "
    "Q-quantile of all rows' (about a fraction Q of them, the least likely), e.g. 0.01.",
)
@_columns
@_scheduler
@_quiet
def score(
    model: Path,
    data: Path,
    out: Path | None,
    contamination: float | None,
    columns: str | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Score each row of DATA: its log-density under MODEL.

    Writes a column `log_density`, one row per row of DATA, in DATA's order; low
    values are unlikely rows. With --contamination, also `outlier`: the
    threshold is the Q-quantile of these rows' log-densities, so the same Q flags
    the same fraction whatever the data. A saved outlier detector flags rows by
    its own threshold unless --contamination is given.

    \b
      gaussmix score model.gmm new.csv --out scores.csv
      gaussmix score model.gmm new.csv --contamination 0.01 | grep True
    """
    from ..persistence import load
    from ._input import open_for_model
    from ._tables import score_table

    estimator = load(model)
    if scheduler is not None:
        from ._cluster import cluster_client, cluster_score_table, read_on_cluster
        from ._parsing import parse_columns

        with cluster_client(scheduler):
            rows = read_on_cluster(data, parse_columns(columns, data), estimator)
            table = cluster_score_table(estimator, rows, contamination=contamination)
    else:
        source = open_for_model(estimator, data, columns)
        table = score_table(
            estimator, source, contamination=contamination, progress=_show_progress(quiet)
        )
    _write(table, out, quiet)
    if "outlier" in table:
        _note(f"Flagged {int(table['outlier'].sum())} of {len(table)} rows as outliers", quiet)


@main.command()
@click.argument("model", type=_EXISTING_FILE)
@click.option(
    "-n",
    "--samples",
    "n_samples",
    type=click.IntRange(min=1, max=2**63 - 1),
    required=True,
    help="Number of rows to draw. Any number: rows are drawn and written in blocks.",
)
@click.option(
    "--seed",
    type=_SEED,
    metavar="INTEGER",
    help="Random seed (0 to 2**32 - 1). Default: the model's own random_state (fixed if it "
    "was fitted with --seed, so the same rows come out every time).",
)
@_table_out
@_quiet
def sample(model: Path, n_samples: int, seed: int | None, out: Path | None, quiet: bool) -> None:
    """Draw N synthetic rows from MODEL.

    Writes one column per feature (named as in the data the model was fitted on;
    x0, x1, ... for .npy data) and `component`, the component each row was drawn
    from. Rows come grouped by component, the same rows as GaussianMixture's
    sample(N) from the same seed. They are drawn and written in blocks, so
    memory does not grow with N.

    \b
      gaussmix sample model.gmm -n 1000 --seed 0 --out synthetic.parquet
    """
    from ..persistence import load
    from . import _tables as tables

    blocks = tables.sample_blocks(load(model), n_samples, seed=seed)
    written = tables.write_table_blocks(blocks, out, sys.stdout)
    if out is not None:
        _note(f"Wrote {written} rows to {out}", quiet)


@main.command()
@click.argument("model", type=_EXISTING_FILE)
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object.")
def inspect(model: Path, as_json: bool) -> None:
    """Describe a saved model.

    Its covariance model, components, features, weights and means; whether the
    fit converged and its lower bound; the model file's format version. --json
    adds the covariances and the fit's parameters, for scripts.

    \b
      gaussmix inspect model.gmm
      gaussmix inspect model.gmm --json | jq .weights
    """
    import json

    from ..persistence import load
    from ._describe import describe_model, format_description

    info = describe_model(load(model), model)
    click.echo(json.dumps(info, indent=2) if as_json else format_description(info))


@main.command()
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default="demo_output",
    show_default=True,
    help="Directory for the figures and the report (created if needed).",
)
@click.option("--no-figures", is_flag=True, help="Print the metrics only (no matplotlib).")
@_quiet
def demo(out: Path, no_figures: bool, quiet: bool) -> None:
    """Run the classic workflow on built-in data.

    Fits a 3-component Gaussian mixture and k-means to three standardised blobs,
    prints how well each recovers the blobs, and writes figures and an HTML
    report to --out.
    """
    from ._demo import run_demo

    result = run_demo(out, figures=not no_figures, quiet=quiet)
    if result["report"] is not None:
        _note(f"  wrote {result['report']}", quiet)
    elif not no_figures:
        _note("  no report: this installation has no gaussmix.report", quiet)
