"""Import scikit-learn's estimator machinery from a frame with room on CPython's frame stack.

CPython 3.11 and later keep Python frames on a stack of 16 KiB chunks and, until the fix
of CPython issue gh-142183 (2026: keep one spare chunk), free a chunk as soon as the
stack drops back out of it. A loop whose calls straddle the end of a chunk then maps and
unmaps a chunk on every call: an ``mmap``, a page fault and a ``munmap`` each time.
Imported from inside ``import gaussmix``, two or three module levels below a script's
top level, scikit-learn and SciPy run their import-time loops (docstring processing,
mostly) right on such an end: thousands of map/unmap pairs, tens of milliseconds of a
fresh process's first import (docs/how-it-works.md has the figures).

:func:`import_with_room` reserves 64 KiB of stack in its own frame. CPython places a
frame that does not fit in the current chunk at the start of a new chunk sized for it,
here 128 KiB, and every frame of the nested import then fits in what is left of that
chunk, so none of them crosses a chunk's end. Elsewhere (CPython 3.10, PyPy, a fixed
CPython) the reservation is an unused part of one short-lived frame.

The package imports this module first, for its side effect.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

# The third-party modules on the path of ``from gaussmix import GaussianMixture``.
MODULES = (
    "numpy",
    "sklearn.base",
    "sklearn.exceptions",
    "sklearn.utils",
    "sklearn.utils.validation",
)

# Slots of 8 bytes reserved in the importing frame: just past 64 KiB, so the chunk CPython
# allocates for the frame is 128 KiB (with or without its per-chunk allowance), leaving
# about 60 KiB for the frames of the nested import; importing scikit-learn needs under
# 30 KiB of them.
RESERVED_SLOTS = 8200


def import_with_room(names: Iterable[str]) -> None:
    """Import ``names`` (dotted module names) from a frame with 64 KiB of stack to spare.

    Parameters
    ----------
    names : iterable of str
        Modules to import, in order; those already imported cost a dictionary lookup.
    """
    for name in names:
        if name not in sys.modules:
            importlib.import_module(name)


if sys.implementation.name == "cpython":
    import_with_room.__code__ = import_with_room.__code__.replace(
        co_stacksize=import_with_room.__code__.co_stacksize + RESERVED_SLOTS
    )

import_with_room(MODULES)
