"""Model files: exact round trips, and clear errors (never code) from bad files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gaussmix
from conftest import COVARIANCE_TYPES, mixture_data
from gaussmix import GaussianMixture, ModelFileError, persistence
from gaussmix.persistence import _format, _registry

FITTED = tuple(GaussianMixture.saved_attributes)
ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


@pytest.fixture(autouse=True)
def no_pickle(monkeypatch):
    """Every test here fails if anything unpickles (NumPy's object arrays included)."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used to load data")

    class Refused(pickle.Unpickler):
        def __init__(self, *args, **kwargs):
            refuse()

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", Refused)


_FITS: dict = {}


def fitted(covariance_type="full", dtype=np.float64):
    """A model fitted on a DataFrame (so with feature names), and its data; cached."""
    key = (covariance_type, np.dtype(dtype).name)
    if key not in _FITS:
        X, _ = mixture_data(300, 3, 3, seed=5, dtype=dtype)
        frame = pd.DataFrame(X, columns=["length", "width", "depth"])
        gm = GaussianMixture(
            3, covariance_type=covariance_type, kernel="numpy", random_state=0
        ).fit(frame)
        _FITS[key] = (gm, frame)
    return _FITS[key]


@pytest.fixture
def saved(tmp_path):
    """Path of a saved full-covariance float64 model."""
    path = tmp_path / "model.gmm"
    gaussmix.save(fitted()[0], path)
    return path


def assert_same_params(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], np.ndarray):
            assert b[name].dtype == a[name].dtype, name
            np.testing.assert_array_equal(b[name], a[name], err_msg=name)
        elif isinstance(a[name], np.random.RandomState):
            state_a, state_b = a[name].get_state(), b[name].get_state()
            np.testing.assert_array_equal(state_a[1], state_b[1])
            assert state_a[2:] == state_b[2:]
        elif isinstance(a[name], np.generic):  # NumPy scalars come back as Python numbers
            assert type(b[name]) is type(a[name].item()) and b[name] == a[name], name
        else:
            assert type(b[name]) is type(a[name]) and b[name] == a[name], name


def assert_identical(loaded, original, X):
    assert type(loaded) is type(original)
    assert_same_params(original.get_params(), loaded.get_params())
    for name in FITTED:
        if not hasattr(original, name):
            assert not hasattr(loaded, name), name
            continue
        a, b = getattr(original, name), getattr(loaded, name)
        if isinstance(a, np.ndarray):
            assert b.dtype == a.dtype and b.shape == a.shape, name
            if a.dtype == object:  # feature names: compare the strings, not pointers
                assert b.tolist() == a.tolist(), name
            else:
                assert b.tobytes() == a.tobytes(), name
        else:
            assert type(b) is type(a) and b == a, name
    for method in ("predict", "predict_proba", "score_samples"):
        expected, got = getattr(original, method)(X), getattr(loaded, method)(X)
        assert got.dtype == expected.dtype, method
        assert got.tobytes() == expected.tobytes(), method
    assert loaded.score(X) == original.score(X)
    sample_a, sample_b = original.sample(7), loaded.sample(7)
    assert sample_b[0].tobytes() == sample_a[0].tobytes()
    np.testing.assert_array_equal(sample_b[1], sample_a[1])


# ------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_is_bit_exact(tmp_path, covariance_type, dtype):
    original, frame = fitted(covariance_type, dtype)
    path = tmp_path / "model.gmm"
    gaussmix.save(original, path)
    loaded = gaussmix.load(path)
    assert loaded.means_.dtype == dtype
    np.testing.assert_array_equal(loaded.feature_names_in_, ["length", "width", "depth"])
    assert loaded.feature_names_in_.dtype == object
    assert_identical(loaded, original, frame)


def test_round_trip_of_unusual_parameters(tmp_path):
    X, _ = mixture_data(200, 2, 2, seed=3)
    original = GaussianMixture(
        2,
        covariance_type="VVV",
        reg_covar="auto",
        tol=0.0,
        max_iter=0,
        weights_init=(0.25, 0.75),
        means_init=np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32),
        precisions_init=[[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.5], [0.5, 1.0]]],
        random_state=np.random.RandomState(7),
        block_size=np.int64(64),
        kernel="numpy",
    ).fit(X)
    assert original.lower_bound_ == -np.inf  # a non-finite float goes through JSON
    assert not hasattr(original, "feature_names_in_")
    gaussmix.save(original, tmp_path / "m.gmm")
    loaded = gaussmix.load(tmp_path / "m.gmm")
    params = loaded.get_params()
    assert params["weights_init"] == (0.25, 0.75)
    assert params["means_init"].dtype == np.float32
    assert params["precisions_init"] == original.precisions_init
    assert params["block_size"] == 64
    # The RandomState was saved with its state: sample draws what the original draws.
    assert params["random_state"] is not original.random_state
    assert_identical(loaded, original, X)


def test_round_trip_after_partial_fit(tmp_path):
    X, _ = mixture_data(400, 2, 2, seed=4, dtype=np.float32)
    original = GaussianMixture(2, covariance_type="diag", kernel="numpy", random_state=1)
    for batch in np.array_split(X, 4):
        original.partial_fit(batch)
    gaussmix.save(original, tmp_path / "m.gmm")
    loaded = gaussmix.load(tmp_path / "m.gmm")
    assert_identical(loaded, original, X)
    assert loaded.n_iter_ == 4 and len(loaded.lower_bounds_) == 4
    # It continues from the fitted model, as after fit.
    loaded.partial_fit(X[:50])
    assert loaded.n_iter_ == 1


