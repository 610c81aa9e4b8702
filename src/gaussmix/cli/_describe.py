"""``gaussmix describe``: what a fitted model (file) is, as a dict or as text."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..covariance import get_covariance_model
from ._fitting import covariance_label

__all__ = ["describe_model", "format_description"]


def _model_file_header(path: Path) -> dict[str, Any]:
    """The format and gaussmix versions recorded in a model file."""
    from ..persistence import read_metadata

    metadata = read_metadata(path)
    return {
        "format_version": metadata.get("format_version"),
        "gaussmix_version": metadata.get("gaussmix_version"),
    }


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready Python (non-finite floats become None)."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return type(value).__name__


def describe_model(model: Any, path: Path | None = None) -> dict[str, Any]:
    """What a fitted model is, as a JSON-ready dict.

    Keys: ``file``, ``format_version`` and ``gaussmix_version`` (with ``path``),
    ``class``, ``covariance_type``, ``mclust_name``, ``n_components``,
    ``n_features``, ``feature_names`` (or None), ``dtype``, ``n_parameters``,
    ``converged``, ``n_iter``, ``lower_bound`` (mean log-likelihood per row of
    the training data), ``weights``, ``means``, ``covariances``, ``params`` (the
    constructor's parameters) and, for a detector, ``offset``.
    """
    info: dict[str, Any] = {}
    if path is not None:
        info["file"] = str(path)
        info.update(_model_file_header(Path(path)))
    info["class"] = type(model).__name__
    covariance_type = getattr(model, "covariance_type", None)
    if covariance_type is not None:
        info["covariance_type"] = covariance_type
        info["mclust_name"] = get_covariance_model(covariance_type).mclust_name
    means = np.asarray(getattr(model, "means_", np.empty((0, 0))))
    info["n_components"] = getattr(model, "n_components", means.shape[0])
    info["n_features"] = int(getattr(model, "n_features_in_", means.shape[1]))
    names = getattr(model, "feature_names_in_", None)
    info["feature_names"] = None if names is None else [str(n) for n in names]
    info["dtype"] = str(means.dtype)
    from .._mixture import GaussianMixture, n_free_parameters

    if isinstance(model, GaussianMixture) and hasattr(model, "means_"):
        info["n_parameters"] = int(n_free_parameters(model))
    for key, attribute in (
        ("converged", "converged_"),
        ("n_iter", "n_iter_"),
        ("lower_bound", "lower_bound_"),
        ("offset", "offset_"),
        ("weights", "weights_"),
        ("means", "means_"),
        ("covariances", "covariances_"),
    ):
        if hasattr(model, attribute):
            info[key] = getattr(model, attribute)
    if hasattr(model, "get_params"):
        info["params"] = model.get_params(deep=False)
    return _plain(info)


#: Columns of means shown by :func:`format_description`; --json shows all.
_SHOWN_FEATURES = 8


def format_description(info: dict[str, Any]) -> str:
    """:func:`describe_model`'s dict as text for the terminal."""
    lines = []
    if "file" in info:
        lines.append(
            f"{info['file']}: {info['class']}, model file format {info['format_version']} "
            f"(written by gaussmix {info['gaussmix_version']})"
        )
    else:
        lines.append(info["class"])
    rows: list[tuple[str, str]] = []
    if "covariance_type" in info:
        rows.append(("covariance", covariance_label(info["covariance_type"])))
    rows.append(("components", str(info["n_components"])))
    names = info["feature_names"]
    features = str(info["n_features"])
    if names is not None:
        features += ": " + ", ".join(names)
    rows.append(("features", features))
    rows.append(("dtype", info["dtype"]))
    if "n_parameters" in info:
        rows.append(("parameters", str(info["n_parameters"])))
    if "converged" in info:
        state = "yes" if info["converged"] else "NO"
        rows.append(("converged", f"{state} ({info['n_iter']} iterations)"))
    if info.get("lower_bound") is not None:
        rows.append(("lower bound", f"{info['lower_bound']:.6g} (mean log-likelihood per row)"))
    if info.get("offset") is not None:
        rows.append(("outlier offset", f"{info['offset']:.6g}"))
    width = max(len(key) for key, _ in rows)
    lines.extend(f"  {key:<{width}}  {value}" for key, value in rows)
    if "weights" in info and "means" in info:
        lines.append("")
        lines.append(_component_table(info))
    return "\n".join(lines)


def _component_table(info: dict[str, Any]) -> str:
    n_features = info["n_features"]
    names = info["feature_names"] or [f"x{j}" for j in range(n_features)]
    shown = min(n_features, _SHOWN_FEATURES)
    header = ["component", "weight", *(f"mean {name}" for name in names[:shown])]
    body = [
        [str(k), f"{weight:.4f}", *(f"{value:.6g}" for value in mean[:shown])]
        for k, (weight, mean) in enumerate(zip(info["weights"], info["means"], strict=True))
    ]
    widths = [max(len(row[j]) for row in [header, *body]) for j in range(len(header))]
    lines = [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *body]
    ]
    if shown < n_features:
        lines.append(f"(means of the first {shown} of {n_features} features; --json shows all)")
    return "\n".join(lines)
