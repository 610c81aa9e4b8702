"""``gaussmix demo``: the demonstration, its figures and its report."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

__all__ = ["run_demo"]


def run_demo(out_dir: Path, *, figures: bool = True, quiet: bool = False) -> dict[str, Any]:
    """Run :func:`gaussmix.demo.run_demo` and write its report next to its figures.

    Parameters
    ----------
    out_dir : Path
        Directory for the figures and ``report.html``.
    figures : bool
        Draw the figures and write the report (both need matplotlib).
    quiet : bool
        Do not print the demo's metrics.

    Returns
    -------
    dict
        :func:`gaussmix.demo.run_demo`'s result, with ``"report"``: the report's
        path, or None when there is none (no figures, or no :mod:`gaussmix.report`
        in this installation).
    """
    from ..demo import run_demo as _run_demo

    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        result = _run_demo(out_dir, make_figures=figures)
    # run_demo writes the report (with its model selection) when it draws figures.
    result.setdefault("report", None)
    return result
