"""Parsing the command line's option values: component counts, models, columns, tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from ..covariance import get_covariance_model
from ..exceptions import InvalidParameterError
from ._errors import InputError

__all__ = [
    "TABLE_FORMATS",
    "check_table_path",
    "parse_columns",
    "parse_components",
    "parse_covariance",
]

#: Output tables by file extension.
TABLE_FORMATS: dict[str, Literal["csv", "parquet"]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def parse_components(text: str) -> list[int]:
    """Numbers of components from ``"3"``, ``"1-9"``, ``"2,4,6"`` or a mix (``"1-3,8"``).

    Returns
    -------
    list of int
        Sorted, distinct, each at least 1.

    Raises
    ------
    InputError
        If ``text`` is not of that form.
    """
    counts: set[int] = set()
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise InputError(
                f"expected a number (3), a range (1-9) or a comma-separated list (2,4,6) "
                f"of component counts; got {text!r}."
            )
        low = int(match[1])
        high = int(match[2]) if match[2] else low
        if low < 1 or high < low:
            raise InputError(
                f"component counts are at least 1 and ranges go upwards (1-9); got {text!r}."
            )
        counts.update(range(low, high + 1))
    return sorted(counts)


def parse_covariance(text: str) -> list[str] | Literal["all"]:
    """Covariance models from ``"auto"`` (all of them), one name or a comma-separated list.

    Names are looked up in the registry of :mod:`gaussmix.covariance` (scikit-learn's
    names and mclust's three-letter names), ignoring case.

    Returns
    -------
    "all" or list of str
        ``"all"`` for ``"auto"``/``"all"``, else the names in the registry's spelling,
        one per model (``"full"`` and ``"VVV"`` are one), in the order given.

    Raises
    ------
    InputError
        If a name is unknown; the message lists the known names.
    """
    names = [name.strip() for name in str(text).split(",")]
    if len(names) == 1 and names[0].lower() in ("auto", "all"):
        return "all"
    if not all(names):
        raise InputError(f"expected 'auto' or model names separated by commas; got {text!r}.")
    resolved: dict[str, str] = {}  # by mclust's name: "full" and "VVV" are one model
    for name in names:
        for candidate in (name, name.upper(), name.lower()):
            try:
                model = get_covariance_model(candidate)
            except InvalidParameterError:
                continue
            resolved.setdefault(model.mclust_name, candidate)
            break
        else:
            try:
                get_covariance_model(name)
            except InvalidParameterError as exc:
                raise InputError(f"{exc} Use 'auto' to try them all.") from None
    return list(resolved.values())


def parse_columns(text: str | None, data: Path) -> list[str] | list[int] | None:
    """The columns ``--columns`` names: names for CSV and Parquet, 0-based positions for .npy.

    Raises
    ------
    InputError
        For an empty name, or a position that is not an integer for a ``.npy`` file.
    """
    if text is None:
        return None
    parts = [part.strip() for part in str(text).split(",")]
    if not all(parts):
        raise InputError(f"--columns takes names separated by commas; got {text!r}.")
    if Path(data).suffix.lower() != ".npy":
        return parts
    try:
        return [int(part) for part in parts]
    except ValueError:
        raise InputError(
            f"{data} is a .npy file, whose columns have no names: give --columns as 0-based "
            f"positions (e.g. 0,2,3); got {text!r}."
        ) from None


def check_table_path(path: Path) -> Literal["csv", "parquet"]:
    """The format of an output table, from its extension.

    Raises
    ------
    InputError
        Unless the extension is ``.csv``, ``.parquet`` or ``.pq``.
    """
    kind = TABLE_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(
            f"cannot tell the format of {str(path)!r} from its extension: use .csv or .parquet."
        )
    return kind
