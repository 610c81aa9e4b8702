"""Covariance models, found by name through a registry.

scikit-learn's names are the primary names; mclust's three-letter names are
aliases (``"VVV"`` is ``"full"``, ``"EEE"`` is ``"tied"``, ``"VVI"`` is ``"diag"``,
``"VII"`` is ``"spherical"``).
"""

from __future__ import annotations

from ..exceptions import InvalidParameterError
from ._base import CovarianceModel, Repair
from ._diag import DiagCovariance
from ._full import FullCovariance
from ._spherical import SphericalCovariance
from ._tied import TiedCovariance

__all__ = [
    "COVARIANCE_TYPES",
    "CovarianceModel",
    "Repair",
    "get_covariance_model",
]

_MODELS: dict[str, type[CovarianceModel]] = {
    cls.name: cls for cls in (FullCovariance, TiedCovariance, DiagCovariance, SphericalCovariance)
}
_ALIASES = {cls.mclust_name: name for name, cls in _MODELS.items()}

COVARIANCE_TYPES: tuple[str, ...] = tuple(_MODELS) + tuple(_ALIASES)


def get_covariance_model(name: str) -> CovarianceModel:
    """Return the covariance model called ``name`` (scikit-learn or mclust name).

    Raises
    ------
    ValueError
        If ``name`` is not a known model; the message lists the valid names.
    """
    if isinstance(name, str):
        key = _ALIASES.get(name, name)
        if key in _MODELS:
            return _MODELS[key]()
    raise InvalidParameterError(
        f"covariance_type must be one of {', '.join(repr(n) for n in COVARIANCE_TYPES)}; "
        f"got {name!r}."
    )