def test_registry_lists_every_fitted_attribute():
    gm, _ = fitted()
    public = {name for name in vars(gm) if name.endswith("_") and not name.startswith("_")}
    assert public == set(FITTED)


def test_same_model_gives_the_same_bytes(tmp_path):
    gm, _ = fitted("tied")
    gaussmix.save(gm, tmp_path / "a.gmm")
    gaussmix.save(gm, str(tmp_path / "b"))  # str paths; no extension is added
    assert (tmp_path / "a.gmm").read_bytes() == (tmp_path / "b").read_bytes()


def test_documented_layout_reads_without_gaussmix(saved):
    """The layout in docs/model-file-format.md, read with zipfile, json and NumPy only."""
    with zipfile.ZipFile(saved) as archive:
        assert archive.namelist()[:2] == ["metadata.json", "metadata.json.sha256"]
        text = archive.read("metadata.json")
        digest = archive.read("metadata.json.sha256").decode().strip()
        assert hashlib.sha256(text).hexdigest() == digest
        metadata = json.loads(text)
        assert metadata["format"] == "gaussmix-model"
        assert metadata["format_version"] == "1.0"
        assert metadata["gaussmix_version"] == gaussmix.__version__
        node = metadata["estimator"]
        assert node["class"] == "GaussianMixture"
        assert node["params"]["covariance_type"] == "full"
        assert node["attributes"]["weights_"] == {"$array": "weights_"}
        names = node["attributes"]["feature_names_in_"]["$strings"]["values"]
        assert names == ["length", "width", "depth"]
        for name, spec in metadata["arrays"].items():
            data = archive.read(f"arrays/{name}.npy")
            assert hashlib.sha256(data).hexdigest() == spec["sha256"]
            array = np.load(io.BytesIO(data), allow_pickle=False)
            assert array.dtype.str == spec["dtype"] and list(array.shape) == spec["shape"]
            assert array.tobytes() == getattr(fitted()[0], name).tobytes()


# --------------------------------------------------------------------- writing


def test_existing_file_is_replaced(tmp_path):
    path = tmp_path / "model.gmm"
    gaussmix.save(fitted("diag")[0], path)
    gaussmix.save(fitted("spherical")[0], path)
    assert gaussmix.load(path).covariance_type == "spherical"
    assert os.listdir(tmp_path) == ["model.gmm"]


@pytest.mark.parametrize("failure", ["mid-write", "rename"])
def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, failure):
    path = tmp_path / "model.gmm"
    gaussmix.save(fitted("diag")[0], path)
    before = path.read_bytes()
    if failure == "mid-write":
        real = zipfile.ZipFile.writestr
        calls = []

        def writestr(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("No space left on device")
            return real(self, *args, **kwargs)

        monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    else:

        def replace(*args):
            raise OSError("rename failed")

        monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match=r"No space|rename failed"):
        gaussmix.save(fitted("full")[0], path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.gmm"]


def test_saved_file_has_ordinary_permissions(tmp_path):
    # Created like open() creates files (umask applies), not private like tempfile's.
    umask = os.umask(0o022)
    try:
        gaussmix.save(fitted()[0], tmp_path / "model.gmm")
    finally:
        os.umask(umask)
    assert (tmp_path / "model.gmm").stat().st_mode & 0o777 == 0o644


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted yet, so there is nothing to save"):
        gaussmix.save(GaussianMixture(2), tmp_path / "m.gmm")
    assert not os.listdir(tmp_path)


def test_other_estimators_are_refused(tmp_path):
    X, _ = mixture_data(100, 2, 2)
    with pytest.raises(
        TypeError,
        match=r"saves GaussianMixture and OutlierDetector estimators.*got GaussianMixture",
    ):
        gaussmix.save(SkGaussianMixture(2).fit(X), tmp_path / "m.gmm")

    class Custom(GaussianMixture):
        pass

    with pytest.raises(TypeError, match=r"not subclasses.*got Custom"):
        gaussmix.save(Custom(2, kernel="numpy").fit(X), tmp_path / "m.gmm")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (lambda: 0, "parameter 'weights_init' of GaussianMixture: it is of type function"),
        (np.array(["a", "b"], dtype=object).reshape(1, 2), "array of dtype object"),
        (np.array([1 + 2j]), "array of dtype complex128"),
        ({"a": 1}, "it is of type dict"),
        (np.random.RandomState(np.random.PCG64(0)), "PCG64 bit generator"),
    ],
)
def test_parameters_a_file_cannot_hold_are_refused(tmp_path, value, message):
    gm = clone(fitted()[0])
    gm.__dict__.update(vars(fitted()[0]))
    name = "random_state" if isinstance(value, np.random.RandomState) else "weights_init"
    gm.set_params(**{name: value})
    with pytest.raises(ModelFileError, match=message):
        gaussmix.save(gm, tmp_path / "m.gmm")
    assert not os.listdir(tmp_path)


