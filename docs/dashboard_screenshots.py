"""Screenshots of the operator dashboard for the README and docs/live.md, in headless
Chromium: the demo plant's test days replayed into a fresh SQLite store and scored by
`anomflow watch --once` with the project's champion (run `make demo` first).

Usage (from the project root): .venv/bin/python docs/dashboard_screenshots.py
Writes docs/images/dashboard_{fleet,asset,alerts}.png.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from tests.dashboard.browser import chromium, dashboard_server  # noqa: E402

OUT = ROOT / "docs" / "images"


def _anomflow(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "components.cli", *args], cwd=ROOT, check=True, capture_output=True, text=True)


def _view(driver, name: str, wait_for: str, seconds: float = 60.0) -> None:
    driver.find_element(By.XPATH, f"//label[.//p[text()='{name}']]").click()
    deadline = time.monotonic() + seconds
    while not driver.find_elements(By.CSS_SELECTOR, wait_for):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {name} view did not render {wait_for}")
        time.sleep(0.5)
    time.sleep(3)  # charts finish drawing


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/live.db"
        _anomflow("db", "init", "--store", store)
        _anomflow("replay", *map(str, sorted((ROOT / "data" / "demo").glob("pump-*__*.csv"))), "--into", store, "--since", "test-split")
        _anomflow("watch", "--store", store, "--once")
        config = yaml.safe_load((ROOT / "conf" / "pipeline.yaml").read_text())
        config["dashboard"] = {**config.get("dashboard", {}), "hours": 168}  # the asset view shows the whole test week
        (Path(tmp) / "pipeline.yaml").write_text(yaml.safe_dump(config))
        OUT.mkdir(parents=True, exist_ok=True)
        with dashboard_server(store, config=str(Path(tmp) / "pipeline.yaml")) as base, chromium(1500, 1900) as driver:
            driver.get(base)
            deadline = time.monotonic() + 60
            while not driver.find_elements(By.CSS_SELECTOR, "div.af-tile"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the fleet view did not render")
                time.sleep(0.5)
            time.sleep(3)
            driver.save_screenshot(str(OUT / "dashboard_fleet.png"))
            _view(driver, "Asset", ".js-plotly-plot")
            driver.save_screenshot(str(OUT / "dashboard_asset.png"))
            _view(driver, "Alerts", 'input[aria-label="your name"]')
            driver.save_screenshot(str(OUT / "dashboard_alerts.png"))
    for name in ("fleet", "asset", "alerts"):
        print(OUT / f"dashboard_{name}.png")


if __name__ == "__main__":
    main()
