"""Progress bars for the command line: tqdm, on standard error.

tqdm rather than rich: it is one small pure-Python package with no
dependencies, writes to standard error, turns itself off when that is not a
terminal (``disable=None``), and its ``delay`` keeps quick steps from flashing
a bar. Each bar takes ``enabled``: True, False, or None for "when standard
error is a terminal", so logs and pipes never fill with carriage returns.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["EMBar", "SelectionBar", "rows_bar"]

# Seconds before a bar appears: steps quicker than this show nothing.
DELAY = 0.5
# Seconds between two redraws.
MININTERVAL = 0.1


def _bar(enabled: bool | None, **kwargs: Any):
    from tqdm import tqdm

    return tqdm(
        file=sys.stderr,
        disable=None if enabled is None else not enabled,
        leave=False,
        delay=DELAY,
        mininterval=MININTERVAL,
        dynamic_ncols=True,
        **kwargs,
    )


class _Bar:
    """A tqdm bar opened and closed as a context manager."""

    def __init__(self, enabled: bool | None, **kwargs: Any) -> None:
        self.enabled, self.kwargs = enabled, kwargs
        self.bar: Any = None

    def __enter__(self):
        self.bar = _bar(self.enabled, **self.kwargs)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.bar.close()

    def update(self, n: int = 1) -> None:
        self.bar.update(n)


def rows_bar(total: int, desc: str, enabled: bool | None) -> _Bar:
    """A bar over the rows of a data file."""
    return _Bar(enabled, total=total, desc=desc, unit="row", unit_scale=True)


class EMBar(_Bar):
    """EM iterations of one fit, as a ``gaussmix._em.em_progress`` callback."""

    def __init__(self, enabled: bool | None) -> None:
        super().__init__(enabled, desc="EM", unit="it")

    def __call__(self, iteration) -> None:
        if iteration.n_starts > 1 and iteration.n_iter == 1:
            self.bar.set_description_str(
                f"EM start {iteration.start + 1}/{iteration.n_starts}", refresh=False
            )
            self.bar.reset()
        self.bar.set_postfix_str(
            f"log-likelihood/row {iteration.lower_bound:.6g}, change {iteration.change:.2g}",
            refresh=False,
        )
        self.bar.update(1)


class SelectionBar(_Bar):
    """Cells of a model selection, as a ``select_model`` callback; shows the best so far."""

    def __init__(self, total: int, criterion: str, enabled: bool | None) -> None:
        super().__init__(enabled, total=total, desc="Model selection", unit="cell")
        self.criterion = criterion
        self.best: tuple[float, str] | None = None

    def __call__(self, row: dict, done: int, total: int) -> None:
        value = row[self.criterion]
        if not row["error"] and (self.best is None or value < self.best[0]):
            self.best = (value, f"{row['covariance_type']},{row['n_components']}")
        if self.best is not None:
            self.bar.set_postfix_str(
                f"best {self.best[1]} ({self.criterion} {self.best[0]:.2f})", refresh=False
            )
        self.bar.update(1)
