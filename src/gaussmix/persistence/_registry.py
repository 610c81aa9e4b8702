"""The allow-list of estimator classes a model file may hold, and how their values are checked.

Each estimator declares what a file keeps of it: ``saved_attributes`` (fitted
attributes by kind), ``optional_saved_attributes`` and the class method
``check_saved_attributes(params, attributes)``. This module builds one
:class:`SavableClass` entry per class from those declarations; it sits above the
estimators in the layer map, so it imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from .._fit import check_mixture_params
from .._mixture import GaussianMixture
from ..anomaly import OutlierDetector, check_detector_params
from . import _format as fmt

__all__ = ["SavableClass", "check_kind", "entry_for", "savable_classes"]


@dataclass(frozen=True)
class SavableClass:
    """An estimator class that model files can hold, and how its values are checked.

    Making another estimator savable (as :class:`~gaussmix.OutlierDetector`, which
    wraps a fitted mixture) is one more entry in ``savable_classes``: a name, the fitted
    attributes with their kinds, and two checks (:meth:`SavableClass.of` reads them
    from the class's declarations). A fitted mixture held by the
    wrapper is an attribute of kind ``"estimator"``, saved and validated as a
    mixture of its own.

    Attributes
    ----------
    name : str
        The name written to files. Never change it once released: files carry it.
    cls : type
        The estimator class; only instances of exactly this class are saved.
    attributes : mapping of str to str
        Fitted attributes and their kinds: ``"array"`` (finite float32 or
        float64 ndarray), ``"int"`` (>= 0), ``"bool"``, ``"float"``, ``"floats"``
        (list of float), ``"strings"`` (1-D array of str), ``"estimator"`` (a
        fitted estimator of a savable class).
    optional : tuple of str
        Attributes that a fitted estimator may lack (``feature_names_in_``).
    check_params : callable
        ``check_params(estimator)`` raises ValueError or TypeError when the
        estimator's parameters are invalid.
    check_attributes : callable
        ``check_attributes(params, attributes)`` raises ValueError unless the
        attributes (of the declared kinds) are consistent with one another and
        with the parameters (a dict from ``get_params(deep=False)``).
    """

    name: str
    cls: type
    attributes: Mapping[str, str]
    optional: tuple[str, ...]
    check_params: Callable[[Any], None]
    check_attributes: Callable[[dict, dict], None]

    @classmethod
    def of(cls, estimator_class: type, check_params: Callable[[Any], None]) -> SavableClass:
        """The entry of a class that declares what it saves (see the module's notes)."""
        return cls(
            name=estimator_class.__name__,
            cls=estimator_class,
            attributes=estimator_class.saved_attributes,
            optional=estimator_class.optional_saved_attributes,
            check_params=check_params,
            check_attributes=estimator_class.check_saved_attributes,
        )


@cache
def savable_classes() -> dict[str, SavableClass]:
    """The allow-list of classes a model file may name, by file name."""
    entries = [
        SavableClass.of(GaussianMixture, check_mixture_params),
        SavableClass.of(OutlierDetector, check_detector_params),
    ]
    return {entry.name: entry for entry in entries}


def entry_for(estimator) -> SavableClass | None:
    for entry in savable_classes().values():
        if type(estimator) is entry.cls:
            return entry
    return None


def check_kind(kind: str, value, name: str):
    """``value`` as an attribute of ``kind``, or ValueError saying what is wrong."""
    if kind == "array":
        if not isinstance(value, np.ndarray) or value.dtype not in fmt.FLOAT_DTYPES:
            found = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"{name} should be a float32 or float64 array; got {found}.")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or infinity.")
        return value
    if kind == "int":
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            if value >= 0:
                return int(value)
        raise ValueError(f"{name} should be a non-negative integer; got {fmt.quoted(value)}.")
    if kind == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise ValueError(f"{name} should be True or False; got {fmt.quoted(value)}.")
    if kind == "float":
        if isinstance(value, float | int | np.floating | np.integer) and not isinstance(
            value, bool | np.bool_
        ):
            return float(value)
        raise ValueError(f"{name} should be a number; got {fmt.quoted(value)}.")
    if kind == "floats":
        if isinstance(value, list) and all(
            isinstance(v, float | int | np.floating) and not isinstance(v, bool) for v in value
        ):
            return [float(v) for v in value]
        raise ValueError(f"{name} should be a list of numbers.")
    if kind == "strings":
        if isinstance(value, np.ndarray) and is_string_array(value):
            return value
        raise ValueError(f"{name} should be a 1-D array of strings.")
    if kind == "estimator":
        if entry_for(value) is not None:
            return value
        raise ValueError(f"{name} should be an estimator that model files hold.")
    raise AssertionError(f"unknown attribute kind {kind!r}")


def is_string_array(value: np.ndarray) -> bool:
    """Whether ``value`` is a 1-D array of str (unicode or object dtype) a file can hold."""
    if value.ndim != 1:
        return False
    if value.dtype.kind == "U":
        return value.dtype.byteorder != ">"
    return value.dtype.kind == "O" and all(type(item) is str for item in value)
