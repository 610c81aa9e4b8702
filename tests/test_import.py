"""``import gaussmix`` is light: heavy optional dependencies load only where used.

Each check runs in a fresh interpreter, so modules imported by other tests (or by
pytest plugins) in this process cannot hide or fake a result.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("matplotlib", "numba", "llvmlite", "dask", "click")


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _loaded(names) -> str:
    """Code for a JSON list of which of ``names`` (or their submodules) are in sys.modules."""
    return f"sorted({{m.split('.')[0] for m in sys.modules}} & {set(names)!r})"


def test_fresh_interpreter_starts_without_heavy_modules():
    # The check below is only meaningful if a bare interpreter does not preload them.
    report = _run(f"import json, sys; print(json.dumps({_loaded(HEAVY)}))")
    assert report == []


def test_import_gaussmix_is_light():
    report = _run(
        f"""
        import json, sys
        import gaussmix
        print(json.dumps({{
            "loaded": {_loaded(HEAVY)},
            "version": gaussmix.__version__,
            "version_type": type(gaussmix.__version__).__name__,
            "gaussmix_in_modules": "gaussmix" in sys.modules,
        }}))
        """
    )
    assert report["gaussmix_in_modules"]
    assert report["loaded"] == []
    assert report["version_type"] == "str"
    assert report["version"]


def test_version_matches_the_installed_distribution():
    from importlib.metadata import PackageNotFoundError, version

    import gaussmix

    try:
        installed = version("gaussmix")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        pytest.skip("gaussmix is not installed as a distribution")
    assert gaussmix.__version__ == installed


def test_public_names_are_importable_without_heavy_modules():
    report = _run(
        f"""
        import json, sys
        from gaussmix import (
            COVARIANCE_TYPES, DegenerateComponentWarning, GaussianMixture,
            InvalidParameterError, ModelFileError, OutlierDetector, load, save,
        )
        import gaussmix.kernels, gaussmix.covariance, gaussmix.backends
        print(json.dumps({{"loaded": {_loaded(HEAVY)}, "all": sorted(gaussmix.__all__)}}))
        """
    )
    assert report["loaded"] == []
    assert {
        "GaussianMixture",
        "InvalidParameterError",
        "DegenerateComponentWarning",
        "ModelFileError",
        "OutlierDetector",
        "load",
        "save",
    } <= set(report["all"])


@pytest.mark.parametrize("kernel", ["numpy", "auto"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_fits_import_nothing_heavy(covariance_type, kernel):
    report = _run(
        f"""
        import json, sys
        import numpy as np
        import gaussmix
        rng = np.random.RandomState(0)
        X = np.vstack([rng.randn(60, 2), rng.randn(60, 2) + 6])
        gm = gaussmix.GaussianMixture(
            2, covariance_type={covariance_type!r}, kernel={kernel!r}, random_state=0
        ).fit(X)
        gm.predict(X); gm.predict_proba(X); gm.score_samples(X); gm.sample(5); gm.bic(X)
        print(json.dumps({{
            "loaded": {_loaded(HEAVY)},
            "weights": sorted(gm.weights_.tolist()),
        }}))
        """
    )
    assert report["loaded"] == []
    # The fit did happen: two clusters of 60 rows each.
    assert report["weights"] == pytest.approx([0.5, 0.5], abs=0.05)


def test_import_gaussmix_leaves_sklearn_cluster_to_the_k_means_plus_plus_start():
    """sklearn.cluster takes 70-170 ms to import: only init_params="k-means++" needs it
    (the default k-means start is gaussmix's own), and that fit does import it."""
    report = _run(
        """
        import json, sys
        import numpy as np
        import gaussmix
        X = np.random.RandomState(0).randn(200, 2)
        at_import = "sklearn.cluster" in sys.modules
        gaussmix.GaussianMixture(2, random_state=0).fit(X)
        after_default = "sklearn.cluster" in sys.modules
        gaussmix.GaussianMixture(2, init_params="k-means++", random_state=0).fit(X)
        print(json.dumps([at_import, after_default, "sklearn.cluster" in sys.modules]))
        """
    )
    assert report == [False, False, True]


def test_import_gaussmix_loads_the_compiled_kernels():
    """The extension module is loaded with gaussmix (threadpoolctl finds it among the
    process's libraries), and the default kernel is the compiled one."""
    report = _run(
        """
        import json, sys
        import gaussmix
        from gaussmix.kernels import get_kernel
        print(json.dumps([
            "gaussmix.kernels._gaussmix" in sys.modules, get_kernel("auto").name
        ]))
        """
    )
    assert report == [True, "compiled"]


def test_plots_are_opt_in():
    # gaussmix.plot loads matplotlib, and only an explicit import of it does.
    pytest.importorskip("matplotlib")
    report = _run(
        f"""
        import json, sys
        import gaussmix
        before = {_loaded(HEAVY)}
        plot_loaded = "gaussmix.plot" in sys.modules
        import gaussmix.plot
        print(json.dumps({{
            "before": before, "plot_loaded": plot_loaded, "after": {_loaded(HEAVY)}
        }}))
        """
    )
    assert report["before"] == [] and not report["plot_loaded"]
    assert "matplotlib" in report["after"]


def test_outlier_detector_imports_nothing_heavy():
    report = _run(
        f"""
        import json, sys
        import numpy as np
        import gaussmix
        rng = np.random.RandomState(0)
        X = np.vstack([rng.randn(60, 2), rng.randn(60, 2) + 6, rng.uniform(-5, 11, (6, 2))])
        template = gaussmix.GaussianMixture()
        for noise in (False, True):
            detector = gaussmix.OutlierDetector(
                n_components=[1, 2], noise=noise, mixture=template, random_state=0
            ).fit(X)
            detector.predict(X)
        print(json.dumps({{"loaded": {_loaded(HEAVY)}, "k": detector.mixture_.n_components}}))
        """
    )
    assert report["loaded"] == []
    assert report["k"] == 2


def test_selection_detector_and_model_files_load_on_first_use():
    report = _run(
        """
        import json, sys
        import gaussmix
        lazy = ("gaussmix._selection", "gaussmix.anomaly", "gaussmix.persistence")
        before = [m for m in lazy if m in sys.modules]
        from gaussmix import OutlierDetector, load, select_model
        from gaussmix._selection import select_model as direct_select
        from gaussmix.anomaly import OutlierDetector as direct_detector
        from gaussmix.persistence import load as direct_load
        print(json.dumps({
            "before": before,
            "after": [m for m in lazy if m in sys.modules],
            "same": [select_model is direct_select, OutlierDetector is direct_detector,
                     load is direct_load, gaussmix.save is gaussmix.persistence.save],
            "listed": sorted(set(gaussmix.__all__) - set(dir(gaussmix))),
        }))
        """
    )
    assert report["before"] == []
    assert report["after"] == ["gaussmix._selection", "gaussmix.anomaly", "gaussmix.persistence"]
    assert report["same"] == [True, True, True, True]
    assert report["listed"] == []


def test_hierarchical_clustering_loads_on_first_use():
    """mclust's agglomeration (``hc_tree``, ``init_params="hc"``) is not on the path
    of an ordinary fit; its names and the hc start load it when first used."""
    report = _run(
        """
        import json, sys
        import numpy as np
        import gaussmix
        X = np.random.RandomState(0).randn(120, 2)
        gaussmix.GaussianMixture(2, random_state=0).fit(X)
        after_default_fit = "gaussmix._hc" in sys.modules
        gm = gaussmix.GaussianMixture(2, init_params="hc", random_state=0).fit(X)
        after_hc_fit = "gaussmix._hc" in sys.modules
        from gaussmix import HCTree, hc_tree
        import gaussmix._hc as module
        tree = hc_tree(X)
        print(json.dumps([
            after_default_fit, after_hc_fit, hc_tree is module.hc_tree,
            HCTree is module.HCTree, isinstance(tree, HCTree), bool(gm.converged_),
        ]))
        """
    )
    assert report == [False, True, True, True, True, True]


def test_an_unknown_name_is_an_attribute_error():
    import gaussmix

    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        gaussmix.not_a_name  # noqa: B018


def test_scikit_learn_and_scipy_are_first_imported_from_the_frame_with_room():
    """``import gaussmix`` imports scikit-learn (and through it SciPy) inside
    ``_preload``'s frame, which reserves stack room (see that module): an import of
    scikit-learn placed before it in the package would run outside that room."""
    report = _run(
        """
        import json, sys, traceback
        import numpy

        first = {}

        class Watch:
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                if top in ("sklearn", "scipy") and top not in first:
                    first[top] = [
                        (frame.filename.replace("\\\\", "/").rsplit("/", 2)[-2:], frame.name)
                        for frame in traceback.extract_stack()
                    ]
                return None

        sys.meta_path.insert(0, Watch())
        import gaussmix
        print(json.dumps(first))
        """
    )
    assert set(report) == {"sklearn", "scipy"}
    for stack in report.values():
        assert [["gaussmix", "_preload.py"], "import_with_room"] in stack, stack


def test_the_frame_with_room_reserves_64_kib_and_imports_what_it_is_given():
    from gaussmix import _preload

    assert _preload.RESERVED_SLOTS * 8 > 64 * 1024
    if sys.implementation.name == "cpython":
        assert _preload.import_with_room.__code__.co_stacksize > _preload.RESERVED_SLOTS
    report = _run(
        """
        import json, sys
        from gaussmix._preload import import_with_room
        before = "colorsys" in sys.modules
        import_with_room(["colorsys"])
        print(json.dumps([before, "colorsys" in sys.modules]))
        """
    )
    assert report == [False, True]
