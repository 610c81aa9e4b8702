"""Input adapters: data files read as row blocks."""

from __future__ import annotations

from ._sources import DataSource, open_data

__all__ = ["DataSource", "open_data"]
