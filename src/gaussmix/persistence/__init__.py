"""Model files: a fitted estimator saved to one file and loaded back, without pickle.

This layer sits above the estimators it saves: each estimator declares what a file
keeps of it (``saved_attributes``, ``optional_saved_attributes``,
``check_saved_attributes``), and its covariance model checks the saved covariances.

- :mod:`._files`: :func:`save`, :func:`load`, :func:`read_metadata`;
- :mod:`._codec`: an estimator as the file's JSON tree, and back;
- :mod:`._archive`: bounded reads and writes of the ZIP archive;
- :mod:`._registry`: the allow-list of classes a file may hold;
- :mod:`._format`: the format's names and limits.
"""

from __future__ import annotations

from ._files import load, read_metadata, save
from ._format import FORMAT_NAME, FORMAT_VERSION, MODEL_FILE_EXTENSION
from ._registry import SavableClass, savable_classes

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODEL_FILE_EXTENSION",
    "SavableClass",
    "load",
    "read_metadata",
    "savable_classes",
    "save",
]
