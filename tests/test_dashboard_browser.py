"""The dashboard in headless Chromium (Debian's /usr/bin/chromium through Playwright) against a
running demo: the page loads, its live numbers change, and the order form produces a decision.
A screenshot is written to test-artifacts/dashboard.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_support import DemoRun, demo_run

__all__ = ["demo_run"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LIVE = (
    "() => [...document.querySelectorAll('#readers .reads-now, .kpi-value')]"
    ".map(e => e.textContent).join('|')"
)


@pytest.mark.browser
def test_dashboard_is_live_and_places_an_order(demo_run: DemoRun) -> None:
    from playwright.sync_api import sync_playwright

    run = demo_run
    assert run.base, f"the demo did not start:\n{run.output()}"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{run.base}/#key={run.key}")
            assert page.title().startswith("shelfsight")
            # live: reader rows with numbers, then the numbers change between polls
            page.wait_for_selector("#readers tbody tr[data-reader]", timeout=30_000)
            first = page.evaluate(LIVE)
            page.wait_for_function(f"(first) => ({LIVE})() !== first", arg=first, timeout=30_000)
            assert page.locator("#readers tbody tr[data-reader]").count() == 7
            page.wait_for_selector("#stock .shop[data-shop='shop-soho'] table", timeout=30_000)
            # shops by name (config/stores-demo.csv), whichever of stock and summary came first
            page.wait_for_function(
                "() => document.querySelector(\"#stock .shop[data-shop='shop-soho'] h3\")"
                ".innerText.includes('Soho (Carnaby St)')", timeout=30_000)
            # the order form: a product with stock is preselected; allocate and reserve
            page.wait_for_function("() => document.querySelector('#order-gtin').options.length > 0",
                                   timeout=30_000)
            page.click("#order-submit")
            page.wait_for_selector("#order-decision, #order-error", timeout=30_000)
            result = page.locator("#order-result").inner_text()
            assert page.locator("#order-decision").count() == 1, result
            assert "Reserved" in result and "cost" in result
            page.wait_for_selector("#decisions li.decision", timeout=30_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
