"""The house rules, checked statically on every module under ``src/gaussmix``.

1. Imports point down the layer map (``LAYERS``, bottom first; it mirrors the map
   in the architecture notes): a module imports modules of its own layer or of
   layers below, never above. The rule holds for every import, at the top of a
   module or inside a function: a lazy import keeps ``import gaussmix`` light (the
   plot and report layers, click, dask), it does not license a climb.
   ``if TYPE_CHECKING:`` blocks are exempt (annotations only, never run).
2. No private name crosses modules: no ``from m import _name``; a private module
   (``pkg._mod``) is imported only by modules of its own package ``pkg``; and no
   ``obj._name`` (nor ``getattr(obj, "_name")``) reaches a private attribute that
   the module itself does not define (another class's private method or field).
   The same holds for third-party packages (no ``sklearn.utils._x``).

Each rule has a test that feeds it a synthetic bad module, so a checker that
stopped finding violations would fail here too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "gaussmix"

# The layer map, bottom first. A module belongs to the layer of the longest prefix
# that names it. Modules in one layer may import one another.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation: errors, argument checks, version, dependency imports",
        ("exceptions", "_validation", "_version", "_preload"),
    ),
    ("io: input sources and atomic writes", ("io",)),
    ("kernels", ("kernels",)),
    ("threads: the user's cap", ("_threads",)),
    ("sufficient statistics and parameters", ("_suffstats", "_params")),
    ("backends", ("backends",)),
    ("covariance models", ("covariance",)),
    ("M-step and the fit's set-up", ("_mstep", "_setup")),
    ("start: one start function and its methods", ("_init", "_kmeans", "_hc", "_qclass")),
    ("EM loop", ("_em", "_online")),
    ("the one fit path", ("_fit",)),
    ("estimator", ("_mixture",)),
    ("grid runner", ("_grid",)),
    ("model selection", ("_selection",)),
    ("anomaly detection and the noise component", ("anomaly",)),
    ("persistence: model files", ("persistence",)),
    ("plots", ("plot",)),
    ("report", ("report",)),
    ("command line and demo", ("cli", "demo", "__main__")),
    ("package front", ("__init__",)),
)


def _layer_index() -> dict[str, int]:
    index = {}
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            index[prefix] = rank
    return index


LAYER_OF_PREFIX = _layer_index()


def layer_of(module: str) -> int:
    """Rank of ``module`` (dotted, under ``gaussmix``) in ``LAYERS``; KeyError if unmapped."""
    parts = module.split(".")
    assert parts[0] == "gaussmix", module
    if len(parts) == 1:
        return LAYER_OF_PREFIX["__init__"]
    for end in range(len(parts), 1, -1):
        prefix = ".".join(parts[1:end])
        if prefix in LAYER_OF_PREFIX:
            return LAYER_OF_PREFIX[prefix]
    raise KeyError(f"{module} is in no layer of LAYERS; add it to the map")


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.message}"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` in ``module``."""
    if level == 0:
        return target or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _package_of(module: str) -> str:
    return module.rsplit(".", 1)[0] if "." in module else module


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    for inner in ast.walk(child):
                        if hasattr(inner, "lineno"):
                            lines.add(inner.lineno)
    return lines


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names this module defines: functions, classes, attributes it assigns."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if _is_private(name)}


def check_module(module: str, source: str, *, is_package: bool = False) -> list[Violation]:
    """Every violation of the house rules in one module's source."""
    tree = ast.parse(source)
    found: list[Violation] = []
    skip = _type_checking_lines(tree)
    own_layer = layer_of(module)
    own_package = module if is_package else _package_of(module)
    defined = _defined_private_names(tree)

    def imported(target: str, line: int, names: list[str]) -> None:
        parts = target.split(".")
        if parts[0] == "gaussmix":
            try:
                rank = layer_of(target)
            except KeyError as exc:
                found.append(Violation(module, line, exc.args[0]))
                return
            if rank > own_layer:
                found.append(
                    Violation(
                        module,
                        line,
                        f"imports {target} ({LAYERS[rank][0]}), above its own layer "
                        f"({LAYERS[own_layer][0]})",
                    )
                )
            for depth in range(1, len(parts)):
                if _is_private(parts[depth]):
                    owner = ".".join(parts[:depth])
                    if not (own_package == owner or own_package.startswith(owner + ".")):
                        found.append(
                            Violation(
                                module,
                                line,
                                f"imports the private module {'.'.join(parts[: depth + 1])} "
                                f"from outside its package {owner}",
                            )
                        )
                    break
        elif any(_is_private(part) for part in parts):
            found.append(Violation(module, line, f"imports the private module {target}"))
        for name in names:
            if _is_private(name):
                found.append(Violation(module, line, f"imports the private name {target}.{name}"))

    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if line in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported(alias.name, line, [])
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            base = _resolve(module, is_package, node.level, node.module)
            plain = []
            for alias in node.names:
                # ``from pkg import submodule`` imports the module pkg.submodule.
                candidate = f"{base}.{alias.name}"
                if base.startswith("gaussmix") and _is_module(candidate):
                    imported(candidate, line, [])
                else:
                    plain.append(alias.name)
            if plain or not node.names:
                imported(base, line, plain)
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = node.value
            is_self = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            if not is_self and node.attr not in defined:
                found.append(
                    Violation(module, line, f"reaches the private attribute .{node.attr}")
                )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _is_private(node.args[1].value)
        ):
            owner = node.args[0]
            is_self = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            if not is_self and node.args[1].value not in defined:
                found.append(
                    Violation(
                        module,
                        line,
                        f"reaches the private attribute {node.args[1].value!r} by name",
                    )
                )
    return found


