"""The report in a real browser: Debian's headless Chromium, driven through chromedriver.

Checks what only a browser can: the page loads without console errors, makes no
request beyond its own file and ``data:`` URLs, every image decodes, and a
full-page screenshot shows the figures where the images are.

Chromium and chromedriver come from the system packages ``chromium`` and
``chromium-driver``; ``make browser`` installs them (``make test`` runs it first).
Without them the test fails, saying so. Developers who cannot install them set
``GAUSSMIX_SKIP_BROWSER=1`` to skip this test; ``GAUSSMIX_CHROMIUM`` and
``GAUSSMIX_CHROMEDRIVER`` point at binaries elsewhere.
"""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import mixture_data
from gaussmix import GaussianMixture, select_model

CHROMIUM = os.environ.get("GAUSSMIX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GAUSSMIX_CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTH = 1280

pytestmark = pytest.mark.skipif(
    os.environ.get("GAUSSMIX_SKIP_BROWSER") == "1",
    reason="GAUSSMIX_SKIP_BROWSER=1: the report's browser test is skipped",
)

SETUP_HINT = (
    "Run `make browser` to install Debian's chromium and chromium-driver (it uses "
    "apt-get, with sudo unless root; `make test` runs it first), point GAUSSMIX_CHROMIUM "
    "and GAUSSMIX_CHROMEDRIVER at other binaries, or set GAUSSMIX_SKIP_BROWSER=1 to skip "
    "this test."
)

# Chromium's own traffic (updates, sync, safe browsing) is turned off, and every
# host name resolves to nothing: the page could not reach a network if it tried.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the sandbox refuses to run as root, as CI does
    "--disable-gpu",
    "--disable-dev-shm-usage",
    f"--window-size={WIDTH},1000",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


@pytest.fixture(scope="module")
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"The browser test needs {' and '.join(missing)}. {SETUP_HINT}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail('The browser test needs selenium: pip install -e ".[dev]" (make install).')

    options = Options()
    # Both paths given: selenium looks for nothing itself (no download, no network).
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module", params=["selection-2d", "five-features"])
def written(request, tmp_path_factory):
    """``(path, figure ids, title)`` of a report written to disk."""
    from gaussmix.report import write_report

    out = tmp_path_factory.mktemp("browser")
    if request.param == "selection-2d":
        X, _ = mixture_data(400, 2, 3, seed=3)
        result = select_model(X, range(1, 4), covariance_types="all", random_state=0)
        path = write_report(
            out / "report.html", result.best_estimator_, X, selection=result, title="<b>x&y</b>"
        )
        return (
            path,
            ["clusters", "density", "uncertainty", "selection", "comparison"],
            "<b>x&y</b>",
        )
    X, _ = mixture_data(300, 5, 3, seed=1)
    estimator = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    path = write_report(out / "report.html", estimator, X)
    figures = ["clusters", "density", "uncertainty", "comparison", "pairs"]
    return path, figures, "Gaussian mixture: VVI (diag), 3 components"


def _visit(browser, path: Path) -> dict:
    """Load ``path``; collect its logs, image states and a full-page screenshot."""
    browser.get_log("browser")  # start from empty logs
    browser.get_log("performance")
    url = path.resolve().as_uri()
    browser.get(url)
    assert browser.execute_script("return document.readyState") == "complete"
    images = browser.execute_script(
        """
        return Array.from(document.images, (img) => {
            const r = img.getBoundingClientRect();
            return {
                id: img.closest("figure") ? img.closest("figure").id : null,
                complete: img.complete, naturalWidth: img.naturalWidth,
                naturalHeight: img.naturalHeight, alt: img.alt, src: img.currentSrc,
                x: r.left + window.scrollX, y: r.top + window.scrollY,
                width: r.width, height: r.height,
            };
        });
        """
    )
    page = browser.execute_script(
        """
        const h1 = document.querySelector("h1");
        const r = h1 ? h1.getBoundingClientRect() : {left: 0, top: 0, width: 0, height: 0};
        return {x: r.left + window.scrollX, y: r.top + window.scrollY,
                width: r.width, height: r.height, text: h1 ? h1.textContent : null,
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth, ratio: window.devicePixelRatio,
                resources: performance.getEntriesByType("resource").map((e) => e.name)};
        """
    )
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    png = base64.b64decode(shot["data"])
    screenshot = path.with_name(f"{path.stem}-screenshot.png")
    screenshot.write_bytes(png)  # kept beside the page, to look at when a test fails
    return {
        "url": url,
        "console": browser.get_log("browser"),
        "network": [json.loads(e["message"])["message"] for e in browser.get_log("performance")],
        "images": images,
        "page": page,
        "screenshot": _decode(png),
        "screenshot_path": screenshot,
    }


def _decode(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(png), format="png")[..., :3]


def _console_errors(visit: dict) -> list:
    return [e for e in visit["console"] if e["level"] in ("SEVERE", "ERROR")]


def _requests(visit: dict) -> list[str]:
    """URLs the page asked for, other than its own file and data: URLs."""
    sent = [
        m["params"]["request"]["url"]
        for m in visit["network"]
        if m["method"] == "Network.requestWillBeSent"
    ]
    return [u for u in sent if u != visit["url"] and not u.startswith("data:")]


def _broken_images(visit: dict) -> list:
    return [img for img in visit["images"] if not img["complete"] or img["naturalWidth"] == 0]


@pytest.fixture(scope="module")
def loaded(browser, written):
    path, expected, title = written
    return {**_visit(browser, path), "expected": expected, "title": title}


def test_no_console_errors(loaded):
    assert _console_errors(loaded) == []


def test_no_requests_beyond_the_file_and_data_urls(loaded):
    sent = [m for m in loaded["network"] if m["method"] == "Network.requestWillBeSent"]
    assert loaded["url"] in [m["params"]["request"]["url"] for m in sent]  # the log works
    assert _requests(loaded) == []
    failed = [m["params"] for m in loaded["network"] if m["method"] == "Network.loadingFailed"]
    assert failed == []
    assert all(r.startswith("data:") for r in loaded["page"]["resources"])


def test_every_image_decodes(loaded):
    images = loaded["images"]
    assert sorted(img["id"] for img in images) == sorted(f"figure-{k}" for k in loaded["expected"])
    assert _broken_images(loaded) == []
    for img in images:
        assert img["naturalWidth"] > 100 and img["naturalHeight"] > 100, img["id"]
        assert img["alt"], img["id"]
        assert img["src"].startswith("data:image/png;base64,")
        assert img["width"] > 100 and img["height"] > 100  # laid out, not collapsed


def test_screenshot_shows_the_page_and_its_figures(loaded):
    shot, page = loaded["screenshot"], loaded["page"]
    where = f"(screenshot: {loaded['screenshot_path']})"
    assert page["ratio"] == 1
    assert shot.shape[1] == WIDTH and shot.shape[0] > 2000, where
    # Fits the window: nothing sticks out sideways.
    assert page["scrollWidth"] <= page["innerWidth"]
    pixels = (shot * 255).astype(np.uint32)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(packed)) > 2000, where

    # The title is drawn: dark text pixels where the heading is.
    top, left = round(page["y"]), round(page["x"])
    heading = shot[top : top + round(page["height"]), left : left + round(page["width"])]
    assert (heading.max(axis=2) < 0.4).mean() > 0.02, where
    assert page["text"] == loaded["title"]  # escaped in the file, shown as written

    for img in loaded["images"]:
        top, left = round(img["y"]), round(img["x"])
        region = shot[top : top + round(img["height"]), left : left + round(img["width"])]
        assert region.shape[0] > 100 and region.shape[1] > 100, (img["id"], where)
        # Not blank: a plot has colour, lines and text on white.
        not_white = (region.min(axis=2) < 0.9).mean()
        assert not_white > 0.05, (img["id"], where)
        saturated = ((region.max(axis=2) - region.min(axis=2)) > 0.3).mean()
        assert saturated > 0.005, (img["id"], where)
        # And it is this image: its mean colour is the source's, drawn to scale.
        source = _decode(base64.b64decode(img["src"].split(",", 1)[1]))
        np.testing.assert_allclose(
            region.reshape(-1, 3).mean(axis=0),
            source.reshape(-1, 3).mean(axis=0),
            atol=0.03,
            err_msg=f"{img['id']} {where}",
        )


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    # The report's own page frame around a web image and a damaged one: the checks
    # above must see both.
    from gaussmix.report._html import Markup, page

    document = page(
        "broken",
        Markup(
            "<h1>broken</h1>"
            '<img src="https://example.invalid/logo.png" alt="web">'
            '<img src="data:image/png;base64,iVBORw0KGgo=" alt="damaged">'
        ),
        "gaussmix",
    )
    path = tmp_path / "broken.html"
    path.write_text(document, encoding="utf-8")
    visit = _visit(browser, path)
    # The report's content security policy blocks the request, and says so.
    assert any("example.invalid" in e["message"] for e in _console_errors(visit))
    assert [img["alt"] for img in _broken_images(visit)] == ["web", "damaged"]

    # Without that policy the request is sent (and fails: no host name resolves).
    path.write_text(document.replace("Content-Security-Policy", "x-none"), encoding="utf-8")
    visit = _visit(browser, path)
    assert _requests(visit) == ["https://example.invalid/logo.png"]
    assert _console_errors(visit)
