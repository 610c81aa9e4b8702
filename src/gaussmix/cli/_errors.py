"""The error that the command line turns into exit status 2.

Anything wrong with what the user gave (an option value, a column, the data file's
contents) raises :class:`InputError`; a failure of the computation or of a model
file raises anything else (exit status 1).
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """The command line or the data it names cannot be used (exit status 2)."""