def test_invalid_model_in_memory_is_not_written(tmp_path):
    gm = clone(fitted()[0])
    gm.__dict__.update(vars(fitted()[0]))
    gm.weights_ = -gm.weights_
    with pytest.raises(ModelFileError, match=r"weights_ should be non-negative.*refit"):
        gaussmix.save(gm, tmp_path / "m.gmm")
    assert not os.listdir(tmp_path)


def test_missing_directory_and_directory_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        gaussmix.save(fitted()[0], tmp_path / "nowhere" / "m.gmm")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        gaussmix.save(fitted()[0], tmp_path)
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------ damaged files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=array.dtype == object)
    return buffer.getvalue()


def tamper(path, edit=None, arrays=None, *, fix=True, extra=None):
    """Rewrite a model file: edit its metadata, replace arrays, add entries.

    With ``fix`` the manifest and checksums are updated to match, as a
    deliberate forger would; without, they are left as they were.
    """
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["metadata.json"])
    for name, array in (arrays or {}).items():
        members[f"arrays/{name}.npy"] = data = npy(array)
        if fix:
            metadata["arrays"][name] = {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "sha256": sha256(data),
            }
    edited = None if edit is None else edit(metadata)
    if edit is not None or fix:
        # An edit may return the metadata's text itself, for what json.dumps cannot write.
        text = edited if isinstance(edited, bytes) else json.dumps(metadata).encode()
        members["metadata.json"] = text
        if fix:
            members["metadata.json.sha256"] = sha256(text).encode()
    members.update(extra or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def load_error(path) -> str:
    with pytest.raises(ModelFileError) as info:
        gaussmix.load(path)
    return str(info.value)


def test_no_pickle_guard_is_effective():
    # The autouse guard does intercept NumPy's unpickling of object arrays, so
    # the tests below would fail if loading ever went through it.
    data = npy(np.array([{"a": 1}], dtype=object))
    with pytest.raises(AssertionError, match="pickle was used"):
        np.load(io.BytesIO(data), allow_pickle=True)


@pytest.mark.parametrize("keep", [0, 10, 200, 0.5, -100, -22, -1])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    keep = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    saved.write_bytes(data[:keep])
    message = load_error(saved)
    assert str(saved) in message
    if keep == 0:
        assert "the file is empty" in message
    else:
        assert "truncated or corrupted" in message and "save it again" in message


def test_flipped_byte_in_an_array(saved):
    data = bytearray(saved.read_bytes())
    position = data.find(fitted()[0].covariances_.tobytes()) + 20
    data[position] ^= 0x01
    saved.write_bytes(bytes(data))
    message = load_error(saved)
    assert "corrupted" in message and "CRC" in message


def test_any_damaged_byte_is_refused_or_harmless(saved):
    # Bytes outside the entries' contents (timestamps, permissions) may change
    # without effect; a change anywhere else must be refused.
    original, frame = fitted()
    data = saved.read_bytes()
    refused = 0
    for position in range(0, len(data), max(1, len(data) // 120)):
        damaged = bytearray(data)
        damaged[position] ^= 0x5A
        saved.write_bytes(bytes(damaged))
        try:
            loaded = gaussmix.load(saved)
        except ModelFileError:
            refused += 1
            continue
        assert_identical(loaded, original, frame)
    assert refused > 100


def test_array_changed_without_its_checksum(saved):
    means = fitted()[0].means_.copy()
    means[0, 0] += 1.0
    tamper(saved, arrays={"means_": means}, fix=False)
    message = load_error(saved)
    assert "the array 'means_' does not match its SHA-256 checksum" in message
    assert "save the model again" in message


def test_metadata_changed_without_its_checksum(saved):
    tamper(saved, edit=lambda m: m["estimator"]["attributes"].update(n_iter_=1), fix=False)
    message = load_error(saved)
    assert "corrupted or was modified: metadata.json does not match its SHA-256" in message


def set_attribute(name, value):
    return lambda m: m["estimator"]["attributes"].__setitem__(name, value)


def set_param(name, value):
    return lambda m: m["estimator"]["params"].__setitem__(name, value)


def full_covariances_with(index, matrix):
    covariances = fitted()[0].covariances_.copy()
    covariances[index] = matrix
    return covariances


def weights(*values):
    return np.array(values)


@pytest.mark.parametrize(
    ("edit", "arrays", "message"),
    [
        (None, {"covariances_": full_covariances_with(1, -np.eye(3))}, "not positive definite"),
        (
            None,
            {"covariances_": full_covariances_with(0, [[1, 0, 0], [5, 1, 0], [0, 0, 1]])},
            "covariances_ of component 0 is not symmetric",
        ),
        (None, {"means_": np.full((3, 3), np.nan)}, "means_ contains NaN or infinity"),
        (None, {"means_": np.zeros((3, 4))}, r"means_ should have shape \(3, 3\).*got \(3, 4\)"),
        (None, {"weights_": weights(-0.2, 0.6, 0.6)}, "weights_ should be non-negative"),
        (None, {"weights_": weights(0.2, 0.2, 0.2)}, "weights_ should sum to 1"),
        (
            None,
            {"precisions_cholesky_": 2 * fitted()[0].precisions_cholesky_},
            "precisions_cholesky_ of component 0 is not a Cholesky factor",
        ),
        (
            None,
            {"precisions_cholesky_": fitted()[0].precisions_cholesky_ @ np.eye(3)[[1, 0, 2]]},
            "not triangular with a positive diagonal",
        ),
        (
            None,
            {"precisions_": 1.01 * fitted()[0].precisions_},
            "precisions_ of component 0 is not the product of precisions_cholesky_",
        ),
        (
            None,
            {"weights_": np.array([1, 0, 0])},
            "weights_ should be a float32 or float64 array; got int64",
        ),
        (None, {"means_": np.zeros((3, 3), np.float32)}, "should share one dtype"),
        (
            set_param("n_components", 2),
            None,
            r"weights_ should have shape \(2,\) for n_components=2",
        ),
        (set_param("n_components", "3"), None, "invalid parameter.*n_components must be an int"),
        (set_param("covariance_type", "XYZ"), None, "covariance_type must be one of 'full'"),
        (set_param("kernel", {"$eval": "os.system('x')"}), None, "unknown form '\\$eval'"),
        (set_param("fit_function", "x"), None, "GaussianMixture has no parameter.*fit_function"),
        (
            lambda m: m["estimator"].update({"class": "subprocess.Popen"}),
            None,
            "the class 'subprocess.Popen'.*this gaussmix loads GaussianMixture",
        ),
        (set_attribute("extra_", 1), None, "no fitted attribute.*extra_"),
        (
            lambda m: m["estimator"]["attributes"].pop("converged_"),
            None,
            "lacks the fitted attribute.*converged_",
        ),
        (set_attribute("n_iter_", -1), None, "n_iter_ should be a non-negative integer"),
        (set_attribute("n_iter_", 10**30), None, "out-of-range number"),
        (set_attribute("converged_", 1), None, "converged_ should be True or False"),
        (
            lambda m: re.sub(
                r'"lower_bound_": [^,]+', '"lower_bound_": 1e999', json.dumps(m)
            ).encode(),
            None,
            "out-of-range number",
        ),
        (
            set_attribute("feature_names_in_", {"$strings": {"values": ["a"], "dtype": "|O"}}),
            None,
            "feature_names_in_ should hold n_features_in_ = 3 names; got 1",
        ),
        (set_attribute("means_", {"$array": "weights_"}), None, "'weights_' is used twice"),
        (set_attribute("means_", {"$array": "nothing"}), None, "not in the manifest"),
    ],
)
def test_invalid_values_with_valid_checksums(saved, edit, arrays, message):
    tamper(saved, edit=edit, arrays=arrays)
    text = load_error(saved)
    assert str(saved) in text
    assert re.search(message, text), text
    assert "save the model again with gaussmix.save" in text


def test_object_array_is_refused_before_it_is_read(saved):
    evil = np.array([{"payload": 1}] * 3, dtype=object)
    tamper(saved, arrays={"weights_": evil})
    assert "object dtype, which model files never hold" in load_error(saved)
    # A manifest that hides the dtype: the .npy header is checked first.
    tamper(saved, edit=lambda m: m["arrays"]["weights_"].update(dtype="<f8"))
    assert "has dtype |O and shape (3,), but the manifest says <f8" in load_error(saved)


def test_extra_entry_is_refused(saved):
    tamper(saved, extra={"arrays/payload.npy": npy(np.zeros(2))})
    assert "entries not in its manifest: arrays/payload.npy" in load_error(saved)


def test_duplicate_json_keys_are_refused(saved):
    def duplicate(metadata):
        return json.dumps(metadata).replace('"n_iter_":', '"n_iter_": 1, "n_iter_":').encode()

    tamper(saved, edit=duplicate)
    assert "metadata.json is not a valid JSON object" in load_error(saved)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (
            "2.0",
            r"format version 2\.0, written by gaussmix 9\.0\.0; this gaussmix .* reads "
            r"format version 1\.0 .* Upgrade gaussmix \(pip install --upgrade gaussmix\)",
        ),
        ("0.9", "format version 0.9, which this gaussmix no longer reads"),
        ("one", "format_version 'one' is not of the form 'major.minor'"),
        (1.0, "format_version 1.0 is not of the form 'major.minor'"),
    ],
)
def test_format_version(saved, version, message):
    def edit(metadata):
        metadata.update(format_version=version, gaussmix_version="9.0.0")

    # Read before the checksum: it applies even if the rest no longer matches.
    tamper(saved, edit=edit, fix=False)
    assert re.search(message, load_error(saved))


def test_newer_minor_version_suggests_upgrading_when_something_is_unknown(saved):
    def edit(metadata):
        metadata.update(format_version="1.4", gaussmix_version="0.9.0", future_key=[1])
        metadata["estimator"]["params"]["new_option"] = True

    tamper(saved, edit=edit)
    message = load_error(saved)
    assert "no parameter(s) new_option" in message
    assert "written by gaussmix 0.9.0, newer than this gaussmix" in message
    assert "pip install --upgrade gaussmix" in message


def test_newer_minor_version_loads_ignoring_unknown_top_level_keys(saved):
    tamper(saved, edit=lambda m: m.update(format_version="1.4", future_key={"a": 1}))
    original, frame = fitted()
    assert_identical(gaussmix.load(saved), original, frame)


def test_older_file_without_a_parameter_takes_its_default(saved):
    tamper(saved, edit=lambda m: m["estimator"]["params"].pop("learning_decay"))
    assert gaussmix.load(saved).learning_decay == GaussianMixture().learning_decay


def test_not_a_model_file(tmp_path):
    text = tmp_path / "notes.gmm"
    text.write_text("just some text, long enough to have no zip directory in it")
    assert "not a gaussmix model file (not a ZIP archive)" in load_error(text)

    empty = tmp_path / "empty.gmm"
    empty.touch()
    assert "the file is empty (0 bytes)" in load_error(empty)

    assert "there is no such file; check the path" in load_error(tmp_path / "missing.gmm")
    assert "it is a directory, not a regular file" in load_error(tmp_path)

    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "ZIP archive without metadata.json" in load_error(other_zip)

    other_format = tmp_path / "other.gmm"
    with zipfile.ZipFile(other_format, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"format": "something-else"}))
    assert "names the format 'something-else'" in load_error(other_format)


