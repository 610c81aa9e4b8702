"""The archive of a model file: bounded reads of a ZIP file that may be hostile, and writes.

Only regular files are opened; the number and size of the entries are checked
against the format's limits before anything is read, and each entry is read in
pieces that stop at its declared size. Arrays are parsed from their .npy bytes
with their header checked (dtype from an allow-list, shape) before the data.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .._version import __version__
from ..exceptions import ModelFileError
from ..io import NotRegularFileError, open_regular_file
from . import _format as fmt

__all__ = [
    "check_limits",
    "read_arrays",
    "read_metadata_entry",
    "version_hint",
    "with_archive",
    "write_zip",
]


def check_limits(members: list[tuple[str, bytes]], what: str) -> None:
    """Refuse to write what load would refuse for its size."""
    problem = None
    if len(members) > fmt.MAX_ENTRIES:
        problem = f"it needs {len(members):,} entries, more than the {fmt.MAX_ENTRIES:,}"
    elif len(members[0][1]) > fmt.MAX_METADATA_BYTES:
        problem = (
            f"its metadata takes {len(members[0][1]):,} bytes, more than the "
            f"{fmt.MAX_METADATA_BYTES:,}"
        )
    elif sum(len(data) for _, data in members) > fmt.MAX_TOTAL_BYTES:
        total = sum(len(data) for _, data in members)
        problem = f"it takes {total:,} bytes, more than the {fmt.MAX_TOTAL_BYTES:,}"
    if problem is not None:
        raise ModelFileError(
            f"Cannot save the {what}: {problem} a model file may hold "
            "(docs/model-file-format.md lists the limits)."
        )


def write_zip(handle: BinaryIO, members: list[tuple[str, bytes]]) -> None:
    # Stored, not deflated: float arrays barely compress, and stored members
    # can later be read in place.
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=fmt.ZIP_DATE)
            info.create_system = 3  # Unix: the same bytes on every platform
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


def with_archive(path: Path, read: Callable[[zipfile.ZipFile], Any]) -> Any:
    """``read(archive)`` on the model file at ``path``; every failure a ModelFileError."""
    where = f"Cannot load the model file '{path}'"
    try:
        handle = _open_regular_file(path)
    except fmt.Problem as problem:
        raise ModelFileError(f"{where}: {problem}") from None
    with handle:
        try:
            _check_directory(handle)
            archive = zipfile.ZipFile(handle)
        except fmt.Problem as problem:
            raise ModelFileError(f"{where}: {fmt.bounded(str(problem))}") from None
        except fmt.DAMAGE:
            raise ModelFileError(f"{where}: {_not_a_zip(handle)}") from None
        except OSError as exc:
            raise ModelFileError(f"{where}: it cannot be read ({exc}).") from exc
        with archive:
            try:
                return read(archive)
            except fmt.Problem as problem:
                raise ModelFileError(f"{where}: {fmt.bounded(str(problem))}") from None
            except fmt.DAMAGE as exc:
                raise ModelFileError(
                    f"{where}: the file is corrupted ({exc}): it was damaged or modified after "
                    "it was written. Save the model again, or restore the file from a copy."
                ) from None
            except OSError as exc:
                raise ModelFileError(f"{where}: reading it failed ({exc}).") from exc


def _open_regular_file(path: Path) -> BinaryIO:
    try:
        return open_regular_file(path)
    except FileNotFoundError:
        raise fmt.Problem("there is no such file; check the path.") from None
    except NotRegularFileError as exc:
        raise fmt.Problem(
            f"it is {exc.kind}, not a regular file. Give the path of a file written by "
            "gaussmix.save."
        ) from None
    except OSError as exc:
        raise fmt.Problem(f"it cannot be read ({exc}).") from None


def _not_a_zip(handle: BinaryIO) -> str:
    """Why a file that is not a readable ZIP archive is not a model file."""
    with contextlib.suppress(OSError):
        handle.seek(0)
        start = handle.read(4)
        if not start:
            return "the file is empty (0 bytes): an interrupted copy or save?"
        if start == b"PK\x03\x04":
            return (
                "the file is truncated or corrupted: it starts as a model file but its end "
                "(the ZIP directory) is missing or damaged. Copy or save it again."
            )
    return "it is not a gaussmix model file (not a ZIP archive)."


# The end of central directory record (EOCD), its ZIP64 locator and record.
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"


def _check_directory(handle: BinaryIO) -> None:
    """Refuse an archive whose central directory exceeds the limits, before zipfile reads it.

    zipfile reads and parses the whole central directory when it opens an
    archive, as large as the end record says. Every candidate end record zipfile
    might use (the last 22 bytes, and the last signature in the final 64 KiB) is
    checked, with its ZIP64 record where there is one. Anything unreadable is left
    to zipfile, which reports it as damage.
    """
    size = handle.seek(0, os.SEEK_END)
    tail_size = min(size, _EOCD.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    candidates = {tail.rfind(_EOCD_SIGNATURE), len(tail) - _EOCD.size}
    for position in sorted(c for c in candidates if 0 <= c <= len(tail) - _EOCD.size):
        record = _EOCD.unpack_from(tail, position)
        if record[0] != _EOCD_SIGNATURE:
            continue
        entries, directory_bytes = record[4], record[5]
        entries, directory_bytes = _zip64_sizes(
            handle, size - tail_size + position, entries, directory_bytes
        )
        if entries > fmt.MAX_ENTRIES:
            raise fmt.Problem(
                f"it holds {entries:,} entries; a model file holds at most {fmt.MAX_ENTRIES:,} "
                f"(its metadata, the checksum and one per array). {fmt.MODIFIED_HINT}"
            )
        if directory_bytes > fmt.MAX_DIRECTORY_BYTES:
            raise fmt.Problem(
                f"its ZIP directory declares {directory_bytes:,} bytes; a model file's takes at "
                f"most {fmt.MAX_DIRECTORY_BYTES:,}. {fmt.MODIFIED_HINT}"
            )


def _zip64_sizes(handle: BinaryIO, eocd_offset: int, entries: int, directory_bytes: int):
    """The entry count and directory size, from the ZIP64 record when there is one."""
    start = eocd_offset - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
    if start < 0:
        return entries, directory_bytes
    handle.seek(start)
    data = handle.read(_ZIP64_EOCD.size + _ZIP64_LOCATOR.size)
    if len(data) != _ZIP64_EOCD.size + _ZIP64_LOCATOR.size:
        return entries, directory_bytes
    locator = _ZIP64_LOCATOR.unpack_from(data, _ZIP64_EOCD.size)
    record = _ZIP64_EOCD.unpack_from(data, 0)
    if locator[0] != _ZIP64_LOCATOR_SIGNATURE or record[0] != _ZIP64_EOCD_SIGNATURE:
        return entries, directory_bytes
    return max(entries, record[7]), max(directory_bytes, record[8])


def read_metadata_entry(archive: zipfile.ZipFile) -> tuple[dict, dict[str, zipfile.ZipInfo]]:
    """The metadata, format-checked and checksum-verified, and the archive's entries."""
    entries = archive.infolist()
    if len(entries) > fmt.MAX_ENTRIES:  # a directory that holds more than its end record says
        raise fmt.Problem(
            f"it holds {len(entries):,} entries; a model file holds at most {fmt.MAX_ENTRIES:,}. "
            f"{fmt.MODIFIED_HINT}"
        )
    infos = {}
    for info in entries:
        if info.filename in infos:
            raise fmt.Problem(
                f"it holds the entry {fmt.quoted(info.filename)} twice. {fmt.MODIFIED_HINT}"
            )
        infos[info.filename] = info
    total = sum(info.file_size for info in infos.values())
    if total > fmt.MAX_TOTAL_BYTES:
        raise fmt.Problem(
            f"its entries declare {total:,} bytes in all; a model file holds at most "
            f"{fmt.MAX_TOTAL_BYTES:,}. {fmt.MODIFIED_HINT}"
        )
    if fmt.METADATA not in infos:
        raise fmt.Problem(
            f"it is a ZIP archive without {fmt.METADATA}, so not a gaussmix model file."
        )
    data = _read_member(archive, infos[fmt.METADATA], fmt.MAX_METADATA_BYTES)
    try:
        metadata = _parse_json(data)
    except ValueError:
        metadata = None
    # The format and version are read before the checksum, so that a file of a
    # future format (whose layout may differ) gets "upgrade gaussmix", not "corrupted".
    if isinstance(metadata, dict):
        _check_format(metadata)
    if fmt.METADATA_DIGEST not in infos:
        raise fmt.Problem(f"the entry {fmt.METADATA_DIGEST} is missing. {fmt.MODIFIED_HINT}")
    digest = _read_member(archive, infos[fmt.METADATA_DIGEST], 1024)
    if digest.strip() != hashlib.sha256(data).hexdigest().encode("ascii"):
        raise fmt.Problem(
            f"the file is corrupted or was modified: {fmt.METADATA} does not match its SHA-256 "
            f"checksum. {fmt.MODIFIED_HINT}"
        )
    if not isinstance(metadata, dict):
        raise fmt.Problem(f"{fmt.METADATA} is not a valid JSON object. {fmt.MODIFIED_HINT}")
    return metadata, infos


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytearray:
    """An entry's bytes, read in pieces that never go past its declared size."""
    _check_entry(info, limit)
    data = bytearray()
    for piece in _pieces(archive, info):
        data += piece
    return data


