"""An estimator as the JSON tree of a model file, and back: encoding and validated decoding.

Parameters and scalar attributes are JSON values (tagged where JSON has no form:
non-finite floats, tuples, string arrays, random states, nested estimators);
arrays go to the archive's ``arrays/`` entries. Decoding builds the estimator from
its validated parameters, then checks its fitted attributes with the class's own
``check_saved_attributes`` before setting them.
"""

from __future__ import annotations

import inspect
import math
import re
from functools import cache

import numpy as np
from sklearn.exceptions import NotFittedError

from ..exceptions import ModelFileError
from . import _format as fmt
from . import _registry as registry

__all__ = ["Reader", "encode_estimator"]


def encode_estimator(estimator, prefix: str, arrays: dict, *, require_fitted: bool) -> dict:
    """JSON node for an estimator: class, parameters, fitted attributes (or None)."""
    entry = registry.entry_for(estimator)
    what = type(estimator).__name__
    try:
        entry.check_params(estimator)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"Cannot save the {what}: invalid parameter: {exc}") from None
    params = {
        name: _encode(value, f"{prefix}params/{name}", arrays, f"parameter {name!r} of {what}")
        for name, value in estimator.get_params(deep=False).items()
    }
    present = [name for name in entry.attributes if hasattr(estimator, name)]
    required = [name for name in entry.attributes if name not in entry.optional]
    if not present and not require_fitted:
        return {"class": entry.name, "params": params, "attributes": None}
    missing = [name for name in required if name not in present]
    if missing:
        raise NotFittedError(
            f"Cannot save the {what}: it lacks the fitted attribute(s) {', '.join(missing)}; "
            "fit it first."
        )
    values = {
        name: registry.check_kind(entry.attributes[name], getattr(estimator, name), name)
        for name in present
    }
    try:
        entry.check_attributes(estimator.get_params(deep=False), values)
    except ValueError as exc:
        raise ModelFileError(
            f"Cannot save the {what}: {exc} gaussmix.load would refuse such a file; refit "
            "the model."
        ) from None
    attributes = {}
    for name, value in values.items():
        where = f"{prefix}{name}"
        if entry.attributes[name] == "array":
            attributes[name] = _store_array(value, where, arrays)
        elif entry.attributes[name] == "estimator":
            node = encode_estimator(value, f"{where}/", arrays, require_fitted=True)
            attributes[name] = {"$estimator": node}
        else:
            attributes[name] = _encode(value, where, arrays, f"attribute {name!r} of {what}")
    return {"class": entry.name, "params": params, "attributes": attributes}


def _encode(value, name: str, arrays: dict, what: str, depth: int = 0):
    """JSON-safe form of a parameter or scalar attribute; arrays go to ``arrays``."""
    if depth > fmt.MAX_DEPTH:
        raise ModelFileError(f"Cannot save {what}: it is nested more than {fmt.MAX_DEPTH} deep.")
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        # Strict JSON has no NaN or infinity.
        return value if math.isfinite(value) else {"$float": repr(value)}
    if type(value) in (list, tuple):
        items = [
            _encode(item, f"{name}/{i}", arrays, what, depth + 1) for i, item in enumerate(value)
        ]
        return items if type(value) is list else {"$tuple": items}
    if isinstance(value, np.ndarray):
        if value.dtype.newbyteorder("<").str in fmt.ARRAY_DTYPES:
            return _store_array(value, name, arrays)
        if registry.is_string_array(value):
            return {"$strings": {"values": value.tolist(), "dtype": value.dtype.str}}
    if isinstance(value, np.random.RandomState):
        return _encode_random_state(value, name, arrays, what)
    if registry.entry_for(value) is not None:
        node = encode_estimator(value, f"{name}/", arrays, require_fitted=False)
        return {"$estimator": node}
    kind = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) else None
    raise ModelFileError(
        f"Cannot save {what}: it is {kind or f'of type {type(value).__name__}'} ({value!r:.80}), "
        "which a model file cannot hold. Model files hold None, booleans, numbers, strings, "
        "lists and tuples of these, numeric arrays and numpy RandomState instances; set "
        "the parameter to one of these with set_params before saving."
    )


