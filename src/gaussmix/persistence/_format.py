"""The model-file format: its names, its limits, and how its errors are worded.

Other modules of the persistence layer read the limits through this module
(``fmt.MAX_ENTRIES``), so that there is one place that states them.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from typing import Any

import numpy as np

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODEL_FILE_EXTENSION",
    "Problem",
    "bounded",
    "listing",
    "quoted",
    "short",
]

FORMAT_NAME = "gaussmix-model"
#: (major, minor). A reader loads every minor version of its own major; see the
#: versioning policy in docs/model-file-format.md before changing either.
FORMAT_VERSION = (1, 0)
MODEL_FILE_EXTENSION = ".gmm"

METADATA = "metadata.json"
METADATA_DIGEST = "metadata.json.sha256"
ARRAY_DIR = "arrays/"

# Limits, checked against what the file declares before anything is read (and by
# save, so that it never writes a file load refuses). Entries are read in pieces
# that stop at their declared size, so neither a forged size nor a deflate stream
# that inflates beyond it can make load hold more than these allow.
MAX_METADATA_BYTES = 16 << 20
MAX_NPY_HEADER = 1 << 16
MAX_ENTRIES = 1024
# The ZIP central directory, which zipfile parses whole on opening: 1024 entries
# with names of a few hundred bytes fit well within it.
MAX_DIRECTORY_BYTES = 1 << 20
# All entries together, as they are when extracted.
MAX_TOTAL_BYTES = 4 << 30
# Deflate cannot compress by more than about 1032:1; an entry that claims more is
# forged, and is refused before it is inflated.
MAX_DEFLATE_RATIO = 1100
READ_PIECE = 1 << 20
MAX_DEPTH = 32
MAX_NDIM = 32
# What an error message quotes of a file: this many names, or characters of a value.
MAX_LISTED = 10
MAX_QUOTED = 80
MAX_MESSAGE = 2000

# Fixed member timestamps: the same model always gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# Array dtypes a file may hold (little-endian or byte-order free). Fitted arrays
# are further restricted to float32 and float64.
ARRAY_DTYPES = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8"]
)
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
ARRAY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
SHA256 = re.compile(r"[0-9a-f]{64}")
VERSION = re.compile(r"(\d{1,6})\.(\d{1,6})")

# What a damaged archive raises while it is read: a bad CRC or header
# (BadZipFile), a broken deflate stream (zlib.error), data ending early (EOFError).
DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)

MODIFIED_HINT = (
    "Files written by gaussmix.save pass this check, so the file was damaged or modified "
    "after it was written: save the model again with gaussmix.save, or restore the file "
    "from a copy."
)


class Problem(Exception):
    """A reason a file cannot be loaded; ``load`` adds the file's path."""


def quoted(value: Any) -> str:
    """``repr(value)``, shortened: file contents in messages stay short."""
    return short(repr(value))


def short(text: str) -> str:
    return text if len(text) <= MAX_QUOTED else f"{text[: MAX_QUOTED - 3]}..."


def listing(names: list[str]) -> str:
    """The first few of ``names``, and how many more there are."""
    shown = ", ".join(short(str(name)) for name in names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} ... and {more:,} more" if more > 0 else shown


def bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[: MAX_MESSAGE - 20]} ... (message cut)"
