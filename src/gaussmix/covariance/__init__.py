"""Covariance models, found by name through a registry.

The 14 models of Celeux & Govaert (1995) as mclust names them, with each
covariance written ``Sigma_k = lambda_k D_k A_k D_k^T`` (volume, shape,
orientation; E = equal across components, V = variable, I = identity).
scikit-learn's names are the primary names of the four models it has
(``"full"`` is VVV, ``"tied"`` EEE, ``"diag"`` VVI, ``"spherical"`` VII), and
their mclust names are aliases; the other ten go by their mclust names.

=========  ======================  ==========================================
 name       covariance              shape of ``covariances_``
=========  ======================  ==========================================
 EII        lambda I                (n_components,), all equal
 VII        lambda_k I              (n_components,)                "spherical"
 EEI        lambda A                (n_components, n_features), rows equal
 VEI        lambda_k A              (n_components, n_features)
 EVI        lambda A_k              (n_components, n_features)
 VVI        lambda_k A_k            (n_components, n_features)     "diag"
 EEE        lambda D A D^T          (n_features, n_features)       "tied"
 VEE        lambda_k D A D^T        (n_components, n_features, n_features)
 EVE        lambda D A_k D^T        (n_components, n_features, n_features)
 VVE        lambda_k D A_k D^T      (n_components, n_features, n_features)
 EEV        lambda D_k A D_k^T      (n_components, n_features, n_features)
 VEV        lambda_k D_k A D_k^T    (n_components, n_features, n_features)
 EVV        lambda D_k A_k D_k^T    (n_components, n_features, n_features)
 VVV        lambda_k D_k A_k D_k^T  (n_components, n_features, n_features) "full"
=========  ======================  ==========================================
"""

from __future__ import annotations

from ..exceptions import InvalidParameterError
from ._base import RIDGE_FRACTION, CovarianceModel, Repair
from ._diag import DiagCovariance, EEICovariance, EVICovariance, VEICovariance
from ._ellipsoidal import (
    EEVCovariance,
    EVECovariance,
    EVVCovariance,
    VEECovariance,
    VEVCovariance,
    VVECovariance,
)
from ._full import FullCovariance
from ._spherical import EIICovariance, SphericalCovariance
from ._tied import TiedCovariance

__all__ = [
    "COVARIANCE_TYPES",
    "MCLUST_NAMES",
    "RIDGE_FRACTION",
    "CovarianceModel",
    "Repair",
    "get_covariance_model",
]

# In mclust's order (its ``mclust.options("emModelNames")``).
_BY_MCLUST_NAME: dict[str, type[CovarianceModel]] = {
    cls.mclust_name: cls
    for cls in (
        EIICovariance,
        SphericalCovariance,
        EEICovariance,
        VEICovariance,
        EVICovariance,
        DiagCovariance,
        TiedCovariance,
        VEECovariance,
        EVECovariance,
        VVECovariance,
        EEVCovariance,
        VEVCovariance,
        EVVCovariance,
        FullCovariance,
    )
}
MCLUST_NAMES: tuple[str, ...] = tuple(_BY_MCLUST_NAME)
_MODELS: dict[str, type[CovarianceModel]] = {
    cls.name: cls for cls in (FullCovariance, TiedCovariance, DiagCovariance, SphericalCovariance)
}
_MODELS.update(_BY_MCLUST_NAME)

#: Every accepted ``covariance_type``: scikit-learn's four names, then mclust's 14.
COVARIANCE_TYPES: tuple[str, ...] = tuple(_MODELS)


def get_covariance_model(name: str) -> CovarianceModel:
    """Return the covariance model called ``name`` (scikit-learn or mclust name).

    Raises
    ------
    ValueError
        If ``name`` is not a known model; the message lists the valid names.
    """
    if isinstance(name, str) and name in _MODELS:
        return _MODELS[name]()
    raise InvalidParameterError(
        f"covariance_type must be one of {', '.join(repr(n) for n in COVARIANCE_TYPES)}; "
        f"got {name!r}."
    )
