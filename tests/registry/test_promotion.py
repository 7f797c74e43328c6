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


def test_a_champion_whose_files_are_gone_is_replaced_and_any_other_failure_stops(tmp_path, monkeypatch):
    import pandas as pd
    import pytest
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE

    from components.registry import promotion

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    client.create_registered_model("plant")
    for _ in range(3):
        client.create_model_version("plant", source=str(tmp_path / "gone"))
    client.set_registered_model_alias("plant", "champion", "1")
    frame = pd.DataFrame({"current": [1.0, 2.0, 3.0, 4.0], "label": [0, 0, 1, 1]})

    def served(model_uri, *_args, **_kwargs):
        if model_uri == "models:/plant/1":  # the champion, as the gate resolved it
            raise MlflowException("No such artifact: ''", error_code=RESOURCE_DOES_NOT_EXIST)  # as MLflow raises it
        return 0.5

    monkeypatch.setattr(promotion, "served_metric", served)
    decision = promotion.decide_and_alias("plant", "2", frame, "vus_pr", uri)
    assert (decision.alias, decision.champion_version, decision.champion_value) == ("champion", "1", None)
    assert decision.reason == "champion v1 cannot be loaded (its files are missing): replaced"
    assert str(client.get_model_version_by_alias("plant", "champion").version) == "2"

    def unreachable(model_uri, *_args, **_kwargs):
        if model_uri == "models:/plant/2":
            raise MlflowException("store unreachable", error_code=TEMPORARILY_UNAVAILABLE)
        return 0.9

    monkeypatch.setattr(promotion, "served_metric", unreachable)
    with pytest.raises(MlflowException, match="store unreachable"):
        promotion.decide_and_alias("plant", "3", frame, "vus_pr", uri)
    assert str(client.get_model_version_by_alias("plant", "champion").version) == "2"
