"""Pytest plugin: Debian's Chromium driven by Playwright, one browser for the whole session.

Never ``playwright install``: the browser is /usr/bin/chromium (``apt-get install
chromium``; .ci/run does it). Under ``CI=true`` a missing browser or Playwright
fails the test instead of skipping it. One session-wide browser serves every
wing's tests (the browser tests, and the layout comparisons in tests/plan):
Playwright's sync API refuses to start a second instance while one is running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.services import unavailable

CHROMIUM = os.environ.get("PVIDEO_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("Playwright", exc)
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        unavailable("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=ARGS)
        yield browser
        browser.close()
