"""The ``gaussmix`` command line, through click's CliRunner (and once as a real process)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import gaussmix
from conftest import mixture_data
from gaussmix import GaussianMixture, select_model
from gaussmix.cli import _errors as errors
from gaussmix.cli import _fitting as fitting
from gaussmix.cli import _input as inputs
from gaussmix.cli import _parsing as parsing
from gaussmix.cli import _progress, main
from gaussmix.cli import _tables as tables

COMMANDS = ("fit", "predict", "score", "sample", "inspect", "demo")


def run(*args: str | os.PathLike, exit_code: int = 0):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    X, _ = mixture_data(200, 2, 2, seed=0)
    return pd.DataFrame(X, columns=["a", "b"])


@pytest.fixture(scope="module")
def files(tmp_path_factory, frame) -> dict[str, Path]:
    """The same rows as CSV (with an id and a text column too), Parquet and .npy."""
    directory = tmp_path_factory.mktemp("data")
    paths = {
        "csv": directory / "data.csv",
        "parquet": directory / "data.parquet",
        "npy": directory / "data.npy",
    }
    labelled = frame.assign(id=np.arange(len(frame)), label=["x", "y"] * (len(frame) // 2))
    labelled.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    np.save(paths["npy"], np.ascontiguousarray(frame.to_numpy()))
    return paths


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, files) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.gmm"
    run("fit", files["parquet"], "-k", "2", "-c", "full", "--seed", "0", "--out", path)
    return path


@pytest.fixture(scope="module")
def model(model_path) -> GaussianMixture:
    return gaussmix.load(model_path)


def library_fit(X, k, covariance, seed=0) -> GaussianMixture:
    """What ``gaussmix fit -k K -c COV --seed SEED`` fits, in Python."""
    return GaussianMixture(
        k,
        covariance_type=covariance,
        init_params="hc",
        tol=fitting.DEFAULT_TOL,
        max_iter=fitting.DEFAULT_MAX_ITER,
        random_state=seed,
    ).fit(X)


# ---------------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_teaches(command):
    result = run(*([command] if command else []), "--help")
    assert result.output.startswith("Usage: ")
    if command:
        # Every command's help holds a worked example or its options' meaning.
        assert f"gaussmix {command}" in result.output or "--out" in result.output
    else:
        assert "Exit status" in result.output
        assert all(c in result.output for c in COMMANDS)


def test_version():
    assert run("--version").output.strip().endswith(gaussmix.__version__)


# ----------------------------------------------------------------------- fit


def test_fit_one_model_equals_the_library_fit(model, frame):
    expected = library_fit(frame, 2, "full")
    np.testing.assert_allclose(model.means_, expected.means_, rtol=1e-10)
    assert model.covariance_type == "full"
    assert list(model.feature_names_in_) == ["a", "b"]


def test_fit_one_model_prints_a_summary(tmp_path, files):
    result = run("fit", files["npy"], "-k", "2", "-c", "VII", "--out", tmp_path / "m.gmm")
    assert "VII (spherical) with 2 component(s) on 200 rows x 2 features" in result.stdout
    assert "converged in" in result.stdout
    assert f"Saved the model to {tmp_path / 'm.gmm'}" in result.stdout


def test_fit_selects_by_criterion_and_saves_the_best(tmp_path, files, frame):
    out = tmp_path / "best.gmm"
    result = run(
        "fit", files["csv"], "--columns", "a,b", "-k", "1-3", "-c", "full,diag",
        "--criterion", "icl", "--seed", "1", "--out", out,
    )  # fmt: skip
    expected = select_model(frame, [1, 2, 3], ["full", "diag"], "icl", random_state=1)
    assert result.stdout.startswith(expected.summary())
    saved = gaussmix.load(out)
    assert saved.n_components == expected.best_params_["n_components"]
    np.testing.assert_allclose(saved.means_, expected.best_estimator_.means_, rtol=1e-10)


@pytest.mark.parametrize("source", ["csv", "npy", "stream"])
def test_fit_gives_the_same_model_from_every_format(tmp_path, files, model, source):
    args = {
        "csv": [files["csv"], "--columns", "a,b"],
        "npy": [files["npy"]],
        "stream": [files["parquet"], "--stream"],
    }[source]
    run("fit", *args, "-k", "2", "-c", "full", "--seed", "0", "--out", tmp_path / "m.gmm")
    np.testing.assert_allclose(gaussmix.load(tmp_path / "m.gmm").means_, model.means_, rtol=1e-8)


def test_fit_quiet_prints_nothing(tmp_path, files):
    result = run("fit", files["npy"], "-k", "1-2", "-c", "diag", "-q", "--out", tmp_path / "m")
    assert result.stdout == result.stderr == ""
    assert (tmp_path / "m").is_file()


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "{model}", "{data}", "--proba"],
        ["score", "{model}", "{data}", "--contamination", "0.1"],
        ["sample", "{model}", "-n", "5"],
    ],
)
def test_quiet_prints_nothing(tmp_path, model_path, files, args):
    out = tmp_path / "out.csv"
    names = {"model": model_path, "data": files["csv"]}
    result = run(*(a.format(**names) for a in args), "--out", out, "--quiet")
    assert result.output == ""
    assert len(pd.read_csv(out)) in (5, 200)


def test_fit_shows_warnings_as_single_lines(tmp_path, files):
    args = ["fit", files["npy"], "-k", "2", "-c", "full", "--init", "random", "--max-iter", "1"]
    result = run(*args, "--out", tmp_path / "m.gmm")
    assert result.stderr.startswith("Warning: Best performing initialization did not converge")
    assert "did NOT converge" in result.stdout
    assert run(*args, "-q", "--out", tmp_path / "m.gmm").stderr == ""


@pytest.fixture
def fake_report(monkeypatch):
    """A stand-in gaussmix.report that records its calls and writes a small file."""
    calls = []

    def write_report(path, estimator, X, *, selection=None, title=None):
        calls.append(dict(path=Path(path), estimator=estimator, X=X, selection=selection))
        Path(path).write_text(f"<html>{title}</html>")
        return Path(path)

    module = types.ModuleType("gaussmix.report")
    module.write_report = write_report
    monkeypatch.setitem(sys.modules, "gaussmix.report", module)
    return calls


@pytest.mark.parametrize("components", ["2", "1-2"])
def test_fit_report(tmp_path, files, frame, fake_report, components):
    report = tmp_path / "fit.html"
    args = ["fit", files["parquet"], "-k", components, "-c", "full", "--seed", "0"]
    run(*args, "--out", tmp_path / "m.gmm", "--report", report)
    (call,) = fake_report
    assert report.read_text() == "<html>gaussmix fit data.parquet</html>"
    # Written under another name in the same directory, then renamed.
    assert call["path"].parent == tmp_path and call["path"] != report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.html", "m.gmm"]
    assert isinstance(call["estimator"], GaussianMixture)
    pd.testing.assert_frame_equal(call["X"], frame)
    assert (call["selection"] is None) == (components == "2")


def test_fit_report_from_a_streamed_file_gets_its_rows(tmp_path, files, frame, fake_report):
    out = ["--out", tmp_path / "m.gmm", "--report", tmp_path / "r.html"]
    run("fit", files["npy"], "-k", "2", "-c", "diag", "--stream", *out)
    np.testing.assert_array_equal(fake_report[0]["X"], frame.to_numpy())


def test_fit_report_unavailable_fails_before_fitting(tmp_path, files, monkeypatch):
    monkeypatch.setitem(sys.modules, "gaussmix.report", None)
    out = ["--out", tmp_path / "m.gmm", "--report", tmp_path / "r.html"]
    result = run("fit", files["npy"], "-k", "2", *out, exit_code=1)
    assert result.stderr == (
        "Error: writing a report needs gaussmix.report, which this installation of gaussmix "
        "does not have.\n"
    )
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------- predict and score


@pytest.mark.parametrize("data", ["csv", "parquet", "npy"])
def test_predict_labels_equal_model_predict(model_path, model, files, frame, data):
    # The CSV has other columns too: the model's own are read.
    result = run("predict", model_path, files[data])
    labels = pd.read_csv(__import__("io").StringIO(result.stdout))
    assert list(labels.columns) == ["component"]
    np.testing.assert_array_equal(labels["component"], model.predict(frame))
    assert result.stderr == ""


def test_predict_proba_to_parquet(tmp_path, model_path, model, files, frame):
    out = tmp_path / "p.parquet"
    result = run("predict", model_path, files["csv"], "--proba", "--out", out)
    assert result.stdout == ""
    assert result.stderr == f"Wrote 200 rows to {out}\n"
    table = pd.read_parquet(out)
    assert list(table.columns) == ["component", "p0", "p1", "uncertainty"]
    np.testing.assert_array_equal(table["component"], model.predict(frame))
    np.testing.assert_allclose(table[["p0", "p1"]], model.predict_proba(frame), rtol=1e-12)
    np.testing.assert_allclose(table["uncertainty"], model.uncertainty(frame), rtol=1e-12)


def test_score_equals_score_samples_and_flags_the_contamination(tmp_path, model_path, model):
    X = pd.DataFrame(mixture_data(300, 2, 2, seed=4)[0], columns=["a", "b"])
    np.save(tmp_path / "new.npy", np.ascontiguousarray(X.to_numpy()))
    out = tmp_path / "scores.csv"
    args = ["score", model_path, tmp_path / "new.npy", "--out", out]
    result = run(*args, "--contamination", "0.05")
    table = pd.read_csv(out)
    assert list(table.columns) == ["log_density", "outlier"]
    np.testing.assert_allclose(table["log_density"], model.score_samples(X), rtol=1e-14)
    expected = model.score_samples(X) < np.quantile(model.score_samples(X), 0.05)
    np.testing.assert_array_equal(table["outlier"], expected)
    assert expected.sum() == 15
    assert "Flagged 15 of 300 rows as outliers" in result.stderr
    assert list(pd.read_csv(__import__("io").StringIO(run(*args[:3]).stdout)).columns) == [
        "log_density"
    ]


def test_score_uses_a_detectors_own_threshold(model, files, frame):
    class Detector:
        """What an outlier detector offers: score_samples, predict and offset_."""

        def __init__(self, mixture, offset):
            self.mixture, self.offset_ = mixture, offset
            self.n_features_in_ = mixture.n_features_in_
            self.feature_names_in_ = mixture.feature_names_in_

        def score_samples(self, X):
            return self.mixture.score_samples(X)

        def predict(self, X):
            return np.where(self.score_samples(X) < self.offset_, -1, 1)

    offset = float(np.median(model.score_samples(frame)))
    detector = Detector(model, offset)
    source = inputs.open_for_model(detector, files["csv"])
    table = tables.score_table(detector, source)
    np.testing.assert_array_equal(table["outlier"], model.score_samples(frame) < offset)
    # An explicit contamination wins over the detector's threshold.
    table = tables.score_table(detector, source, contamination=0.1)
    assert table["outlier"].sum() == 20


def test_score_refuses_a_contamination_out_of_range_before_reading(model, files):
    source = inputs.open_for_model(model, files["csv"])

    def unread():
        raise AssertionError("the data were read before the argument was checked")
        yield

    source.blocks = unread
    with pytest.raises(errors.InputError, match=r"contamination must be in \(0, 0.5\]"):
        tables.score_table(model, source, contamination=0.9)


# ------------------------------------------------------------ sample, inspect


def test_sample_rows_columns_and_values(tmp_path, model_path, model):
    out = tmp_path / "s.parquet"
    run("sample", model_path, "-n", "50", "--seed", "3", "--out", out)
    table = pd.read_parquet(out)
    assert list(table.columns) == ["a", "b", "component"]
    X, y = model.set_params(random_state=3).sample(50)
    np.testing.assert_array_equal(table[["a", "b"]], X)
    np.testing.assert_array_equal(table["component"], y)


def test_sample_names_unnamed_features(tmp_path, files):
    run("fit", files["npy"], "-k", "2", "-c", "diag", "--seed", "0", "--out", tmp_path / "m")
    result = run("sample", tmp_path / "m", "-n", "7")
    assert result.stdout.splitlines()[0] == "x0,x1,component"
    assert len(result.stdout.splitlines()) == 8
    assert run("sample", tmp_path / "m", "-n", "0", exit_code=2).exit_code == 2


def _sampled(model, n, **kwargs):
    blocks = list(tables.sample_blocks(model, n, **kwargs))
    table = pd.concat(blocks, ignore_index=True)
    return table.iloc[:, :-1].to_numpy(), table.iloc[:, -1].to_numpy(), blocks


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance", [*gaussmix.COVARIANCE_TYPES[:4], "VEV", "EVE"])
def test_sample_blocks_are_the_rows_of_sample(covariance, dtype):
    # Blocks of 7 rows cut through components; the rows must be those of one
    # in-memory sample from the same seed (scikit-learn's draw order).
    X, _ = mixture_data(300, 3, 3, seed=2, dtype=dtype)
    gm = GaussianMixture(3, covariance_type=covariance, random_state=0).fit(X)
    expected, labels = gm.sample(200)
    got, got_labels, blocks = _sampled(gm, 200, block_rows=7)
    assert [len(b) for b in blocks] == [7] * 28 + [4]
    assert got.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # An explicit seed, and a random_state that is a RandomState being advanced.
    np.testing.assert_allclose(
        _sampled(gm, 50, seed=5, block_rows=3)[0],
        gm.set_params(random_state=5).sample(50)[0],
        rtol=1e-12,
    )
    gm.set_params(random_state=np.random.RandomState(9))
    first = gm.sample(30)[0]
    gm.set_params(random_state=np.random.RandomState(9))
    np.testing.assert_allclose(_sampled(gm, 30, block_rows=4)[0], first, rtol=1e-12)


def test_sample_refuses_a_model_that_does_not_sample():
    class Detector:
        offset_ = 0.0

    with pytest.raises(errors.InputError, match="the model is a Detector, which does not draw"):
        next(tables.sample_blocks(Detector(), 5))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_sample_is_written_in_blocks(tmp_path, model_path, model, monkeypatch, suffix):
    monkeypatch.setattr(tables, "SAMPLE_BLOCK_ROWS", 13)
    out = tmp_path / f"s{suffix}"
    result = run("sample", model_path, "-n", "100", "--seed", "4", "--out", out)
    assert result.stderr == f"Wrote 100 rows to {out}\n"
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(table.columns) == ["a", "b", "component"]
    X, y = model.set_params(random_state=4).sample(100)
    np.testing.assert_allclose(table[["a", "b"]], X, rtol=1e-12)
    np.testing.assert_array_equal(table["component"], y)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        assert pq.ParquetFile(out).metadata.num_row_groups == 8  # one per block
    # Standard output: the same rows, under one header.
    printed = run("sample", model_path, "-n", "100", "--seed", "4").stdout
    assert printed.count("a,b,component") == 1
    printed = pd.read_csv(io.StringIO(printed))
    np.testing.assert_allclose(printed[["a", "b"]], X, rtol=1e-12)
    np.testing.assert_array_equal(printed["component"], y)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, RuntimeError])
def test_interrupted_sample_leaves_the_old_file_and_no_partial_file(
    tmp_path, model_path, monkeypatch, interrupt
):
    out = tmp_path / "s.csv"
    out.write_text("old\n")
    real = tables.sample_blocks

    def interrupted(*args, **kwargs):
        blocks = real(*args, block_rows=10, **kwargs)
        yield next(blocks)
        yield next(blocks)
        raise interrupt("stopped")

    monkeypatch.setattr(tables, "sample_blocks", interrupted)
    run("sample", model_path, "-n", "100", "--out", out, exit_code=1)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"]


def test_sample_memory_does_not_grow_with_n(tmp_path, model):
    out = tmp_path / "s.parquet"
    n_rows, block = 1_000_000, 4096
    tracemalloc.start()
    try:
        written = tables.write_table_blocks(
            tables.sample_blocks(model, n_rows, seed=0, block_rows=block), out
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert written == n_rows
    # The rows alone would take 24 MB (two float64 columns and an int64 one).
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert len(pd.read_parquet(out)) == n_rows


def test_unwritable_directory_is_reported_by_the_target_name(tmp_path, model_path, monkeypatch):
    out = tmp_path / "s.csv"
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    result = run("sample", model_path, "-n", "5", "--out", out, exit_code=1)
    assert result.stderr == f"Error: cannot write or read {out}: Permission denied\n"


def test_report_write_failure_names_the_report(tmp_path, files, monkeypatch):
    def write_report(path, estimator, X, *, selection=None, title=None):
        raise PermissionError(13, "Permission denied", str(path))

    module = types.ModuleType("gaussmix.report")
    module.write_report = write_report
    monkeypatch.setitem(sys.modules, "gaussmix.report", module)
    report = tmp_path / "r.html"
    args = ["fit", files["npy"], "-k", "2", "-c", "diag", "--out", tmp_path / "m.gmm"]
    result = run(*args, "--report", report, exit_code=1)
    assert result.stderr.endswith(f"Error: cannot write or read {report}: Permission denied\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gmm"]


def test_inspect_text_and_json(model_path, model):
    text = run("inspect", model_path).stdout
    assert text.startswith(f"{model_path}: GaussianMixture, model file format 1.0")
    assert "covariance   VVV (full)" in text
    assert "features     2: a, b" in text
    assert f"{model.weights_[0]:.4f}" in text
    info = json.loads(run("inspect", model_path, "--json").stdout)
    assert info["format_version"] == "1.0"
    assert info["n_components"] == 2 and info["feature_names"] == ["a", "b"]
    np.testing.assert_array_equal(info["weights"], model.weights_)
    np.testing.assert_array_equal(info["means"], model.means_)
    np.testing.assert_array_equal(info["covariances"], model.covariances_)
    assert info["converged"] is True and info["n_iter"] == model.n_iter_
    assert info["params"]["random_state"] == 0


# ---------------------------------------------------------------------- demo


def test_demo_without_figures(tmp_path):
    result = run("demo", "--no-figures", "--out", tmp_path / "demo")
    assert "adjusted Rand index vs truth" in result.stdout
    assert run("demo", "--no-figures", "-q", "--out", tmp_path / "demo").output == ""


def test_demo_writes_figures_and_report(tmp_path, fake_report):
    pytest.importorskip("matplotlib")
    result = run("demo", "--out", tmp_path)
    assert (tmp_path / "report.html").read_text().startswith("<html>gaussmix demo")
    assert f"wrote {tmp_path / 'report.html'}" in result.stderr
    assert {p.name for p in tmp_path.glob("*.png")} == {
        "data.png", "gmm_clusters.png", "kmeans_vs_gmm.png", "gmm_ellipses.png",
    }  # fmt: skip


# -------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, frame) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("bad")
    with_nan = frame.copy()
    with_nan.iloc[3, 1] = np.nan
    with_nan.to_csv(directory / "nan.csv", index=False)
    (directory / "data.txt").write_text("a,b\n1,2\n")
    (directory / "broken.gmm").write_bytes(b"PK\x03\x04 not really a model file")
    (directory / "long.csv").write_text("a,b\n1,2\n3,4,5\n6,7\n")
    (directory / "empty.csv").write_text("")
    (directory / "latin.csv").write_bytes(b"a,b\n1,2\n3,\xe94\n")
    (directory / "fake.parquet").write_text("a,b\n1,2\n")
    np.save(directory / "cut.npy", np.ascontiguousarray(frame.to_numpy()))
    (directory / "cut.npy").write_bytes((directory / "cut.npy").read_bytes()[:60])
    np.save(directory / "more.npy", np.ascontiguousarray(frame.to_numpy()))
    (directory / "more.npy").write_bytes((directory / "more.npy").read_bytes() + bytes(16))
    names = ["nan.csv", "data.txt", "broken.gmm", "long.csv", "empty.csv", "latin.csv"]
    names += ["fake.parquet", "cut.npy", "more.npy"]
    return {name.replace(".", "_"): directory / name for name in names}


_HELP = "See 'gaussmix {}--help'."


def _error_cases():
    # (arguments, exit status, text of the error); {x} are filled from the fixtures.
    return [
        (["fit", "{missing}", "--out", "{out}"], 2, "'DATA': File '{missing}' does not exist"),
        (["predict", "{missing}", "{csv}"], 2, "'MODEL': File '{missing}' does not exist"),
        (["fit", "{csv}", "--columns", "a,zz", "--out", "{out}"], 2, "has no column(s) ['zz']"),
        (["fit", "{csv}", "--out", "{out}"], 2, "column 'label' holds non-numeric values"),
        (["fit", "{nan_csv}", "--out", "{out}"], 2, "nan.csv: row 3 contains NaN or infinity"),
        (["fit", "{data_txt}", "--out", "{out}"], 2, "expected a .npy, .parquet or .csv file"),
        (["fit", "{npy}", "--columns", "a", "--out", "{out}"], 2, "give --columns as 0-based"),
        (["fit", "{npy}", "-k", "2-x", "--out", "{out}"], 2, "expected a number (3), a range"),
        (["fit", "{npy}", "-k", "0", "--out", "{out}"], 2, "component counts are at least 1"),
        (["fit", "{npy}", "-c", "full,XYZ", "--out", "{out}"], 2, "got 'XYZ'. Use 'auto'"),
        (["fit", "{npy}", "--init", "nope", "--out", "{out}"], 2, "--init must be one of"),
        (["fit", "{npy}", "--out", "{tmp}/no/m.gmm"], 2, "does not exist; create it first"),
        (["fit", "{npy}", "-k", "1-500", "--out", "{out}"], 2, "at most 200 with --comp"),
        (["predict", "{model}", "{csv}", "--out", "{tmp}/x.txt"], 2, "use .csv or .parquet"),
        (["predict", "{broken_gmm}", "{csv}"], 1, "Cannot load the model file"),
        (["score", "{model}", "{csv}", "--columns", "a"], 2, "gives 1 column(s) but the"),
        (["score", "{model}", "{nan_csv}"], 2, "row 3 contains NaN"),
        (["score", "{model}", "{csv}", "--contamination", "0.7"], 2, "--contamination"),
        (
            ["sample", "{model}"],
            2,
            "Missing option '-n' / '--samples'. " + _HELP.format("sample "),
        ),
        # Usage errors: one line, exit status 2, like every other error.
        (
            ["fit", "{npy}", "-k", "1-2", "--jobs", "0", "--out", "{out}"],
            2,
            "Invalid value for '-j' / '--jobs': must be a positive number of models fitted at "
            "once, or negative (-1: every core, -2: all but one, ...); got 0. "
            + _HELP.format("fit "),
        ),
        (
            ["fit", "{npy}", "--seed", "-1", "--out", "{out}"],
            2,
            "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967295.",
        ),
        (["fit", "{npy}", "--seed", str(2**32), "--out", "{out}"], 2, "4294967296 is not in"),
        (["sample", "{model}", "-n", "3", "--seed", "-5"], 2, "-5 is not in the range"),
        (["sample", "{model}", "-n", str(2**63)], 2, "is not in the range 1<=x<="),
        (["fit", "{npy}", "--bogus", "--out", "{out}"], 2, "No such option '--bogus'."),
        (["nosuch"], 2, "No such command 'nosuch'. " + _HELP.format("")),
        (["fit", "{npy}", "-c", "full,XYZ", "--out", "{out}"], 2, "See 'gaussmix fit --help'."),
        # Errors in DATA name the file (and the line).
        (["fit", "{long_csv}", "--out", "{out}"], 2, "long.csv: line 3 has 3 fields, but the"),
        (["fit", "{empty_csv}", "--out", "{out}"], 2, "empty.csv is empty: a CSV file needs"),
        (["fit", "{latin_csv}", "--out", "{out}"], 2, "latin.csv is not UTF-8 text"),
        (["fit", "{fake_parquet}", "--out", "{out}"], 2, "fake.parquet: not a Parquet file"),
        (["fit", "{cut_npy}", "--out", "{out}"], 2, "cut.npy is not a valid .npy file"),
        (["predict", "{model}", "{more_npy}"], 2, "more.npy holds 3,216 bytes of data after"),
        (["fit", "{npy}", "--columns", "-1", "--out", "{out}"], 2, "in [0, 2), got -1."),
    ]


@pytest.mark.parametrize(("args", "status", "message"), _error_cases())
def test_errors_exit_status_and_message(
    tmp_path, files, bad_files, model_path, args, status, message
):
    names = {
        **{k: str(v) for k, v in files.items()},
        **{k: str(v) for k, v in bad_files.items()},
        "model": str(model_path),
        "missing": str(tmp_path / "missing.csv"),
        "out": str(tmp_path / "m.gmm"),
        "tmp": str(tmp_path),
    }
    result = run(*(a.format(**names) for a in args), exit_code=status)
    assert message.format(**names) in result.stderr
    assert "Traceback" not in result.output
    # Every error is one line, usage errors included.
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Usage:" not in result.stderr
    assert not (tmp_path / "m.gmm").exists()


@pytest.mark.parametrize("components", ["2", "2-3"])
def test_fit_failure_exits_1(tmp_path, files, monkeypatch, components):
    import gaussmix._fit

    def fail(*args, **kwargs):
        raise np.linalg.LinAlgError("the matrix is singular")

    # The EM loop of every fit: a direct fit's and each cell's of a selection.
    monkeypatch.setattr(gaussmix._fit, "fit_em", fail)
    out = tmp_path / "m.gmm"
    result = run("fit", files["npy"], "-k", components, "-c", "full", "--out", out, exit_code=1)
    assert result.stderr.startswith("Error: fitting failed: ")
    assert "the matrix is singular" in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()


def test_debug_shows_the_exception(model_path, bad_files):
    result = CliRunner().invoke(main, ["--debug", "predict", str(bad_files["broken_gmm"]), "x"])
    assert result.exit_code == 2  # x does not exist: a usage error still
    result = CliRunner().invoke(
        main, ["--debug", "predict", str(bad_files["broken_gmm"]), str(bad_files["nan_csv"])]
    )
    assert isinstance(result.exception, gaussmix.ModelFileError)


def test_failed_write_leaves_the_old_file_and_no_partial_file(
    tmp_path, model_path, files, monkeypatch
):
    out = tmp_path / "labels.csv"
    out.write_text("old\n")

    def broken_to_csv(self, handle=None, **kwargs):
        handle.write(b"component\n0\n")
        raise OSError(28, "No space left on device", str(out))

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    result = run("predict", model_path, files["csv"], "--out", out, exit_code=1)
    assert result.stderr == f"Error: cannot write or read {out}: No space left on device\n"
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


# ------------------------------------------------------ the typed functions


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", [3]), ("1-9", list(range(1, 10))), ("2,4,6", [2, 4, 6]), (" 1-3, 8,2 ", [1, 2, 3, 8])],
)
def test_parse_components(text, expected):
    assert parsing.parse_components(text) == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "0", "1-", "1,,2", "-2"])
def test_parse_components_rejects(text):
    with pytest.raises(errors.InputError):
        parsing.parse_components(text)


def test_parse_covariance_uses_the_registry():
    assert parsing.parse_covariance("auto") == "all"
    assert parsing.parse_covariance("full,vii,Diag,EEE,VVV") == ["full", "VII", "diag", "EEE"]
    for name in gaussmix.COVARIANCE_TYPES:
        assert parsing.parse_covariance(name) == [name]
    with pytest.raises(errors.InputError, match="covariance_type must be one of"):
        parsing.parse_covariance("full,XYZ")
    with pytest.raises(errors.InputError, match="model names separated by commas"):
        parsing.parse_covariance("full,")


def test_parse_columns(tmp_path):
    assert parsing.parse_columns(None, Path("x.csv")) is None
    assert parsing.parse_columns("a, b", Path("x.parquet")) == ["a", "b"]
    assert parsing.parse_columns("0,2", Path("x.npy")) == [0, 2]


def test_progress_bars_go_to_stderr(frame, files, capsys, monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0)
    monkeypatch.setattr(_progress, "MININTERVAL", 0)
    fitting.fit_model(frame, components=[1, 2], covariance=["diag"], progress=True)
    fitting.fit_model(frame, components=[2], covariance=["diag"], progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Model selection" in captured.err and "2/2" in captured.err
    assert "EM" in captured.err and "log-likelihood/row" in captured.err
    fitting.fit_model(frame, components=[2], covariance=["diag"], progress=None)  # not a terminal
    assert capsys.readouterr().err == ""
    model = fitting.fit_model(frame, components=[2], covariance=["diag"]).estimator
    source = inputs.open_for_model(model, files["csv"])
    tables.predict_table(model, source, progress=True)
    tables.score_table(model, source, progress=True)
    inputs.read_data(source, progress=True)
    err = capsys.readouterr().err
    assert "Predicting" in err and "Scoring" in err and "Reading data" in err
    assert "200/200" in err


# ------------------------------------------------------- the console script


def test_console_script_runs(tmp_path, model_path):
    script = Path(sysconfig.get_path("scripts")) / "gaussmix"
    if not script.exists():  # pragma: no cover - not installed as a distribution
        pytest.skip("the gaussmix console script is not installed")
    result = subprocess.run(
        [str(script), "sample", str(model_path), "-n", "3", "--seed", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "a,b,component"
    assert len(result.stdout.splitlines()) == 4
    missing = subprocess.run(
        [sys.executable, "-m", "gaussmix", "inspect", str(tmp_path / "none.gmm")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