def _check_entry(info: zipfile.ZipInfo, limit: int) -> None:
    """Refuse an entry by what the ZIP directory declares of it, before reading it."""
    name = fmt.quoted(info.filename)
    if info.flag_bits & 0x1:
        raise fmt.Problem(f"the entry {name} is encrypted.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise fmt.Problem(
            f"the entry {name} uses ZIP compression method {info.compress_type}; "
            f"model files use only stored or deflated entries."
        )
    if info.file_size > limit:
        raise fmt.Problem(
            f"the entry {name} declares {info.file_size:,} bytes, more than the "
            f"{limit:,} its manifest and the format's limits allow."
        )
    stored = info.compress_type == zipfile.ZIP_STORED
    if (stored and info.file_size != info.compress_size) or (
        not stored and info.file_size > fmt.MAX_DEFLATE_RATIO * info.compress_size + 1024
    ):
        raise fmt.Problem(
            f"the entry {name} declares {info.file_size:,} bytes from {info.compress_size:,} "
            "compressed ones, which its compression cannot give."
        )


def _pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """An entry's bytes in pieces of at most ``fmt.READ_PIECE``; stops at its declared size.

    zipfile itself stops at the declared size and then checks the CRC; one byte
    more is asked for, to refuse an entry that holds more than it declares.
    """
    read = 0
    with archive.open(info) as member:
        while read <= info.file_size:
            piece = member.read(min(fmt.READ_PIECE, info.file_size + 1 - read))
            if not piece:
                break
            read += len(piece)
            if read > info.file_size:
                raise fmt.Problem(
                    f"the entry {fmt.quoted(info.filename)} holds more than the "
                    f"{info.file_size:,} bytes it declares."
                )
            yield piece
    if read != info.file_size:
        raise fmt.Problem(f"the entry {fmt.quoted(info.filename)} is truncated.")


