"""Shared fixtures: the real datasets beside the project, a Prefect test server, and a
tiny anomflow project (demo plant + tiny config) trained once per session by the real
`retrain` flow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tiny_project import make_tiny_project

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS} (they live beside the project, not in it)")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def prefect_server() -> str:
    """One Prefect server for the whole session (it takes 15-30 s to start), in a child
    process; yields its API URL, which other processes (a worker, the CLI) can use too."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory, prefect_server) -> dict:
    """A tiny project after one real `retrain` flow run: its root and the flow's result."""
    from flows.retrain import retrain

    root = make_tiny_project(tmp_path_factory.mktemp("tiny"))
    previous = Path.cwd()
    os.chdir(root)
    try:
        result = retrain(config_path="conf/pipeline.yaml")
    finally:
        os.chdir(previous)
    return {"root": root, "result": result, "tracking_uri": f"sqlite:///{root}/mlruns/mlflow.db"}