def test_path_must_be_a_path():
    with pytest.raises(TypeError, match="path must be a str or os\\.PathLike; got int"):
        gaussmix.load(3)


# ------------------------------------------ hostile files: bounded time and memory


def raw_zip(path, entries, *, directory_size=None, entry_count=None):
    """Write a ZIP archive by hand, so that its entries can declare anything.

    ``entries`` holds ``(name, method, data, crc, declared_size)``: ``data`` goes
    into the file as it is (already deflated for method 8), and the headers declare
    ``declared_size`` uncompressed bytes with ``crc``, true or not; the end record
    declares ``directory_size`` and ``entry_count`` when given.
    """
    with open(path, "wb") as handle:
        directory = []
        for name, method, data, crc, size in entries:
            offset = handle.tell()
            encoded = name.encode()
            handle.write(
                struct.pack(
                    "<4s5H3L2H",
                    b"PK\x03\x04",
                    20,
                    0,
                    method,
                    0,
                    0x21,
                    crc,
                    len(data),
                    size,
                    len(encoded),
                    0,
                )
                + encoded
                + data
            )
            directory.append(
                struct.pack(
                    "<4s6H3L5H2L",
                    b"PK\x01\x02",
                    20,
                    20,
                    0,
                    method,
                    0,
                    0x21,
                    crc,
                    len(data),
                    size,
                    len(encoded),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + encoded
            )
        start = handle.tell()
        handle.write(b"".join(directory))
        size = handle.tell() - start if directory_size is None else directory_size
        count = len(directory) if entry_count is None else entry_count
        if count > 0xFFFF:  # ZIP64: the end record's 16-bit count overflows
            record = handle.tell()
            handle.write(
                struct.pack(
                    "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, start
                )
            )
            handle.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, record, 1))
            count = 0xFFFF
        handle.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0))


