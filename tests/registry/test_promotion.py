"""The promotion gate: a model that does not beat the champion does not take @champion."""

import os
from pathlib import Path

import mlflow

from components.config import load_config
from components.stages import run_register


def test_model_that_is_not_better_becomes_challenger(trained_project):
    root = trained_project["root"]
    previous = Path.cwd()
    os.chdir(root)
    try:
        cfg = load_config("conf/pipeline.yaml")
        # same weights and data again: equal, so not better
        registration = run_register(cfg)
    finally:
        os.chdir(previous)
    assert registration["alias"] == "challenger"
    assert registration["candidate_value"] == registration["champion_value"]
    client = mlflow.MlflowClient(trained_project["tracking_uri"])
    assert str(client.get_model_version_by_alias("anomflow-detector", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("anomflow-detector", "challenger").version) == registration["version"]
