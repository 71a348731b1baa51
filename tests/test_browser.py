"""The HTML report and a saved preview, opened in headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them when
absent, through ``.ci/install-browser``); skipped, saying so, where they are missing.
Screenshots go to pytest's tmp_path, and also to ``$MICROCT_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xarray_microct as mct
from xarray_microct import plot
from xarray_microct.report import save_report, save_view

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium is not installed (Debian packages chromium and chromium-driver; "
    "`make test` installs them via .ci/install-browser when run as root with apt-get)",
)

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1800",
    "--enable-unsafe-swiftshader",  # software WebGL, for Plotly's 3-D views
)

# Every <canvas> in the page, looking inside the shadow roots that Bokeh 3 draws into.
FIND_CANVASES = """
function find(root) {
  let found = Array.from(root.querySelectorAll('canvas'));
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) { found = found.concat(find(el.shadowRoot)); }
  }
  return found;
}
return find(document).filter(c => c.width > 0 && c.height > 0).map(c => [c.width, c.height]);
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_and_check(driver: object, page: Path, screenshot: Path) -> list[list[int]]:
    """Open ``page``, wait for Bokeh to draw, check the console, save a screenshot."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop earlier pages' messages
    driver.get(page.resolve().as_uri())
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return window.Bokeh !== undefined && "
                                   "Bokeh.documents.length > 0")
        and len(d.execute_script(FIND_CANVASES)) > 0
    )
    canvases = driver.execute_script(FIND_CANVASES)
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors in {page.name}: {errors}"
    driver.save_screenshot(str(screenshot))
    target = os.environ.get("MICROCT_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(target) / screenshot.name)
    return canvases


def distinct_colours(png: Path) -> int:
    import matplotlib.image

    pixels = (matplotlib.image.imread(png)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


@pytest.fixture(scope="module")
def scan() -> tuple[object, object]:
    rng = np.random.default_rng(0)
    _, y, x = np.mgrid[:16, :48, :48]
    beads = ((y - 24) ** 2 + (x - 20) ** 2 < 100) | ((y - 12) ** 2 + (x - 36) ** 2 < 36)
    array = (0.2 + 0.6 * beads + rng.normal(0, 0.05, beads.shape)).astype("float32")
    vol = mct.from_array(array, spacing=(1.3, 0.65, 0.65), units="um", chunks=(8, 24, 24))
    smooth = vol.microct.gaussian(sigma="0.65 um")
    return smooth, smooth > 0.5


def test_report_renders_in_chromium(browser: object, scan: tuple, tmp_path: Path) -> None:
    smooth, mask = scan
    centres = {
        "detected": pd.DataFrame({"x": [13.0, 23.4], "y": [15.6, 7.8]}),
        "true": pd.DataFrame({"x": [13.0, 23.4], "y": [15.6, 7.9]}),
    }
    page = save_report(tmp_path / "report.html", smooth, labels=mask, centres=centres,
                       metrics={"dice": 0.93, "objects": 2}, slices=3, title="Bead check")
    text = page.read_text()
    assert "gaussian" in text and "dice" in text and "0.93" in text  # provenance, metrics
    assert '<script src="http' not in text and '<link rel="icon"' not in text  # offline
    canvases = open_and_check(browser, page, tmp_path / "report.png")
    assert len(canvases) >= 2  # the slice slider and the centres plot
    assert distinct_colours(tmp_path / "report.png") > 100  # grey levels drawn, not blank
    title = browser.execute_script("return document.title")
    assert title == "Bead check"


def test_saved_preview_renders_and_its_slider_works(
    browser: object, scan: tuple, tmp_path: Path
) -> None:
    smooth, _ = scan
    page = save_view(plot.preview(smooth, positions=4), tmp_path / "preview.html")
    canvases = open_and_check(browser, page, tmp_path / "preview.png")
    assert len(canvases) >= 1
    # The slider is embedded: its states work without a server.
    n_sliders = browser.execute_script("""
        function find(root) {
          let found = Array.from(root.querySelectorAll('.noUi-target, input[type=range]'));
          for (const el of root.querySelectorAll('*')) {
            if (el.shadowRoot) { found = found.concat(find(el.shadowRoot)); }
          }
          return found;
        }
        return find(document).length;""")
    assert n_sliders >= 1


def test_saved_fiber_axes_view_draws_in_3d(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    from xarray_microct.synthetic import fiber_bed

    _, truth = fiber_bed((16, 64, 64), seed=3, chunks=32)
    page = save_view(plot.view3d(truth.centres), tmp_path / "fibers.html")
    browser.get_log("browser")
    browser.get(page.resolve().as_uri())
    plotted = (
        "const g = document.querySelector('.js-plotly-plot');"
        "return g && g._fullData ? g._fullData[0].x.length : 0;"
    )
    WebDriverWait(browser, 60).until(lambda d: d.execute_script(plotted) > 0)
    fibers = truth.centres.fiber_id.nunique()
    assert browser.execute_script(plotted) == len(truth.centres) + fibers - 1  # NaN between
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
    webgl = browser.execute_script(
        "const c = document.querySelector('.js-plotly-plot .gl-container canvas');"
        "return c ? [c.width, c.height, !!(c.getContext('webgl') || c.getContext('webgl2'))]"
        " : null;"
    )
    assert webgl is not None and webgl[0] > 0 and webgl[1] > 0 and webgl[2]
    assert "WebGL is not supported" not in browser.execute_script(
        "return document.body.innerText"
    )
    browser.save_screenshot(str(tmp_path / "fibers.png"))
