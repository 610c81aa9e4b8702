"""``render_report`` and ``write_report``: a fitted mixture as one HTML page."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import _content as content
from ._figures import (
    ReportFigure,
    component_swatches,
    draw_figures,
    plot_rows,
    require_matplotlib,
    take_rows,
)
from ._html import (
    NDASH,
    TIMES,
    Markup,
    cell,
    fixed,
    h,
    image,
    integer,
    join,
    key_values,
    num,
    page,
    table,
)

__all__ = ["render_report", "write_report"]

# Cells highlighted in the selection tables, best first.
TOP_CELLS = 3
# Rows of the ranked selection table shown outside the collapsed full table.
RANKED_ROWS = 5
# Beyond this many features the covariance matrices are left out (K D^2 cells).
MATRIX_MAX_FEATURES = 10


def render_report(
    estimator: Any,
    X: Any,
    *,
    selection: Any = None,
    title: str | None = None,
) -> str:
    """Describe a fitted Gaussian mixture and its data as a self-contained HTML page.

    The page has the data summary, the model selection (when given: the
    criterion, the table of every cell, why the chosen model won), the fit's
    diagnostics (convergence, log-likelihood, AIC, BIC, ICL, silhouette, mean
    uncertainty), each component's parameters, a comparison with k-means of
    the same number of clusters, and the figures of :mod:`gaussmix.plot`,
    embedded as PNG images. It loads nothing from elsewhere and runs no scripts.

    Parameters
    ----------
    estimator : fitted GaussianMixture
        The model to describe (scikit-learn's ``GaussianMixture`` works too).
    X : ndarray or DataFrame of shape (n_samples, n_features)
        The data the model was fitted on (or data with the same features).
        Without missing values. Feature names come from the estimator's
        ``feature_names_in_``, else from the DataFrame's columns.
    selection : ModelSelection, default=None
        The result of :func:`gaussmix.select_model` that chose ``estimator``
        (usually ``estimator`` is ``selection.best_estimator_``).
    title : str, default=None
        The page's title; None makes one from the model.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If ``X`` does not have the estimator's features, or has NaN or infinity.
    ImportError
        If matplotlib is not installed (``pip install "gaussmix[plots]"``).
    """
    from .._selection import ModelSelection
    from .._version import __version__

    if selection is not None and not isinstance(selection, ModelSelection):
        raise TypeError(
            "selection must be the ModelSelection returned by gaussmix.select_model, or "
            f"None; got {type(selection).__name__}."
        )
    X_model, values, names = content.check_inputs(estimator, X)
    # Fail before the work, not after it, when the figures cannot be drawn.
    require_matplotlib()
    n_rows, n_features = values.shape
    labels = np.asarray(estimator.predict(X_model))
    uncertainty = content.uncertainty(estimator, X_model)
    rows = content.silhouette_rows(n_rows)

    data = content.data_summary(X, values, names)
    fit = content.fit_diagnostics(estimator, X_model, values, labels, uncertainty, rows)
    components = content.component_summary(estimator, labels, names)
    comparison = content.kmeans_comparison(
        estimator, X_model, values, labels, rows, fit.silhouette
    )
    chosen = None if selection is None else content.selection_summary(selection, estimator)

    drawn = plot_rows(n_rows)
    X_drawn = take_rows(X_model, drawn)
    drawn_note = (
        ""
        if drawn is None
        else f"Drawn on a random {integer(len(drawn))} of {integer(n_rows)} rows."
    )
    figures = {
        f.key: f
        for f in draw_figures(
            estimator, X_drawn, n_features, kmeans=comparison.kmeans, selection=selection
        )
    }
    swatches = component_swatches(fit.n_components)

    model = _model_name(fit)
    if title is None:
        title = f"Gaussian mixture: {model}, {_components(fit.n_components)}"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        _header(title, generated, __version__, data, fit, comparison, chosen),
        _data_section(data),
        _selection_section(chosen, figures.get("selection")) if chosen else Markup(""),
        _fit_section(fit, estimator, n_rows),
        _components_section(components, names, swatches, n_rows),
        _kmeans_section(comparison, fit, figures.get("comparison"), n_rows, drawn_note),
        _figures_section(figures, drawn_note),
        Markup(
            f"<footer>Written by gaussmix {h(__version__)}. Self-contained: the figures are "
            "embedded PNG images; the page runs no scripts and loads nothing from "
            "elsewhere.</footer>"
        ),
    ]
    return page(title, join(sections, "\n"), f"gaussmix {__version__}")


def write_report(
    path: str | os.PathLike[str],
    estimator: Any,
    X: Any,
    *,
    selection: Any = None,
    title: str | None = None,
) -> Path:
    """Write the HTML report of a fitted Gaussian mixture to ``path``.

    The page is built in full first, then written to a temporary file in the
    same directory and renamed over ``path``: an existing report is replaced
    atomically, and a failure leaves it as it was, with no partial file behind.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write (``.html`` is suggested, not added). Its directory must exist.
    estimator : fitted GaussianMixture
    X : ndarray or DataFrame of shape (n_samples, n_features)
    selection : ModelSelection, default=None
    title : str, default=None
        See :func:`render_report`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If the directory of ``path`` does not exist.
    """
    from ..io import write_atomically

    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write the report to {str(path)!r}: its directory does not exist; "
            "create it first."
        )
    document = render_report(estimator, X, selection=selection, title=title)
    write_atomically(path, lambda handle: handle.write(document.encode("utf-8")))
    return path


# --------------------------------------------------------------------- sections


def _components(k: int) -> str:
    return f"{k} component" + ("" if k == 1 else "s")


def _model_name(fit: content.FitDiagnostics) -> str:
    if fit.covariance_type == fit.mclust_name:
        return fit.mclust_name
    return f"{fit.mclust_name} ({fit.covariance_type})"


def _cell_name(k: int, model: str) -> str:
    return f"{model} with {_components(k)}"


def _figure(figure: ReportFigure | None, note: str = "", wide: bool = False) -> Markup:
    if figure is None:
        return Markup("")
    width, height = figure.size
    caption = figure.caption + (f" {note}" if note else "")
    cls = ' class="wide"' if wide else ""
    return Markup(
        f'<figure id="figure-{h(figure.key)}"{cls}>'
        f"{image(figure.png, figure.alt, width, height)}"
        f"<figcaption>{h(caption)}</figcaption></figure>"
    )


def _swatch(colour: str, label: Any) -> Markup:
    return Markup(f'<span class="swatch" style="background:{h(colour)}"></span>{h(label)}')


def _header(
    title: str,
    generated: str,
    version: str,
    data: content.DataSummary,
    fit: content.FitDiagnostics,
    comparison: content.KMeansComparison,
    chosen: content.SelectionSummary | None,
) -> Markup:
    silhouette = "not defined" if fit.silhouette is None else num(fit.silhouette, 3)
    numbers = (
        f"BIC {fixed(fit.bic)}; silhouette {silhouette}; mean uncertainty "
        f"{num(fit.mean_uncertainty, 3)}; agreement with k-means (ARI) {num(comparison.ari, 3)}."
    )
    summary = (
        f"{_model_name(fit)} with {_components(fit.n_components)}, fitted to "
        f"{integer(data.n_rows)} rows {TIMES} {integer(data.n_features)} features"
    )
    if chosen is not None:
        summary += (
            f"; chosen by {chosen.criterion.upper()} among "
            f"{integer(len(chosen.table))} candidate models"
        )
    links = [("data", "Data")]
    if chosen is not None:
        links.append(("selection", "Model selection"))
    links += [
        ("fit", "Fit"),
        ("components", "Components"),
        ("kmeans", "k-means"),
        ("figures", "Figures"),
    ]
    nav = join(Markup(f'<a href="#{key}">{h(text)}</a>') for key, text in links)
    return Markup(
        f"<header>\n<h1>{h(title)}</h1>\n"
        f'<p class="meta">Generated by gaussmix {h(version)} on {h(generated)}.</p>\n'
        f'<p class="callout">{h(summary)}.<br>{h(numbers)}</p>\n<nav>{nav}</nav>\n</header>'
    )


def _data_section(data: content.DataSummary) -> Markup:
    missing = "none" if data.n_missing == 0 else integer(data.n_missing)
    facts = key_values(
        [
            ("Rows", integer(data.n_rows)),
            ("Features", integer(data.n_features)),
            ("Data type", data.dtype),
            ("Missing values", missing),
        ],
        id="data-facts",
    )
    rows = [
        [name, num(mean), num(sd), num(lo), num(hi)]
        for name, mean, sd, lo, hi in zip(
            data.feature_names, data.mean, data.sd, data.minimum, data.maximum, strict=True
        )
    ]
    features = table(
        ["feature", "mean", "sd", "min", "max"], rows, numeric=range(1, 5), id="data-features"
    )
    return Markup(f'<section id="data">\n<h2>Data</h2>\n{facts}\n{features}\n</section>')


def _selection_sentences(chosen: content.SelectionSummary) -> str:
    upper = chosen.criterion.upper()
    text = f"{_cell_name(*chosen.best)} has the lowest {upper} ({fixed(chosen.best_value)})"
    if chosen.runner_up is None:
        text += "; it is the only model that could be fitted."
    else:
        text += (
            f"; the runner-up, {_cell_name(*chosen.runner_up)}, is worse by {fixed(chosen.delta)}."
        )
        if chosen.evidence is not None:
            text += (
                f" On Kass and Raftery's scale that is {chosen.evidence} evidence for the "
                f"chosen model (a BIC difference below 2 is weak, 2{NDASH}6 positive, "
                f"6{NDASH}10 strong, above 10 very strong)."
            )
    if chosen.criterion == "icl":
        text += " ICL is BIC plus a penalty for overlapping components."
    n_cells, n_failed = len(chosen.table), len(chosen.failed)
    text += f" {integer(n_cells - n_failed)} of {integer(n_cells)} models were fitted"
    text += "." if not n_failed else f"; {integer(n_failed)} failed (listed below)."
    return text


def _selection_grid(chosen: content.SelectionSummary) -> Markup:
    """The criterion by number of components (rows) and covariance model (columns)."""
    table_ = chosen.table
    criterion = chosen.criterion
    models = list(dict.fromkeys(str(m) for m in table_["covariance_type"]))
    ks = sorted(int(k) for k in table_["n_components"].unique())
    ranks = {
        (int(r.n_components), str(r.covariance_type)): i
        for i, r in enumerate(chosen.ranked.itertuples(index=False))
    }
    cells = {
        (int(r.n_components), str(r.covariance_type)): r for r in table_.itertuples(index=False)
    }
    rows = []
    for k in ks:
        row: list[Any] = [str(k)]
        for model in models:
            record = cells.get((k, model))
            if record is None:
                row.append(cell("", "num"))
            elif record.error:
                row.append(cell("failed", "num failed", title=record.error))
            else:
                rank = ranks[(k, model)]
                cls = "num best" if rank == 0 else "num top" if rank < TOP_CELLS else "num"
                row.append(cell(fixed(getattr(record, criterion), 1), cls))
        rows.append(row)
    return table(
        ["components", *models],
        rows,
        numeric=range(len(models) + 1),
        id="selection-grid",
    )


def _selection_section(chosen: content.SelectionSummary, figure: ReportFigure | None) -> Markup:
    upper = chosen.criterion.upper()
    parts = [
        Markup('<section id="selection">\n<h2>Model selection</h2>'),
        Markup(f'<p id="selection-why">{h(_selection_sentences(chosen))}</p>'),
    ]
    if not chosen.estimator_is_best:
        parts.append(
            Markup(
                '<p class="callout">This report describes the model it was given, which is '
                f"not the selection's best ({h(_cell_name(*chosen.best))}).</p>"
            )
        )
    parts.append(
        Markup(
            f"<h3>{h(upper)} by number of components and covariance model</h3>"
            f'<p class="note">Lower is better (scikit-learn\'s sign). The best cell is '
            f"shaded dark, the next {TOP_CELLS - 1} light.</p>"
        )
    )
    parts.append(_selection_grid(chosen))
    if chosen.failed:
        items = join(
            Markup(f"<li>{h(_cell_name(k, model))}: {h(reason)}</li>")
            for k, model, reason in chosen.failed
        )
        parts.append(Markup(f'<p>Failed models:</p><ul class="failures">{items}</ul>'))

    ranked = chosen.ranked.head(RANKED_ROWS)
    rows, classes = [], []
    for rank, r in enumerate(ranked.itertuples(index=False), start=1):
        rows.append(
            [
                str(rank),
                str(r.covariance_type),
                str(r.n_components),
                fixed(r.delta),
                fixed(r.bic),
                fixed(r.icl),
                fixed(r.aic),
                fixed(r.log_likelihood),
                str(r.n_parameters),
                "yes" if r.converged else "no",
            ]
        )
        classes.append("best" if rank == 1 else "top" if rank <= TOP_CELLS else None)
    parts.append(Markup(f"<h3>The {len(rows)} best models by {h(upper)}</h3>"))
    parts.append(
        table(
            [
                "rank",
                "model",
                "components",
                f"\N{GREEK CAPITAL LETTER DELTA} {upper}",
                "BIC",
                "ICL",
                "AIC",
                "log-likelihood",
                "parameters",
                "converged",
            ],
            rows,
            numeric=(0, *range(2, 9)),
            row_classes=classes,
            id="selection-top",
        )
    )
    parts.append(_full_selection_table(chosen))
    parts.append(_figure(figure))
    parts.append(Markup("</section>"))
    return join(parts, "\n")


def _full_selection_table(chosen: content.SelectionSummary) -> Markup:
    ranks = {
        (int(r.n_components), str(r.covariance_type)): i
        for i, r in enumerate(chosen.ranked.itertuples(index=False))
    }
    rows, classes = [], []
    for r in chosen.table.itertuples(index=False):
        key = (int(r.n_components), str(r.covariance_type))
        failed = bool(r.error)
        rows.append(
            [
                str(r.n_components),
                str(r.covariance_type),
                fixed(r.log_likelihood),
                "—" if failed else str(r.n_parameters),
                fixed(r.bic),
                fixed(r.bic_mclust),
                fixed(r.icl),
                fixed(r.icl_mclust),
                fixed(r.aic),
                "—" if failed else ("yes" if r.converged else "no"),
                "—" if failed else str(r.n_iter),
                f"{r.seconds:.3f}",
                cell(r.error, "error") if failed else "",
            ]
        )
        rank = ranks.get(key)
        classes.append(
            "failed"
            if failed
            else "best"
            if rank == 0
            else "top"
            if rank is not None and rank < TOP_CELLS
            else None
        )
    n_failed = len(chosen.failed)
    summary = f"Full selection table: {integer(len(rows))} models"
    if n_failed:
        summary += f", {integer(n_failed)} failed"
    full = table(
        [
            "components",
            "model",
            "log-likelihood",
            "parameters",
            "BIC",
            "BIC (mclust)",
            "ICL",
            "ICL (mclust)",
            "AIC",
            "converged",
            "iterations",
            "seconds",
            "error",
        ],
        rows,
        numeric=(0, *range(2, 12)),
        row_classes=classes,
        id="selection-table",
    )
    note = Markup(
        '<p class="note">BIC, ICL and AIC in scikit-learn\'s sign (lower is better); the '
        "mclust columns are mclust's sign (higher is better).</p>"
    )
    return Markup(f"<details>\n<summary>{h(summary)}</summary>\n{note}\n{full}\n</details>")


def _fit_section(fit: content.FitDiagnostics, estimator: Any, n_rows: int) -> Markup:
    if fit.converged is None:
        converged = "unknown"
    else:
        converged = "yes" if fit.converged else "NO"
        if fit.n_iter is not None:
            converged += f", after {integer(fit.n_iter)} iterations"
            if fit.max_iter is not None:
                converged += f" (max_iter={fit.max_iter})"
    if fit.silhouette is None:
        silhouette = "not defined (fewer than two clusters)"
    else:
        silhouette = num(fit.silhouette)
        silhouette += _rows_note(fit.silhouette_rows, n_rows)
    facts = key_values(
        [
            ("Covariance model", _model_name(fit)),
            ("Components", str(fit.n_components)),
            ("Free parameters", integer(fit.n_parameters)),
            ("Converged", converged),
            (
                "Log-likelihood",
                f"{fixed(fit.log_likelihood)} ({num(fit.log_likelihood_per_row)} per row)",
            ),
            ("BIC", f"{fixed(fit.bic)} (mclust's sign: {fixed(-fit.bic)})"),
            ("ICL", f"{fixed(fit.icl)} (mclust's sign: {fixed(-fit.icl)})"),
            ("AIC", fixed(fit.aic)),
            ("Silhouette score", silhouette),
            ("Mean uncertainty", num(fit.mean_uncertainty)),
        ],
        id="fit-diagnostics",
    )
    note = Markup(
        '<p class="note">BIC, ICL and AIC are in scikit-learn\'s sign: lower is better. '
        "mclust reports BIC and ICL with the opposite sign. The silhouette (&minus;1 to 1, higher "
        "is better) scores the hard partition by distances; the uncertainty of a point is "
        "1 &minus; its largest responsibility (0: assigned with certainty).</p>"
    )
    settings = _settings(estimator)
    return Markup(
        f'<section id="fit">\n<h2>Fit</h2>\n{facts}\n{note}\n'
        f"<details>\n<summary>Fit settings</summary>\n{settings}\n</details>\n</section>"
    )


def _rows_note(n_used: int, n_rows: int) -> str:
    return (
        "" if n_used >= n_rows else f" (on a random {integer(n_used)} of {integer(n_rows)} rows)"
    )


def _settings(estimator: Any) -> Markup:
    rows = []
    for name, value in sorted(estimator.get_params(deep=False).items()):
        if isinstance(value, np.ndarray) or (hasattr(value, "shape") and not np.isscalar(value)):
            shown = f"array of shape {tuple(np.shape(value))}"
        elif isinstance(value, np.random.RandomState):
            shown = "a RandomState instance"
        else:
            shown = repr(value)
        rows.append((name, shown))
    return key_values(rows, id="fit-settings")


def _components_section(
    components: content.ComponentSummary,
    names: list[str],
    swatches: list[str],
    n_rows: int,
) -> Markup:
    n_components, n_features = components.means.shape
    labels = [_swatch(swatches[k], k) for k in range(n_components)]
    rows = []
    for k in range(n_components):
        shape = components.shapes[k]
        shown = " : ".join(num(a, 3) for a in shape[:6]) + (" : …" if len(shape) > 6 else "")
        rows.append(
            [
                labels[k],
                num(components.weights[k]),
                integer(components.sizes[k]),
                f"{100.0 * components.sizes[k] / n_rows:.1f}%",
                num(components.volumes[k]),
                shown,
                components.orientations[k],
            ]
        )
    summary = table(
        [
            "component",
            "weight",
            "size",
            "share",
            "volume λ",
            "shape (axis variances / λ)",
            "orientation (longest axis)",
        ],
        rows,
        numeric=range(1, 5),
        id="components-table",
    )
    note = Markup(
        '<p class="note">Size: rows assigned to the component by <code>predict</code>. '
        "Each covariance is written as mclust does, Σ = λ D A Dᵀ: the volume λ = det(Σ)^(1/d), "
        "the shape A (the variances along the principal axes divided by λ, largest first; "
        "their product is 1) and the orientation D (the principal axes). "
        + (
            "The covariance model is diagonal: the axes are the features."
            if components.diagonal
            else "For more than two features, the orientation lists the largest loadings "
            "of the longest axis."
        )
        + "</p>"
    )
    header = ["feature", *labels]
    means = table(
        header,
        [[name, *(num(v) for v in components.means[:, j])] for j, name in enumerate(names)],
        numeric=range(1, n_components + 1),
        id="components-means",
    )
    sds = table(
        header,
        [[name, *(num(v) for v in components.sds[:, j])] for j, name in enumerate(names)],
        numeric=range(1, n_components + 1),
        id="components-sds",
    )
    if n_features <= MATRIX_MAX_FEATURES:
        matrices = join(
            Markup(f"<div><h3>Component {k}</h3>")
            + table(
                ["", *names],
                [
                    [names[i], *(num(v) for v in components.covariances[k, i])]
                    for i in range(n_features)
                ],
                numeric=range(1, n_features + 1),
            )
            + Markup("</div>")
            for k in range(n_components)
        )
        matrices = Markup(f'<div class="matrices">{matrices}</div>')
    else:
        matrices = Markup(
            f'<p class="note">Left out for more than {MATRIX_MAX_FEATURES} features; see the '
            "estimator's <code>covariances_</code>.</p>"
        )
    return Markup(
        f'<section id="components">\n<h2>Components</h2>\n{summary}\n{note}\n'
        f"<h3>Means</h3>\n{means}\n<h3>Standard deviations</h3>\n{sds}\n"
        f"<details>\n<summary>Covariance matrices</summary>\n{matrices}\n</details>\n"
        "</section>"
    )


def _kmeans_section(
    comparison: content.KMeansComparison,
    fit: content.FitDiagnostics,
    figure: ReportFigure | None,
    n_rows: int,
    drawn_note: str,
) -> Markup:
    k = fit.n_components
    intro = (
        f"scikit-learn's KMeans with the same number of clusters ({k}, n_init=10) on the "
        f"same data. Adjusted Rand index between the two partitions: {num(comparison.ari)} "
        "(1: the same partition; about 0: no more agreement than chance)."
    )

    def score(value: float | None) -> str:
        return "not defined" if value is None else num(value)

    def sizes(counts: np.ndarray) -> str:
        return ", ".join(integer(c) for c in sorted(counts.tolist(), reverse=True))

    rows = [
        [
            "silhouette score",
            score(comparison.silhouette_gmm),
            score(comparison.silhouette_kmeans),
        ],
        [
            "cluster sizes, largest first",
            sizes(comparison.sizes_gmm),
            sizes(comparison.sizes_kmeans),
        ],
    ]
    side = table(["", "GaussianMixture", "KMeans"], rows, numeric=(1, 2), id="kmeans-table")
    note = (
        "k-means looks for compact, round clusters of similar spread, which is what the "
        "silhouette rewards; a mixture with elongated or unequal components can describe "
        "the data better and still score lower."
    )
    if fit.silhouette_rows < n_rows:
        note += (
            " Both silhouettes are computed on the same random "
            f"{integer(fit.silhouette_rows)} rows."
        )
    return Markup(
        f'<section id="kmeans">\n<h2>Comparison with k-means</h2>\n<p>{h(intro)}</p>\n'
        f'{side}\n<p class="note">{h(note)}</p>\n{_figure(figure, drawn_note)}\n</section>'
    )


def _figures_section(figures: dict[str, ReportFigure], drawn_note: str) -> Markup:
    shown = [
        _figure(figures[key], drawn_note, wide=key == "pairs")
        for key in ("clusters", "density", "uncertainty", "pairs")
        if key in figures
    ]
    if not shown:
        shown = [Markup('<p class="note">The figures need at least two features.</p>')]
    return Markup(
        f'<section id="figures">\n<h2>Figures</h2>\n<div class="figures">\n'
        f"{join(shown, chr(10))}\n</div>\n</section>"
    )
