"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's sync API; no browser download. The
helpers the browser tests share (admin login, connecting nodes) are in devtools/testing/browser.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.testing.browser import SCREENSHOTS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists() or shutil.which("dot") is None:
        pytest.skip("needs Debian's chromium and graphviz: run scripts/bootstrap")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an asyncio loop registered on this thread; Django would take every ORM
    # call of the test (and of live_server setup) for one made from async code. They are sync: allow them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, element: str | None = None, full_page: bool = True) -> Path:
        target = SCREENSHOTS / f"{name}.png"
        if element:
            page.locator(element).first.screenshot(path=str(target))
        else:
            page.screenshot(path=str(target), full_page=full_page)
        return target

    return take
