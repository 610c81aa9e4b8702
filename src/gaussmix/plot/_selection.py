"""Model-selection curves: a criterion against the number of components, per covariance model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .._selection import CRITERIA, MCLUST_MODELS
from .._validation import check_option
from ..covariance import get_covariance_model
from ..exceptions import InvalidParameterError
from ._base import get_axes, set_labels

__all__ = ["SelectionDisplay"]

_MARKERS = ("o", "s", "^", "v", "D", "p", "*", "h", "<", ">", "P", "X", "d", "8")

# scikit-learn's four models first, so full/tied/diag/spherical keep the colours
# C0-C3 wherever they are drawn; then mclust's other models in mclust's order.
_SKLEARN_FOUR = ("VVV", "EEE", "VVI", "VII")
_STYLE_ORDER = (*_SKLEARN_FOUR, *(name for name in MCLUST_MODELS if name not in _SKLEARN_FOUR))
# tab10 and four dark colours: 14 distinct ones, one per model, none of them black
# (black marks the chosen cell).
_PALETTE = (*(f"C{i}" for i in range(10)), "navy", "teal", "maroon", "olivedrab")


def _model_styles(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A fixed colour and marker per covariance model, the same in every figure."""
    styles = {}
    spare = len(_STYLE_ORDER)
    for name in names:
        if name in _STYLE_ORDER:
            index = _STYLE_ORDER.index(name)
        else:
            index, spare = spare, spare + 1
        styles[name] = (_PALETTE[index % len(_PALETTE)], _MARKERS[index % len(_MARKERS)])
    return styles