# Modules the build compiles (CMakeLists.txt installs them), which have no source
# file under src/gaussmix.
EXTENSION_MODULES = ("gaussmix.kernels._gaussmix",)


def _is_module(name: str) -> bool:
    """Whether the dotted ``gaussmix`` name is a module or package of the package."""
    if name in EXTENSION_MODULES:
        return True
    path = PACKAGE_ROOT.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def package_modules() -> list[tuple[str, Path, bool]]:
    """(dotted name, path, is_package) of every module under src/gaussmix."""
    modules = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        relative = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
        parts = list(relative.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules.append((".".join(parts), path, is_package))
    return modules


# ------------------------------------------------------------------ the package


def test_the_extension_modules_are_built():
    """The table of compiled modules names modules that exist."""
    import importlib

    for name in EXTENSION_MODULES:
        assert importlib.import_module(name).__file__ is not None


def test_every_module_is_on_the_map():
    unmapped = []
    for module, _, _ in package_modules():
        try:
            layer_of(module)
        except KeyError:
            unmapped.append(module)
    assert unmapped == []


def test_the_package_keeps_the_house_rules():
    violations = []
    for module, path, is_package in package_modules():
        violations += check_module(module, path.read_text(), is_package=is_package)
    assert [str(v) for v in violations] == []


# ------------------------------------------------ the checker finds violations


def _messages(module: str, source: str, *, is_package: bool = False) -> list[str]:
    return [v.message for v in check_module(module, source, is_package=is_package)]


@pytest.mark.parametrize(
    "source",
    [
        "from ._mixture import GaussianMixture\n",
        "def lazy():\n    from .. import _mixture\n",
        "import gaussmix.report\n",
        "def f():\n    from ..plot import ClusterDisplay\n",
    ],
)
def test_an_import_up_the_map_is_caught(source):
    module = "gaussmix.covariance._bad" if source.startswith("def lazy") else "gaussmix._em"
    if "plot" in source:
        module = "gaussmix.kernels._bad"
    messages = _messages(module, source)
    assert len(messages) == 1 and "above its own layer" in messages[0]


def test_imports_down_the_map_and_type_checking_imports_pass():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ._suffstats import SuffStats\n"
        "from .covariance import get_covariance_model\n"
        "from . import _validation as check\n"
        "if TYPE_CHECKING:\n"
        "    from ._mixture import GaussianMixture\n"
    )
    assert _messages("gaussmix._em", source) == []


def test_a_private_name_imported_across_modules_is_caught():
    messages = _messages("gaussmix._em", "from .covariance import _BY_MCLUST_NAME\n")
    assert messages == ["imports the private name gaussmix.covariance._BY_MCLUST_NAME"]


def test_a_private_module_of_another_package_is_caught():
    messages = _messages("gaussmix._mixture", "from .covariance._base import RIDGE_FRACTION\n")
    assert messages == [
        "imports the private module gaussmix.covariance._base from outside its package "
        "gaussmix.covariance"
    ]
    # Within its own package it is the package's business.
    assert _messages("gaussmix.covariance._diag", "from ._base import CovarianceModel\n") == []


def test_a_private_module_of_a_third_party_package_is_caught():
    messages = _messages("gaussmix._mixture", "from sklearn.utils._param_validation import X\n")
    assert messages == ["imports the private module sklearn.utils._param_validation"]


def test_another_objects_private_method_is_caught():
    source = "def run(estimator):\n    return estimator._check_params()\n"
    assert _messages("gaussmix._selection", source) == [
        "reaches the private attribute ._check_params"
    ]
    by_name = "def run(model):\n    return hasattr(model, '_n_parameters')\n"
    assert _messages("gaussmix.cli._describe", by_name) == [
        "reaches the private attribute '_n_parameters' by name"
    ]


def test_private_attributes_the_module_defines_pass():
    source = (
        "class Stats:\n"
        "    def __init__(self):\n"
        "        self._value = 1\n"
        "    def merge(self, other):\n"
        "        return self._value + other._value\n"
    )
    assert _messages("gaussmix._suffstats", source) == []


def test_a_module_off_the_map_is_caught():
    assert _messages("gaussmix._em", "from ._nowhere import thing\n") == [
        "gaussmix._nowhere is in no layer of LAYERS; add it to the map"
    ]
