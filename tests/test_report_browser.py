"""The HTML report in a real browser: headless Chromium (Debian's) driven by Playwright.

Skips only when Chromium or Playwright is absent; `.ci/run` installs both and
sets RANKIQA_REQUIRE_BROWSER=1, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rankiqa.html_report import report
from test_report import make_burst

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _need_browser():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install playwright)"
        sync_playwright = None
    if missing is None and not Path(CHROMIUM).is_file():
        missing = "Debian's chromium is not installed (apt-get install chromium)"
    if missing:
        if os.environ.get("RANKIQA_REQUIRE_BROWSER"):
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _need_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser_burst")
    make_burst(d)
    return report(sorted(str(p) for p in d.iterdir()), d / "report.html", "default")


def test_report_in_chromium(browser, built):
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    url = built.path.resolve().as_uri()
    page.goto(url, wait_until="load")

    assert problems == []
    assert all(u == url or u.startswith("data:") for u in requests), requests
    # Every thumbnail decoded.
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert page.evaluate("document.images.length") == 5
    # Best first, on screen as in the DOM: reading order of the cards = rank order = falling score.
    cards = page.query_selector_all(".card")
    scores = [float(c.get_attribute("data-score")) for c in cards]
    assert scores == sorted(scores, reverse=True)
    boxes = [c.bounding_box() for c in cards]
    reading = sorted(range(len(boxes)), key=lambda i: (round(boxes[i]["y"]), boxes[i]["x"]))
    assert reading == list(range(len(cards)))
    assert [int(c.get_attribute("data-rank")) for c in cards] == [1, 2, 3, 4, 5]
    assert "sharp.png" in cards[0].inner_text()
    failed = page.inner_text("#failed")
    assert "broken.jpg" in failed and "Failed (1)" in failed
    assert page.query_selector("svg.hist") is not None


def test_click_opens_full_size_and_map(browser, built):
    page = browser.new_page()
    page.goto(built.path.resolve().as_uri(), wait_until="load")
    with page.expect_popup() as pop:
        page.click(".card:first-child .thumb a")
    full = pop.value
    full.wait_for_load_state()
    assert full.url.endswith("/sharp.png")
    assert full.evaluate("document.images[0].naturalWidth") == 256
    with page.expect_popup() as pop:
        page.click(".card:first-child a.map")
    heat = pop.value
    heat.wait_for_load_state()
    assert "report_maps/" in heat.url
    assert heat.evaluate("document.images[0].naturalWidth") > 256