def stored(name: str, data: bytes):
    return (name, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data))


def model_entries(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


_MIB = 1 << 20


def deflated_zeros(n_mib: int, prefix: bytes = b"") -> tuple[bytes, int, int]:
    """``prefix`` then ``n_mib`` MiB of zeros as one raw deflate stream: (data, crc, size).

    Built from one compressed MiB repeated (each ends with a full flush, so the
    pieces are independent), so that a GiB costs the test about a MiB.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(_MIB)
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(n_mib):
        crc = zlib.crc32(zeros, crc)
    # An empty final block ends the stream.
    return head + piece * n_mib + b"\x03\x00", crc, len(prefix) + n_mib * _MIB


def test_deflated_zeros_gives_a_valid_deflate_stream():
    data, crc, size = deflated_zeros(3, prefix=b"header")
    inflated = zlib.decompress(data, -15)
    assert len(inflated) == size and inflated[:6] == b"header" and not any(inflated[6:])
    assert zlib.crc32(inflated) == crc


def bounded_load(path, seconds=20.0, megabytes=40.0) -> str:
    """load's error for ``path``, asserting it came fast and with little memory."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        message = load_error(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.perf_counter() - start < seconds
    assert peak < megabytes * _MIB, f"peak {peak / _MIB:.0f} MiB"
    return message


@pytest.mark.parametrize("entry", ["metadata.json", "arrays/weights_.npy"])
def test_entry_inflating_far_beyond_its_declared_size(saved, entry):
    # 1 GiB of zeros in about a MiB, in an entry that declares its real size.
    entries = model_entries(saved)
    declared = len(entries[entry])
    bomb, _, _ = deflated_zeros(1024)
    raw_zip(
        saved,
        [
            (name, zipfile.ZIP_DEFLATED, bomb, zlib.crc32(data), declared)
            if name == entry
            else stored(name, data)
            for name, data in entries.items()
        ],
    )
    message = bounded_load(saved, seconds=5, megabytes=20)
    assert str(saved) in message and "corrupted" in message and "CRC" in message


def test_entry_declaring_more_than_the_limits_is_refused_before_it_is_read(saved):
    entries = model_entries(saved)
    bomb, crc, size = deflated_zeros(1024)
    raw_zip(
        saved,
        [
            (name, zipfile.ZIP_DEFLATED, bomb, crc, size)
            if name == "metadata.json"
            else stored(name, data)
            for name, data in entries.items()
        ],
    )
    message = bounded_load(saved, seconds=1, megabytes=5)
    assert "'metadata.json' declares 1,073,741,824 bytes, more than the 16,777,216" in message


def test_deflated_array_is_checked_against_its_checksum_before_it_is_held(saved):
    # A manifest consistent with a 256 MiB array; the entry inflates to it, but
    # its checksum is the original one's. It must not be held in memory to find out.
    entries = model_entries(saved)
    metadata = json.loads(entries["metadata.json"])
    n_values = (256 << 20) // 8
    metadata["arrays"]["weights_"]["shape"] = [n_values]
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (n_values,)}
    )
    bomb, crc, size = deflated_zeros(256, prefix=header.getvalue())
    entries["metadata.json"] = text = json.dumps(metadata).encode()
    entries["metadata.json.sha256"] = sha256(text).encode()
    raw_zip(
        saved,
        [
            (name, zipfile.ZIP_DEFLATED, bomb, crc, size)
            if name == "arrays/weights_.npy"
            else stored(name, data)
            for name, data in entries.items()
        ],
    )
    message = bounded_load(saved, megabytes=20)
    assert "the array 'weights_' does not match its SHA-256 checksum" in message


