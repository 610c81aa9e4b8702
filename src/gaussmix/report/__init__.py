"""A fitted Gaussian mixture, or a model selection, as one self-contained HTML page.

::

    import gaussmix
    from gaussmix.report import write_report

    result = gaussmix.select_model(X, range(1, 7))
    write_report("report.html", result.best_estimator_, X, selection=result)

The page holds the data summary, the selection table and why the chosen model
won, the fit's diagnostics, each component's parameters, a comparison with
k-means and the figures of :mod:`gaussmix.plot`, embedded as PNG images: it can
be mailed or archived as one file and opened offline. Drawing the figures needs
matplotlib (``pip install "gaussmix[plots]"``), imported only when a report is made.
"""

from __future__ import annotations

from ._report import render_report, write_report

__all__ = ["render_report", "write_report"]