def _store_array(array: np.ndarray, name: str, arrays: dict) -> dict:
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    arrays[name] = array
    return {"$array": name}


def _encode_random_state(state: np.random.RandomState, name: str, arrays: dict, what: str):
    inner = state.get_state(legacy=False)
    if inner["bit_generator"] != "MT19937":
        raise ModelFileError(
            f"Cannot save {what}: a RandomState on the {inner['bit_generator']} bit generator "
            "cannot be saved, only the default MT19937; pass an integer seed instead."
        )
    return {
        "$random_state": {
            "key": _store_array(inner["state"]["key"], name, arrays),
            "pos": int(inner["state"]["pos"]),
            "has_gauss": int(inner["has_gauss"]),
            "gauss": _encode(inner["gauss"], name, arrays, what),
        }
    }


class Reader:
    """Decodes JSON values and estimator nodes, handing out each array once."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.used: set[str] = set()

    def estimator(self, node, where: str, *, require_fitted: bool):
        what = f"the estimator at {where!r}" if where else "the estimator"
        if not isinstance(node, dict) or set(node) != {"class", "params", "attributes"}:
            raise fmt.Problem(f"{what} should be an object with class, params and attributes.")
        classes = registry.savable_classes()
        entry = classes.get(node["class"]) if isinstance(node["class"], str) else None
        if entry is None:
            raise fmt.Problem(
                f"{what} has the class {fmt.quoted(node['class'])}, which model files cannot "
                f"hold; this gaussmix loads {', '.join(sorted(classes))}."
            )
        estimator = self._build(entry, node["params"], f"{what} ({entry.name})", where)
        raw = node["attributes"]
        if raw is None and not require_fitted:
            return estimator
        if not isinstance(raw, dict):
            raise fmt.Problem(f"{what} ({entry.name}) has no fitted attributes.")
        unknown = sorted(set(raw) - set(entry.attributes))
        if unknown:
            raise fmt.Problem(f"{entry.name} has no fitted attribute(s) {fmt.listing(unknown)}.")
        missing = [n for n in entry.attributes if n not in raw and n not in entry.optional]
        if missing:
            raise fmt.Problem(f"{what} ({entry.name}) lacks the fitted attribute(s) {missing}.")
        values = {}
        for name, value in raw.items():
            kind = entry.attributes[name]
            if kind == "estimator":
                inner = value.get("$estimator") if isinstance(value, dict) else None
                decoded = self.estimator(inner, f"{where}{name}", require_fitted=True)
            elif kind == "array":
                if not (isinstance(value, dict) and set(value) == {"$array"}):
                    raise fmt.Problem(f"{name} of {entry.name} should be an array.")
                decoded = self.value(value, name)
            else:
                decoded = self.value(value, name)
            try:
                values[name] = registry.check_kind(kind, decoded, name)
            except ValueError as exc:
                raise fmt.Problem(f"invalid {entry.name}: {exc}") from None
        try:
            entry.check_attributes(estimator.get_params(deep=False), values)
        except ValueError as exc:
            raise fmt.Problem(f"invalid {entry.name}: {exc}") from None
        for name, value in values.items():
            setattr(estimator, name, value)
        return estimator

    def _build(self, entry: registry.SavableClass, raw, what: str, where: str):
        """The (unfitted) estimator with the file's parameters, validated."""
        if not isinstance(raw, dict):
            raise fmt.Problem(f"the parameters of {what} should be a JSON object.")
        accepted = _init_parameters(entry.cls)
        unknown = sorted(set(raw) - accepted)
        if unknown:
            raise fmt.Problem(f"{entry.name} has no parameter(s) {fmt.listing(unknown)}.")
        # Parameters a file lacks (written before they existed) take their defaults.
        params = {name: self.value(value, f"{where}params/{name}") for name, value in raw.items()}
        # __init__ only stores its arguments (the scikit-learn contract).
        estimator = entry.cls(**params)
        try:
            entry.check_params(estimator)
        except (ValueError, TypeError) as exc:
            raise fmt.Problem(f"invalid parameter of {entry.name}: {exc}") from None
        return estimator

    def value(self, value, where: str, depth: int = 0):
        if depth > fmt.MAX_DEPTH:
            raise fmt.Problem(f"the value at {where!r} is nested too deeply.")
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            # JSON integers are unbounded; no parameter or attribute needs more than 64 bits.
            if not -(2**63) <= value < 2**63:
                raise fmt.Problem(f"the value at {where!r} is an out-of-range number.")
            return value
        if type(value) is float:
            # 1e999 parses as infinity; non-finite floats must be tagged.
            if not math.isfinite(value):
                raise fmt.Problem(f"the value at {where!r} is an out-of-range number.")
            return value
        if type(value) is list:
            return [self.value(item, where, depth + 1) for item in value]
        if not (type(value) is dict and len(value) == 1):
            raise fmt.Problem(f"the value at {where!r} is not a value model files hold.")
        ((tag, body),) = value.items()
        if tag == "$array":
            return self.array(body, where)
        if tag == "$float" and body in ("inf", "-inf", "nan"):
            return float(body)
        if tag == "$tuple" and type(body) is list:
            return tuple(self.value(item, where, depth + 1) for item in body)
        if tag == "$strings":
            return _decode_strings(body, where)
        if tag == "$random_state":
            return self.random_state(body, where)
        if tag == "$estimator":
            return self.estimator(body, f"{where}/", require_fitted=False)
        raise fmt.Problem(
            f"the value at {fmt.quoted(where)} has an unknown form {fmt.quoted(tag)}."
        )

    def array(self, name, where: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise fmt.Problem(
                f"the value at {fmt.quoted(where)} names an array {fmt.quoted(name)} not in the "
                "manifest."
            )
        if name in self.used:
            raise fmt.Problem(f"the array {name!r} is used twice.")
        self.used.add(name)
        return self.arrays[name]

    def random_state(self, body, where: str) -> np.random.RandomState:
        if not (isinstance(body, dict) and set(body) == {"key", "pos", "has_gauss", "gauss"}):
            raise fmt.Problem(
                f"the RandomState at {where!r} should hold key, pos, has_gauss, gauss."
            )
        key = self.value(body["key"], where)
        pos, has_gauss = body["pos"], body["has_gauss"]
        gauss = self.value(body["gauss"], where)
        if not (
            isinstance(key, np.ndarray)
            and key.dtype == np.uint32
            and key.shape == (624,)
            and type(pos) is int
            and 0 <= pos <= 624
            and has_gauss in (0, 1)
            and type(has_gauss) is int
            and type(gauss) is float
        ):
            raise fmt.Problem(f"the RandomState at {where!r} has an invalid MT19937 state.")
        state = np.random.RandomState()
        state.set_state(("MT19937", key, pos, has_gauss, gauss))
        return state


@cache
def _init_parameters(cls: type) -> frozenset[str]:
    signature = inspect.signature(cls.__init__)
    return frozenset(
        name
        for name, parameter in signature.parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    )


def _decode_strings(body, where: str) -> np.ndarray:
    if not (isinstance(body, dict) and set(body) == {"values", "dtype"}):
        raise fmt.Problem(f"the strings at {where!r} should hold values and dtype.")
    values, dtype = body["values"], body["dtype"]
    if not (isinstance(values, list) and all(type(v) is str for v in values)):
        raise fmt.Problem(f"the strings at {where!r} should be a list of strings.")
    if dtype == "|O":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    if isinstance(dtype, str) and re.fullmatch(r"<U\d{1,6}", dtype):
        array = np.array(values, dtype=dtype).reshape(len(values))
        # NumPy truncates strings longer than the dtype allows.
        if array.tolist() == values:
            return array
    raise fmt.Problem(
        f"the strings at {fmt.quoted(where)} have an invalid dtype {fmt.quoted(dtype)}."
    )