def test_entry_claiming_more_than_deflate_can_give(saved):
    entries = model_entries(saved)
    data = zlib.compress(entries["metadata.json"])[2:-4]  # raw deflate
    forged = ("metadata.json", zipfile.ZIP_DEFLATED, data, 0, 2000 * len(data))
    raw_zip(saved, [forged, *(stored(n, d) for n, d in entries.items() if n != forged[0])])
    assert "which its compression cannot give" in bounded_load(saved, seconds=1, megabytes=5)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_entry_declaring_more_bytes_than_it_holds(saved, method):
    entries = model_entries(saved)
    text = entries["metadata.json"]
    data = text if method == zipfile.ZIP_STORED else zlib.compress(text)[2:-4]
    size = len(text) + 100
    # A stored entry's sizes must agree; a deflated one's stream ends early, with
    # the CRC of what it holds.
    lying = ("metadata.json", method, data, zlib.crc32(text), size)
    raw_zip(saved, [lying, *(stored(n, d) for n, d in entries.items() if n != lying[0])])
    message = bounded_load(saved, seconds=1, megabytes=5)
    expected = "cannot give" if method == zipfile.ZIP_STORED else "'metadata.json' is truncated"
    assert expected in message


@pytest.mark.parametrize("n_extra", [2_000, 100_000])  # the second needs ZIP64
def test_many_entries_are_refused_before_the_directory_is_parsed(saved, n_extra):
    entries = [stored(name, data) for name, data in model_entries(saved).items()]
    extra = [stored(f"arrays/x{i}.npy", b"") for i in range(n_extra)]
    raw_zip(saved, entries + extra)
    with zipfile.ZipFile(saved) as archive:  # a valid archive, as zipfile reads it
        assert len(archive.infolist()) == n_extra + 7
    message = bounded_load(saved, seconds=5, megabytes=5)
    assert f"it holds {n_extra + 7:,} entries; a model file holds at most 1,024" in message
    assert len(message) < 500


def test_directory_holding_more_entries_than_its_end_record_says(saved):
    entries = [stored(name, data) for name, data in model_entries(saved).items()]
    extra = [stored(f"arrays/x{i}.npy", b"") for i in range(2_000)]
    raw_zip(saved, entries + extra, entry_count=7)
    message = bounded_load(saved, seconds=5, megabytes=20)
    assert "it holds 2,007 entries; a model file holds at most 1,024" in message


def test_entries_outside_the_manifest_are_listed_briefly(saved):
    entries = [stored(name, data) for name, data in model_entries(saved).items()]
    extra = [stored(f"arrays/x{i:03d}.npy", b"") for i in range(500)]
    raw_zip(saved, entries + extra)
    message = load_error(saved)
    assert "entries not in its manifest: arrays/x000.npy, arrays/x001.npy," in message
    assert "arrays/x009.npy ... and 490 more." in message
    assert len(message) < 800


def test_oversized_directory_is_refused_before_it_is_read(saved):
    entries = [stored(name, data) for name, data in model_entries(saved).items()]
    raw_zip(saved, entries, directory_size=1 << 30)
    message = bounded_load(saved, seconds=1, megabytes=5)
    assert "its ZIP directory declares 1,073,741,824 bytes" in message


def test_long_values_from_a_file_are_quoted_briefly(saved):
    tamper(saved, edit=lambda m: m["estimator"].update({"class": "x" * 1_000_000}))
    message = load_error(saved)
    assert "has the class 'xxxxxxx" in message and "..." in message
    assert len(message) < 1000


SPECIAL_FILES = {
    "directory": "a directory",
    "fifo": "a FIFO (named pipe)",
    "zero": "a character device",
    "urandom": "a character device",
    # A FIFO that takes the file's place between the check of the path and the open.
    "swapped fifo": "a FIFO (named pipe)",
}


