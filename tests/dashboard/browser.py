"""A real headless browser (Debian's chromium and its driver, `make system-deps`) and the
real `anomflow dashboard` server, for the dashboard's browser test and its screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def dashboard_server(store_url: str, *, config: str | None = None, startup_s: float = 90.0) -> Iterator[str]:
    """`anomflow dashboard` on a free port; yields its base URL once its health check answers."""
    port = free_port()
    command = [sys.executable, "-m", "components.cli", "dashboard", "--store", store_url, "--port", str(port)]
    server = subprocess.Popen([*command, *(["--config", config] if config else [])], cwd=ROOT, env=os.environ.copy(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            try:
                if requests.get(base + "/_stcore/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start: {server.stderr.read()[-1000:] if server.poll() is not None else 'timeout'}")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


@contextmanager
def chromium(width: int = 1500, height: int = 1000) -> Iterator:
    """A headless Chromium driven by Selenium."""
    from selenium import webdriver

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise RuntimeError("Chromium is not installed: run `make system-deps` (Debian packages chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.binary_location = binary
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    try:
        yield driver
    finally:
        driver.quit()
