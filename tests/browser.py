"""Playwright driving Debian's Chromium (Playwright's own browser download is not used; see STACK-NOTES)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


# Every test module that imports the `browser` fixture gets its own copy of it, but Playwright's sync API can only
# run once per thread: the copies share one Chromium, closed when the last of them is torn down.
_shared: dict = {"users": 0}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: `.ci/run` installs Debian's chromium package for browser tests")
    from playwright.sync_api import sync_playwright

    if not _shared["users"]:
        _shared["playwright"] = sync_playwright().start()
        _shared["chromium"] = _shared["playwright"].chromium.launch(executable_path=CHROMIUM, args=ARGS)
    _shared["users"] += 1
    try:
        yield _shared["chromium"]
    finally:
        _shared["users"] -= 1
        if not _shared["users"]:
            _shared["chromium"].close()
            _shared["playwright"].stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Keep a screenshot as a test artifact (test-artifacts/, not committed) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, base: str, next_path: str, who: str = "Lori") -> None:
    """Sign in at the sandbox's sign-in page as the first person whose button matches ``who``, on to ``next_path``."""
    page.goto(f"{base}/auth/login?next={next_path}")
    page.get_by_role("button", name=re.compile(who)).first.click()
