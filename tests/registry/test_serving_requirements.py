"""Every logged pyfunc model declares what it needs to load: the distributions its code
really imports, pinned to the installed versions, and nothing that is on no index."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import requests
from packaging.requirements import Requirement

from components.registry.serving_requirements import SERVING_DISTRIBUTIONS, pinned_requirements
from components.registry.tracking import RUN_FILE, RunIds, using_tracking_uri
from components.config import load_config

# Loads and scores the given models in a fresh interpreter, then lists the distributions
# that the anomflow modules they imported name in their own import statements: those
# whose module serving imported, and those named anywhere (an import inside a function
# counts too, e.g. the detectors' lazy Lightning import to fit). Its last line: whether
# Lightning was imported at all.
IMPORT_CLOSURE = """
import ast, json, sys
from importlib import metadata
import mlflow, pandas as pd
example = json.load(open(sys.argv[1]))["dataframe_split"]
for model_dir in sys.argv[2:]:
    model = mlflow.pyfunc.load_model(model_dir)
    model.predict(pd.DataFrame(example["data"], columns=example["columns"]))
owners = metadata.packages_distributions()
imported, named = set(), set()
for name, module in list(sys.modules.items()):
    if name.split(".")[0] != "components" or not getattr(module, "__file__", None):
        continue
    for node in ast.walk(ast.parse(open(module.__file__).read())):
        if isinstance(node, ast.Import):
            tops = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            tops = [node.module.split(".")[0]]
        else:
            continue
        named.update(d for top in tops for d in owners.get(top, []))
        imported.update(d for top in tops if top in sys.modules for d in owners.get(top, []))
print(json.dumps(sorted(imported)))
print(json.dumps(sorted(named)))
print(json.dumps(sorted(m for m in ("pytorch_lightning", "lightning") if m in sys.modules)))
"""


def _canonical(name: str) -> str:
    return Requirement(name).name.lower().replace("_", "-")


def _champion_requirements(tracking_uri: str) -> list[str]:
    with using_tracking_uri(tracking_uri):
        path = mlflow.artifacts.download_artifacts("models:/anomflow-detector@champion/requirements.txt")
    return Path(path).read_text().split()


def test_logged_requirements_are_the_pinned_serving_distributions(trained_project):
    logged = _champion_requirements(trained_project["tracking_uri"])
    assert logged == pinned_requirements()
    assert not any(_canonical(r) == "anomflow" for r in logged)
    torch = next(r for r in logged if r.startswith("torch=="))
    assert "+" not in torch  # no local label: installable from PyPI


def test_serving_distributions_are_the_import_closure_of_the_logged_models(trained_project, tmp_path):
    """The served student and the teachers logged beside it, loaded and scoring: every
    distribution their code imports is declared, and none of them imports Lightning."""
    root = trained_project["root"]
    uris = ["models:/anomflow-detector@champion"] + [
        f"runs:/{RunIds.load(root / 'models' / teacher / RUN_FILE).child}/{teacher}" for teacher in load_config(root / "conf" / "pipeline.yaml").learns_from("student")
    ]
    with using_tracking_uri(trained_project["tracking_uri"]):
        model_dirs = [
            mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / str(i))) for i, uri in enumerate(uris)
        ]
    example = root / "reports" / "request_example.json"
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_CLOSURE, str(example), *model_dirs],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    mlflow_parts = {"mlflow-skinny", "mlflow-tracing"}  # installed with mlflow, and import as mlflow
    imported, named = ({_canonical(d) for d in json.loads(line)} - mlflow_parts - {"anomflow"} for line in lines[-3:-1])
    declared = {_canonical(d) for d in SERVING_DISTRIBUTIONS}
    assert imported <= declared, imported - declared  # every distribution serving imports is declared
    assert declared <= named, declared - named  # and nothing its code does not name
    assert json.loads(lines[-1]) == [] and "pytorch-lightning" not in declared  # serving imports no Lightning


@pytest.mark.slow
def test_an_environment_built_from_the_logged_requirements_alone_serves_the_champion(trained_project, tmp_path):
    """A fresh virtual environment with nothing but the champion's requirements.txt (no
    anomflow, no Prefect, no Great Expectations) serves it from an empty directory."""
    with using_tracking_uri(trained_project["tracking_uri"]):
        model_dir = Path(mlflow.artifacts.download_artifacts("models:/anomflow-detector@champion", dst_path=str(tmp_path / "model")))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(model_dir / "requirements.txt")],
        capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "MLFLOW_"))}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=empty, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.5)
            body = (model_dir / "serving_input_example.json").read_text()
            answer = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert answer.status_code == 200, (tmp_path / "serve.log").read_text()[-3000:]
    rows = answer.json()["predictions"]
    assert any(row["score"] is not None and row["level"] in ("normal", "warning", "critical") for row in rows)
