"""Input sources (data files read as row blocks), and safe file access.

The bottom layer of the package: it imports nothing above it. Besides the data
sources it holds what every reader and writer of files shares: opening only
regular files (:func:`open_regular_file`) and atomic writes
(:func:`write_atomically`, :func:`temporary_path`), used by the model files, the
command line's tables and the report.
"""

from __future__ import annotations

from ._atomic import temporary_path, write_atomically
from ._regular import NotRegularFileError, open_regular_file
from ._sources import DataSource, open_data

__all__ = [
    "DataSource",
    "NotRegularFileError",
    "open_data",
    "open_regular_file",
    "temporary_path",
    "write_atomically",
]
