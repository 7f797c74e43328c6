"""Screenshots of the MLflow UI after ``make demo``: the retrain's parent run, the comparison
of its model runs, the registered model with its versions, and a version's signature
(issue 32: MLflow as its users see it). Written to ``docs/images/mlflow_*.png``.

Usage (from the project root, after ``make demo``; needs Debian's ``chromium`` and
``chromium-driver`` and ``pip install selenium``):
    .venv/bin/python docs/mlflow_screenshots.py [--tracking-uri sqlite:///mlruns/mlflow.db]

Starts ``mlflow ui`` on a free port for the store, opens each page in headless Chromium
at 1600 × 1000, waits for the page's own text to render, saves it and stops the server.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import requests

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SCROLL_TO = {"mlflow_schema": ("Schema", "Inputs (")}
"""Screenshot name -> (the heading it is scrolled to, the start of a row there to expand):
the version page's signature with its inputs listed."""


def _pages(tracking_uri: str, model_name: str) -> dict[str, str]:
    """Screenshot name -> UI route of the latest registered run."""
    client = mlflow.MlflowClient(tracking_uri)
    registration = json.loads((ROOT / "reports" / "registration.json").read_text())
    parent = client.get_run(registration["parent_run_id"])
    experiment = parent.info.experiment_id
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    runs = json.dumps([r.info.run_id for r in children]).replace(" ", "")
    version = registration["version"]
    return {
        "mlflow_run": f"#/experiments/{experiment}/runs/{registration['model_run_id']}",
        "mlflow_compare": f"#/compare-runs?runs={runs}&experiments=[\"{experiment}\"]",
        "mlflow_registry": f"#/models/{model_name}",
        "mlflow_version": f"#/models/{model_name}/versions/{version}",
        "mlflow_schema": f"#/models/{model_name}/versions/{version}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    parser.add_argument("--model-name", default="anomflow-detector")
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.common.by import By

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "ui", "--backend-store-uri", args.tracking_uri, "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = None
    try:
        base = f"http://127.0.0.1:{port}/"
        for _ in range(120):
            try:
                if requests.get(base + "health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
        OUT.mkdir(parents=True, exist_ok=True)
        for name, route in _pages(args.tracking_uri, args.model_name).items():
            driver.get(base + route)
            time.sleep(6)  # the UI renders after its API calls return
            if name in SCROLL_TO:
                heading, row = SCROLL_TO[name]
                driver.find_element(By.XPATH, f"//*[starts-with(normalize-space(text()), '{row}')]").click()
                time.sleep(1)
                element = driver.find_element(By.XPATH, f"//*[normalize-space(text())='{heading}']")
                driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
                time.sleep(1)
            driver.save_screenshot(str(OUT / f"{name}.png"))
            print(f"{name}: {OUT / f'{name}.png'}")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
