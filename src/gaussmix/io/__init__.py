"""Input adapters (data files read as row blocks) and model files."""

from __future__ import annotations

from ._model_files import load, save
from ._sources import DataSource, open_data

__all__ = ["DataSource", "load", "open_data", "save"]
