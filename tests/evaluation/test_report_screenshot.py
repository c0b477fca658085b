"""The report read at 1280 px in a headless browser: the headline table fits and nothing overflows.

Runs where a Chromium is installed (playwright's browser cache, or a ``chromium``/``google-chrome`` on the
PATH) and skips with the reason otherwise; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from micon.evaluation.glossary import METHOD_LABELS
from micon.evaluation.report_content import ReportConfig, build_report
from tests.evaluation.test_report_content import _inputs

WIDTH = 1280
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HEADLINE = ("NR_top1", "NSB_top1", "NSS_top1", "NSL_top1", "NSS_map", "NSS_map_above_chance", "MoA_NSS_top1")
# Written into the page's <body> by a script, so even a bare `chromium --dump-dom` reports the layout.
PROBE = """<script>
window.addEventListener("load", () => {
  const table = document.querySelector("#headline table");
  const page = document.documentElement;
  document.body.dataset.tableRight = Math.ceil(table.getBoundingClientRect().right);
  document.body.dataset.pageWidth = page.scrollWidth;
  document.body.dataset.viewport = page.clientWidth;
});
</script></body>"""


def _playwright_chromium() -> bool:
    """Whether playwright is importable and its browser cache holds a Chromium."""
    cache = Path.home() / ".cache" / "ms-playwright"
    return importlib.util.find_spec("playwright") is not None and any(cache.glob("chromium*"))


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _report(tmp_path: Path) -> Path:
    """A report whose headline holds every registered method and seven metrics with intervals."""
    inputs = _inputs()
    rows = []
    for i, method in enumerate(METHOD_LABELS):
        row = {"method": method, "chain": "default", "n_seeds": 3}
        for j, metric in enumerate(HEADLINE):
            value = 0.05 * ((i + j) % 10) - 0.1
            row |= {metric: value, f"{metric}_ci_low": value - 0.123, f"{metric}_ci_high": value + 0.123}
        rows.append(row)
    inputs = type(inputs)(**{**inputs.__dict__, "comparison": pd.DataFrame(rows)})
    config = ReportConfig(
        headline_metrics=HEADLINE, montage_crops_per_compound=2, montage_max_compounds=3, seed=0
    )
    page = build_report(
        inputs, config, chain="default", references=["known_truth"], floors=["untrained", "intensity"]
    )
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", PROBE, 1))
    return path


def _layout_with_playwright(report: Path, screenshot: Path) -> dict[str, int]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch()
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.goto(report.as_uri())
        page.screenshot(path=str(screenshot), full_page=False)
        layout = page.evaluate("() => ({...document.body.dataset})")
        browser.close()
    return {key: int(value) for key, value in layout.items()}


def _layout_with_cli(browser: str, report: Path, screenshot: Path) -> dict[str, int]:
    common = [browser, "--headless", "--disable-gpu", "--no-sandbox", f"--window-size={WIDTH},900"]
    subprocess.run([*common, f"--screenshot={screenshot}", report.as_uri()], check=True, timeout=120)
    dom = subprocess.run(
        [*common, "--virtual-time-budget=5000", "--dump-dom", report.as_uri()],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    body = dom[dom.index("<body") : dom.index(">", dom.index("<body"))]
    keys = {"tableRight": "data-table-right", "pageWidth": "data-page-width", "viewport": "data-viewport"}
    return {key: int(body.split(f'{attribute}="')[1].split('"')[0]) for key, attribute in keys.items()}


def test_report_headline_table_fits_1280_px_in_a_headless_browser(tmp_path):
    browser = _browser()
    if not _playwright_chromium() and browser is None:
        pytest.skip(
            "no headless Chromium: playwright's browser cache (~/.cache/ms-playwright) holds none and "
            f"none of {', '.join(BROWSERS)} is on the PATH (nothing is downloaded by the tests)"
        )
    report, screenshot = _report(tmp_path), tmp_path / "report.png"
    if _playwright_chromium():
        layout = _layout_with_playwright(report, screenshot)
    else:
        layout = _layout_with_cli(browser, report, screenshot)
    assert screenshot.stat().st_size > 0
    assert layout["tableRight"] <= layout["viewport"], layout  # the headline table fits, no scrolling
    assert layout["pageWidth"] <= layout["viewport"], layout  # nothing (images, tables) overflows the page
