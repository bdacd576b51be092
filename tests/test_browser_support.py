"""Headless Chromium for the browser tests and bench/report_bench.py (this module holds no tests).

Debian's chromium and chromium-driver (``apt-get install chromium chromium-driver``) are used
as installed: the driver path is given explicitly and SE_OFFLINE is set, so Selenium Manager
never downloads anything. Each browser gets a new, empty profile directory and flags that
stop every background connection (updates, sync, QUIC probes), so a test's only network is
none at all: the report is opened from a file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "chromium and chromium-driver (apt-get install chromium chromium-driver)"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900")

# Selenium Manager must never fetch a driver, even if a path below were wrong
os.environ.setdefault("SE_OFFLINE", "true")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, naming what is missing; None when they can."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if absent:
        return f"{' and '.join(absent)} not found: install {INSTALL_HINT}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install selenium)"
    return None


@contextmanager
def chromium(profile_dir: Path) -> Iterator[Any]:
    """A WebDriver for a fresh headless Chromium whose console log can be read."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    shutil.rmtree(profile_dir, ignore_errors=True)
    profile_dir.mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an alert left open is how a test sees that one fired
    options.set_capability("unhandledPromptBehavior", "ignore")
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until_ready(driver: Any, timeout: float = 30.0) -> str:
    """Wait for report.js to finish its first render; returns "true", or "error" if it failed."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.02).until(
        lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')"))
    return str(driver.execute_script("return document.documentElement.getAttribute('data-ready')"))
