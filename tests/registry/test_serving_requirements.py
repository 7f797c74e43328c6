"""Every logged pyfunc model declares what it needs to load: the distributions its code
really imports, pinned to the installed versions, and nothing that is on no index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
from packaging.requirements import Requirement

from components.registry.serving_requirements import SERVING_DISTRIBUTIONS, pinned_requirements
from components.registry.tracking import RunIds, using_tracking_uri
from components.training.train import RUN_FILE
from tests.tiny_project import tiny_config

# Loads and scores the given models in a fresh interpreter, then lists the distributions
# that the anomflow modules they imported name in their own import statements.
IMPORT_CLOSURE = """
import ast, json, sys
from importlib import metadata
import mlflow, pandas as pd
example = json.load(open(sys.argv[1]))["dataframe_split"]
for model_dir in sys.argv[2:]:
    model = mlflow.pyfunc.load_model(model_dir)
    model.predict(pd.DataFrame(example["data"], columns=example["columns"]))
owners = metadata.packages_distributions()
found = set()
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
        found.update(d for top in tops for d in owners.get(top, []))
print(json.dumps(sorted(found)))
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
    """The served student and the teachers logged beside it (OmniAnomaly's network is built
    by its training module, which imports Lightning and YAML)."""
    root = trained_project["root"]
    uris = ["models:/anomflow-detector@champion"] + [
        f"runs:/{RunIds.load(root / 'models' / teacher / RUN_FILE).child}/model" for teacher in tiny_config()["teachers"]["models"]
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
    imported = {_canonical(d) for d in json.loads(done.stdout.splitlines()[-1])}
    mlflow_parts = {"mlflow-skinny", "mlflow-tracing"}  # installed with mlflow, and import as mlflow
    assert imported - mlflow_parts - {"anomflow"} == {_canonical(d) for d in SERVING_DISTRIBUTIONS}
