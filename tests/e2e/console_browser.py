"""Headless Chromium for the console test: Debian's ``chromium`` driven by Playwright (no downloaded browser).

Starting it must not be skipped quietly: a machine without the browser fails the test and says how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, sync_playwright

CHROMIUM = Path(os.environ.get("ARCHITECT_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO_INSTALL = "install Debian's chromium (`make test` does it as root: apt-get install -y chromium chromium-driver)"


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium; fails the test (never skips it) when the browser cannot be started."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: {HOW_TO_INSTALL}", pytrace=False)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        except Error as exc:
            pytest.fail(f"could not start {CHROMIUM}: {exc}", pytrace=False)
        try:
            yield browser
        finally:
            browser.close()


def artifact_dir() -> Path:
    """Where screenshots go: ``ARCHITECT_TEST_ARTIFACTS`` or ``test-artifacts/`` (ignored by git)."""
    root = Path(os.environ.get("ARCHITECT_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
    directory = root / "console"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