def _parse_json(data: bytes):
    """Strict JSON: UTF-8, no NaN/Infinity literals, no duplicate keys."""

    def no_duplicates(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    try:
        return json.loads(
            data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _check_format(metadata: dict) -> None:
    if metadata.get("format") != fmt.FORMAT_NAME:
        raise fmt.Problem(
            f"it is not a gaussmix model file ({fmt.METADATA} names the format "
            f"{fmt.quoted(metadata.get('format'))}, not {fmt.FORMAT_NAME!r})."
        )
    version = metadata.get("format_version")
    match = fmt.VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise fmt.Problem(
            f"its format_version {fmt.quoted(version)} is not of the form 'major.minor'."
        )
    major = int(match[1])
    ours = f"{fmt.FORMAT_VERSION[0]}.{fmt.FORMAT_VERSION[1]}"
    if major > fmt.FORMAT_VERSION[0]:
        writer = metadata.get("gaussmix_version")
        by = f" by gaussmix {writer:.{fmt.MAX_QUOTED}}" if isinstance(writer, str) else ""
        raise fmt.Problem(
            f"it has format version {version}, written{by}; this gaussmix ({__version__}) "
            f"reads format version {ours} and the earlier {fmt.FORMAT_VERSION[0]}.x versions. "
            "Upgrade gaussmix (pip install --upgrade gaussmix) to load it."
        )
    if major < fmt.FORMAT_VERSION[0]:
        raise fmt.Problem(
            f"it has format version {version}, which this gaussmix no longer reads (it "
            f"reads {fmt.FORMAT_VERSION[0]}.x)."
        )


def version_hint(metadata: dict) -> str:
    """Advice added to validation errors: upgrade when the writer was newer."""
    writer = metadata.get("gaussmix_version")
    minor = int(fmt.VERSION.fullmatch(metadata["format_version"])[2])
    if minor > fmt.FORMAT_VERSION[1] or (
        isinstance(writer, str) and _version_tuple(writer) > _version_tuple(__version__)
    ):
        return (
            f"The file was written by gaussmix {writer:.{fmt.MAX_QUOTED}}, newer than this "
            f"gaussmix ({__version__}): upgrading gaussmix (pip install --upgrade gaussmix) may "
            "let you load it."
        )
    return fmt.MODIFIED_HINT


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = re.match(r"\d{0,9}", part)[0]
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def read_arrays(archive: zipfile.ZipFile, infos: dict, manifest) -> dict[str, np.ndarray]:
    """Every array in the manifest, checked against its dtype, shape and checksum."""
    if not isinstance(manifest, dict):
        raise fmt.Problem(f"{fmt.METADATA} has no array manifest ('arrays').")
    expected = {fmt.METADATA, fmt.METADATA_DIGEST} | {
        f"{fmt.ARRAY_DIR}{name}.npy" for name in manifest
    }
    unexpected = sorted(set(infos) - expected)
    if unexpected:
        raise fmt.Problem(f"it holds entries not in its manifest: {fmt.listing(unexpected)}.")
    arrays = {}
    for name, spec in manifest.items():
        dtype, shape, digest = _check_manifest_entry(name, spec)
        member = f"{fmt.ARRAY_DIR}{name}.npy"
        if member not in infos:
            raise fmt.Problem(
                f"the array {fmt.quoted(name)} in the manifest is missing from the archive."
            )
        info = infos[member]
        limit = math.prod(shape) * dtype.itemsize + fmt.MAX_NPY_HEADER
        mismatch = fmt.Problem(
            f"the file is corrupted or was modified: the array {name!r} does not match "
            "its SHA-256 checksum."
        )
        if info.compress_type != zipfile.ZIP_STORED:
            # A deflated entry can inflate to far more than the file's size: its
            # checksum is checked on a streamed pass before it is held in memory.
            _check_entry(info, limit)
            checksum = hashlib.sha256()
            for piece in _pieces(archive, info):
                checksum.update(piece)
            if checksum.hexdigest() != digest:
                raise mismatch
        data = _read_member(archive, info, limit)
        if hashlib.sha256(data).hexdigest() != digest:
            raise mismatch
        arrays[name] = _parse_npy(name, data, dtype, shape)
    return arrays


def _check_manifest_entry(name, spec) -> tuple[np.dtype, tuple[int, ...], str]:
    if not isinstance(name, str) or not fmt.ARRAY_NAME.fullmatch(name):
        raise fmt.Problem(
            f"the manifest names an array {fmt.quoted(name)}, which is not a valid name."
        )
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "sha256"}:
        raise fmt.Problem(
            f"the manifest entry of array {fmt.quoted(name)} should hold dtype, shape, sha256."
        )
    dtype, shape, digest = spec["dtype"], spec["shape"], spec["sha256"]
    if not isinstance(dtype, str) or dtype not in fmt.ARRAY_DTYPES:
        if isinstance(dtype, str) and dtype.lstrip("<>|=").startswith("O"):
            raise fmt.Problem(
                f"the array {name!r} has the object dtype, which model files never hold: "
                "loading it would need pickle, which can run arbitrary code."
            )
        raise fmt.Problem(
            f"the array {name!r} has dtype {fmt.quoted(dtype)}; model files hold booleans, "
            "integers and little-endian floats only."
        )
    if (
        not isinstance(shape, list)
        or len(shape) > fmt.MAX_NDIM
        or not all(type(n) is int and n >= 0 for n in shape)
    ):
        raise fmt.Problem(
            f"the array {name!r} has an invalid shape {fmt.quoted(shape)} in the manifest."
        )
    if not isinstance(digest, str) or not fmt.SHA256.fullmatch(digest):
        raise fmt.Problem(
            f"the array {name!r} has an invalid sha256 {fmt.quoted(digest)} in the manifest."
        )
    return np.dtype(dtype), tuple(shape), digest


def _parse_npy(name: str, data: bytearray, dtype: np.dtype, shape: tuple) -> np.ndarray:
    """The array in .npy bytes, its header checked before its data is touched."""
    # The header's bytes only (magic, length, header): no copy of the data.
    handle = io.BytesIO(memoryview(data)[: 12 + fmt.MAX_NPY_HEADER])
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(handle, fmt.MAX_NPY_HEADER)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(handle, fmt.MAX_NPY_HEADER)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise fmt.Problem(
            f"the array {name!r} is not a valid .npy file ({fmt.short(str(exc))})."
        ) from None
    found_shape, fortran_order, found_dtype = header
    if found_dtype != dtype or found_dtype.str != dtype.str or tuple(found_shape) != shape:
        raise fmt.Problem(
            f"the array {name!r} has dtype {found_dtype.str} and shape {found_shape}, but the "
            f"manifest says {dtype.str} and {shape}."
        )
    payload = memoryview(data)[handle.tell() :]
    if len(payload) != math.prod(shape) * dtype.itemsize:
        raise fmt.Problem(
            f"the array {name!r} has {len(payload)} bytes of data, not the size of "
            f"its shape {shape}."
        )
    flat = np.frombuffer(payload, dtype=dtype)
    array = flat.reshape(shape, order="F" if fortran_order else "C")
    # A writable copy in native byte order, keeping the saved memory layout.
    return np.array(array, dtype=dtype.newbyteorder("="), order="K", copy=True)