@pytest.fixture(scope="module")
def special_file_errors(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """load's error for each special file, from another process, which a hang cannot block.

    The path is checked before it is opened, then opened without blocking and
    checked again; the swapped FIFO passes the first check (``os.stat`` is made
    to describe a model file there) and must be caught by the second.
    """
    directory = tmp_path_factory.mktemp("special")
    model = directory / "model.gmm"
    gaussmix.save(fitted()[0], model)
    paths = {"directory": directory / "dir", "fifo": directory / "fifo.gmm"}
    paths["directory"].mkdir()
    os.mkfifo(paths["fifo"])
    for name in ("zero", "urandom"):
        paths[name] = directory / f"{name}.gmm"
        paths[name].symlink_to(f"/dev/{name}")
    paths["swapped fifo"] = directory / "swapped.gmm"
    os.mkfifo(paths["swapped fifo"])
    code = (
        "import json, os, sys, gaussmix\n"
        "real_stat = os.stat\n"
        "def stat(path, *args, **kwargs):\n"
        "    if str(path) == sys.argv[2]:\n"
        "        path = sys.argv[1]\n"
        "    return real_stat(path, *args, **kwargs)\n"
        "os.stat = stat\n"
        "errors = {}\n"
        "for path in sys.argv[2:]:\n"
        "    try:\n"
        "        gaussmix.load(path)\n"
        "    except gaussmix.ModelFileError as exc:\n"
        "        errors[path] = str(exc)\n"
        "print(json.dumps(errors))\n"
    )
    names = ["swapped fifo", *(name for name in paths if name != "swapped fifo")]
    result = subprocess.run(
        [sys.executable, "-c", code, str(model), *(str(paths[name]) for name in names)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    errors = json.loads(result.stdout)
    return {name: (str(paths[name]), errors.get(str(paths[name]), "")) for name in names}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("kind", SPECIAL_FILES)
def test_special_files_are_refused_without_being_read(special_file_errors, kind):
    path, message = special_file_errors[kind]
    assert f"'{path}': it is {SPECIAL_FILES[kind]}, not a regular file" in message


def test_read_metadata(saved, tmp_path):
    metadata = persistence.read_metadata(saved)
    assert metadata["format_version"] == "1.0" and metadata["estimator"]["class"] == (
        "GaussianMixture"
    )
    with pytest.raises(ModelFileError, match="a directory, not a regular file"):
        persistence.read_metadata(tmp_path)


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [
        ("MAX_ENTRIES", 5, "it needs 7 entries, more than the 5"),
        ("MAX_METADATA_BYTES", 1000, "its metadata takes"),
        ("MAX_TOTAL_BYTES", 2000, "bytes, more than the 2,000"),
    ],
)
def test_save_refuses_what_load_would_refuse_for_its_size(
    tmp_path, monkeypatch, limit, value, message
):
    monkeypatch.setattr(_format, limit, value)
    with pytest.raises(ModelFileError, match=message):
        gaussmix.save(fitted()[0], tmp_path / "m.gmm")
    assert not os.listdir(tmp_path)


def test_save_names_the_target_when_the_directory_refuses_it(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(PermissionError) as info:
        gaussmix.save(fitted()[0], tmp_path / "m.gmm")
    assert info.value.filename == str(tmp_path / "m.gmm")
    assert str(info.value) == f"[Errno 13] Permission denied: '{tmp_path / 'm.gmm'}'"


# ------------------------------------------------------ another savable class


class Wrapper(BaseEstimator):
    """Stands in for a future estimator built on a fitted mixture (an outlier detector)."""

    def __init__(self, mixture=None, contamination=0.1):
        self.mixture = mixture
        self.contamination = contamination

    def fit(self, X):
        self.mixture_ = clone(self.mixture).fit(X)
        self.offset_ = float(np.quantile(self.mixture_.score_samples(X), self.contamination))
        return self


def check_wrapper_params(wrapper):
    if not 0 < wrapper.contamination <= 0.5:
        raise ValueError(f"contamination must be in (0, 0.5]; got {wrapper.contamination}.")


def check_wrapper_attributes(params, attributes):
    if not np.isfinite(attributes["offset_"]):
        raise ValueError("offset_ should be finite.")


@pytest.fixture
def with_wrapper(monkeypatch):
    """Register ``Wrapper`` the way a new estimator would be: one more entry."""
    classes = dict(_registry.savable_classes())
    classes["Wrapper"] = _registry.SavableClass(
        name="Wrapper",
        cls=Wrapper,
        attributes={"mixture_": "estimator", "offset_": "float"},
        optional=(),
        check_params=check_wrapper_params,
        check_attributes=check_wrapper_attributes,
    )
    monkeypatch.setattr(_registry, "savable_classes", lambda: classes)


def test_registering_a_class_makes_it_savable(tmp_path, with_wrapper):
    X, _ = mixture_data(200, 2, 2, seed=8)
    template = GaussianMixture(2, covariance_type="diag", kernel="numpy", random_state=3)
    original = Wrapper(template, contamination=0.05).fit(X)
    gaussmix.save(original, tmp_path / "w.gmm")
    loaded = gaussmix.load(tmp_path / "w.gmm")
    assert type(loaded) is Wrapper and loaded.offset_ == original.offset_
    assert loaded.contamination == 0.05
    # The parameter is an unfitted mixture; the attribute a fitted one.
    assert not hasattr(loaded.mixture, "weights_")
    assert loaded.mixture.get_params() == template.get_params()
    assert_identical(loaded.mixture_, original.mixture_, X)

    # The nested mixture is validated like a top-level one.
    tamper(
        tmp_path / "w.gmm",
        arrays={"mixture_/weights_": np.array([1.5, -0.5])},
    )
    message = load_error(tmp_path / "w.gmm")
    assert "invalid GaussianMixture: weights_ should be non-negative" in message


def test_registered_class_parameters_are_checked(tmp_path, with_wrapper):
    X, _ = mixture_data(200, 2, 2, seed=8)
    original = Wrapper(GaussianMixture(2, kernel="numpy", random_state=0)).fit(X)
    gaussmix.save(original, tmp_path / "w.gmm")
    tamper(tmp_path / "w.gmm", edit=set_param("contamination", 0.9))
    assert "contamination must be in (0, 0.5]; got 0.9" in load_error(tmp_path / "w.gmm")


# -------------------------------------------------------------- OutlierDetector

DETECTOR_FITTED = tuple(gaussmix.OutlierDetector.saved_attributes)
_DETECTORS: dict = {}


def fitted_detector(key, dtype=np.float64):
    """Detectors fitted on a DataFrame of clusters and scattered points; cached."""
    numpy_kernel = GaussianMixture(kernel="numpy")
    params = {
        "fixed": {"n_components": 3, "contamination": 0.05, "mixture": numpy_kernel},
        "noise search": {
            "n_components": [2, 3],
            "covariance_type": ["full", "diag"],
            "noise": True,
            "contamination": "auto",
            "mixture": numpy_kernel,
        },
        "noise template": {
            "n_components": 3,
            "noise": True,
            "mixture": GaussianMixture(reg_covar="auto", kernel="numpy", n_init=2),
            "random_state": np.random.RandomState(4),
        },
    }[key]
    if (key, np.dtype(dtype).name) not in _DETECTORS:
        X, _ = mixture_data(300, 3, 3, seed=6)
        scattered = np.random.default_rng(6).uniform(X.min(axis=0), X.max(axis=0), (15, 3))
        frame = pd.DataFrame(np.vstack([X, scattered]).astype(dtype), columns=["a", "b", "c"])
        detector = gaussmix.OutlierDetector(**{"random_state": 0, **params}).fit(frame)
        _DETECTORS[key, np.dtype(dtype).name] = (detector, frame)
    return _DETECTORS[key, np.dtype(dtype).name]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("key", ["fixed", "noise search", "noise template"])
def test_detector_round_trip_is_bit_exact(tmp_path, key, dtype):
    original, frame = fitted_detector(key, dtype)
    gaussmix.save(original, tmp_path / "detector.gmm")
    loaded = gaussmix.load(tmp_path / "detector.gmm")
    assert type(loaded) is gaussmix.OutlierDetector
    params, loaded_params = original.get_params(deep=False), loaded.get_params(deep=False)
    template, loaded_template = params.pop("mixture"), loaded_params.pop("mixture")
    assert_same_params(params, loaded_params)
    if template is not None:
        assert_same_params(template.get_params(), loaded_template.get_params())
    for name in DETECTOR_FITTED:
        assert hasattr(loaded, name) == hasattr(original, name), name
    assert loaded.offset_ == original.offset_
    assert loaded.feature_names_in_.tolist() == ["a", "b", "c"]
    assert_identical(loaded.mixture_, original.mixture_, frame.to_numpy())
    methods = ["decision_function", "score_samples", "predict"]
    if original.noise:
        assert loaded.noise_weight_ == original.noise_weight_
        assert loaded.noise_log_volume_ == original.noise_log_volume_
        methods.append("noise_proba")
    for method in methods:
        expected, got = getattr(original, method)(frame), getattr(loaded, method)(frame)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), method
    assert not hasattr(loaded, "selection_")  # the search's table is not kept


def test_detector_registry_lists_every_fitted_attribute():
    detector, _ = fitted_detector("noise search")
    public = {name for name in vars(detector) if name.endswith("_") and not name.startswith("_")}
    assert public - {"selection_"} == set(DETECTOR_FITTED)


def drop_attribute(name):
    return lambda m: m["estimator"]["attributes"].pop(name)


@pytest.mark.parametrize(
    ("key", "edit", "message"),
    [
        (
            "noise search",
            set_attribute("noise_weight_", 1.5),
            r"noise_weight_ should be in \[0, 1\)",
        ),
        ("noise search", drop_attribute("noise_log_volume_"), "noise_log_volume_ is missing"),
        ("noise search", set_attribute("offset_", 2.0), "offset_ should be the noise boundary"),
        ("fixed", set_attribute("noise_weight_", 0.1), "noise=False but noise_weight_ is present"),
        ("fixed", set_param("n_components", 4), "mixture_ has 3 components but n_components is 4"),
        ("fixed", set_param("covariance_type", "diag"), "covariance_type 'full' but the"),
        ("fixed", set_param("contamination", 0.9), r"contamination must be in \(0, 0.5\]"),
        ("fixed", set_attribute("offset_", {"$float": "nan"}), "offset_ should be finite"),
        (
            "fixed",
            set_attribute("n_features_in_", 2),
            "mixture_ has 3 features but n_features_in_",
        ),
    ],
)
def test_inconsistent_detector_files_are_refused(tmp_path, key, edit, message):
    gaussmix.save(fitted_detector(key)[0], tmp_path / "detector.gmm")
    tamper(tmp_path / "detector.gmm", edit=edit)
    assert re.search(message, load_error(tmp_path / "detector.gmm"))