class SelectionDisplay:
    """A selection criterion against the number of components, one line per covariance model.

    The chosen cell is circled in black. Failed cells (and cells not in the
    grid) are gaps in their model's line.

    Build it with :meth:`from_selection`; the constructor takes precomputed values.

    Parameters
    ----------
    n_components : ndarray of shape (n_k,)
        Numbers of components on the x axis, ascending.
    scores : dict of str to ndarray of shape (n_k,)
        Criterion values per covariance model (NaN for a missing or failed cell).
    best : (int, str)
        ``(n_components, covariance_type)`` of the chosen cell.
    ylabel : str, default="criterion"
    title : str, default=None

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to Line2D
        The line of each covariance model.
    best_marker_ : Line2D
        The circle on the chosen cell.
    legend_ : Legend or None
    """

    def __init__(
        self,
        *,
        n_components: np.ndarray,
        scores: Mapping[str, np.ndarray],
        best: tuple[int, str],
        ylabel: str = "criterion",
        title: str | None = None,
    ) -> None:
        self.n_components = n_components
        self.scores = scores
        self.best = best
        self.ylabel = ylabel
        self.title = title

    def plot(
        self,
        ax: Any = None,
        *,
        legend: bool = True,
        line_kwargs: dict | None = None,
        best_kwargs: dict | None = None,
    ) -> SelectionDisplay:
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        legend : bool, default=True
            Add a legend of covariance models.
        line_kwargs, best_kwargs : dict, default=None
            Passed to ``Axes.plot`` for the model lines and for the best cell's circle.

        Returns
        -------
        SelectionDisplay
        """
        from matplotlib.ticker import MaxNLocator

        ax = get_axes(ax)
        ks = np.asarray(self.n_components, dtype=np.float64)
        styles = _model_styles(list(self.scores))
        self.lines_ = {}
        for name, values in self.scores.items():
            colour, marker = styles[name]
            options = {"color": colour, "marker": marker, "markersize": 5, "linewidth": 1.4}
            options.update(line_kwargs or {})
            (self.lines_[name],) = ax.plot(
                ks, np.asarray(values, dtype=np.float64), label=name, **options
            )
        best_k, best_name = self.best
        best_value = np.asarray(self.scores[best_name], dtype=np.float64)[ks == best_k]
        if best_value.size != 1 or not np.isfinite(best_value[0]):
            raise ValueError(f"the best cell ({best_name}, {best_k}) has no finite score to mark.")
        options = {
            "marker": "o",
            "markersize": 16,
            "markerfacecolor": "none",
            "markeredgecolor": "black",
            "markeredgewidth": 2.0,
            "linestyle": "none",
            "zorder": 5,
        }
        options.update(best_kwargs or {})
        (self.best_marker_,) = ax.plot(
            [best_k], [best_value[0]], label=f"best: {best_name}, {best_k}", **options
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        set_labels(ax, "number of components", self.ylabel)
        if self.title and not ax.get_title():
            ax.set_title(self.title)
        ax.grid(True, alpha=0.3)
        self.legend_ = None
        if legend:
            self.legend_ = ax.legend(
                title="covariance model",
                fontsize="small",
                ncols=2 if len(self.scores) > 7 else 1,
                loc="best",
            )
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_selection(
        cls,
        selection: Any,
        criterion: Literal["bic", "icl", "aic"] | None = None,
        *,
        sign: Literal["sklearn", "mclust"] = "sklearn",
        models: Sequence[str] | None = None,
        ax: Any = None,
        legend: bool = True,
        line_kwargs: dict | None = None,
        best_kwargs: dict | None = None,
    ) -> SelectionDisplay:
        """Draw the curves of a :func:`gaussmix.select_model` result.

        Parameters
        ----------
        selection : ModelSelection
            The result; its ``table`` supplies every value.
        criterion : {"bic", "icl", "aic"}, default=None
            Criterion to draw; None is the one that chose the model. The marked
            cell is the best by this criterion (``best_params_`` when it is the
            selection's own).
        sign : {"sklearn", "mclust"}, default="sklearn"
            ``"sklearn"``: the criterion as scikit-learn signs it (``bic``; lower is
            better, the best cell is the minimum). ``"mclust"``: mclust's sign
            (``bic_mclust = 2 log L - p log n``; higher is better, the best cell is
            the maximum; ``-aic`` for AIC).
        models : sequence of str, default=None
            Covariance models to draw (mclust or scikit-learn names); None for all.
            The best cell is the best among them.
        ax, legend, line_kwargs, best_kwargs
            See :meth:`plot`.

        Returns
        -------
        SelectionDisplay
        """
        criterion = selection.criterion if criterion is None else criterion
        check_option(criterion, "criterion", CRITERIA)
        check_option(sign, "sign", ("sklearn", "mclust"))
        table = selection.table
        if models is not None:
            wanted = [get_covariance_model(name).mclust_name for name in models]
            missing = sorted(set(wanted) - set(table["covariance_type"]))
            if missing:
                raise InvalidParameterError(
                    f"models {missing} are not in the selection table; it has "
                    f"{', '.join(dict.fromkeys(table['covariance_type']))}."
                )
            table = table[table["covariance_type"].isin(wanted)]
        ok = table[table["error"] == ""]
        if ok.empty:
            raise ValueError("every cell to draw failed; there is no curve to show.")
        best_row = ok.loc[ok[criterion].astype(float).idxmin()]
        best = (int(best_row["n_components"]), str(best_row["covariance_type"]))

        if sign == "mclust" and criterion != "aic":
            values = table[f"{criterion}_mclust"].astype(float)
        else:
            values = table[criterion].astype(float) * (-1.0 if sign == "mclust" else 1.0)
        values = values.where(table["error"] == "")
        ks = np.sort(table["n_components"].unique()).astype(np.int64)
        scores = {}
        for name in dict.fromkeys(table["covariance_type"]):
            rows = table["covariance_type"] == name
            by_k = dict(zip(table.loc[rows, "n_components"], values[rows], strict=True))
            scores[str(name)] = np.array([by_k.get(k, np.nan) for k in ks], dtype=np.float64)
        upper = criterion.upper()
        if sign == "mclust":
            column = f"{criterion}_mclust" if criterion != "aic" else "-aic"
            ylabel = f"{upper}, mclust's sign ({column}; higher is better)"
        else:
            ylabel = f"{upper} (lower is better)"
        display = cls(
            n_components=ks,
            scores=scores,
            best=best,
            ylabel=ylabel,
            title=f"Model selection by {upper}: {best[1]} with {best[0]} components",
        )
        return display.plot(ax, legend=legend, line_kwargs=line_kwargs, best_kwargs=best_kwargs)
