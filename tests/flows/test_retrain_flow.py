"""The real `retrain` flow under Prefect on a tiny config ends with a registered model."""

import json
from pathlib import Path

import mlflow
import pytest
import yaml
from prefect.client.orchestration import get_client

from components.config import PipelineConfig, load_config
from components.registry.tracking import using_tracking_uri


def test_retrain_registers_a_champion(trained_project):
    root, result = trained_project["root"], trained_project["result"]
    registration = result["registration"]
    assert registration["model_name"] == "anomflow-detector"
    assert registration["alias"] == "champion" and registration["version"] == "1"
    client = mlflow.MlflowClient(trained_project["tracking_uri"])
    version = client.get_model_version_by_alias("anomflow-detector", "champion")
    assert version.tags["promotion.metric"] == "vus_pr" and version.tags["promotion.reason"] == "no champion yet"
    assert float(version.tags["promotion.candidate_value"]) == pytest.approx(registration["candidate_value"], rel=1e-5)
    registered = client.get_registered_model("anomflow-detector")
    assert "student" in registered.description and registered.tags["anomflow.promotion_metric"] == "vus_pr"
    assert str(version.version) == "1"
    window = json.loads((root / "models" / "student" / "model.json").read_text())["window"]
    assert version.tags["anomflow.window"] == str(window) and version.tags["anomflow.interval_s"] == "60"
    with using_tracking_uri(trained_project["tracking_uri"]):  # the inputs MLflow checks by name, the outputs the model answers
        signature = mlflow.models.get_model_info(f"models:/anomflow-detector/{version.version}").signature
    sensors = version.tags["anomflow.sensors"].split(",")
    assert signature.inputs.input_names() == ["timestamp", "asset", *sensors]
    assert signature.inputs.optional_input_names() == ["asset"]
    assert signature.outputs.input_names() == ["timestamp", "asset", "score", "level", "alarm", "top_sensors", "missing_sensors"]
    assert f"send each new reading with the {window - 1} before it" in version.description

    parent = client.get_run(registration["parent_run_id"])
    child = client.get_run(registration["model_run_id"])
    models = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(models) == 9 and {r.info.status for r in [parent, *models]} == {"FINISHED"}  # the baselines' runs too
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    for run in (parent, child):  # the splits as MLflow datasets, with digests and their files as sources
        inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
        assert set(inputs) == {"train split", "val split", "test split"}
        assert {t.value for d in inputs.values() for t in d.tags if t.key == "mlflow.data.context"} == {"training", "validation", "testing"}
        assert all(d.dataset.digest and "prepared" in d.dataset.source for d in inputs.values())
    for run in models:  # one parameter naming scheme: every network logs its seed, patience and learning_rate
        if run.data.tags["anomflow.model"] in ("student", "lstm_ae", "anomaly_transformer", "omnianomaly"):
            assert {"seed", "patience", "learning_rate"} <= set(run.data.params) and "lr" not in run.data.params, run.data.tags["anomflow.model"]
    for tag in ("anomflow.dataset_digest", "anomflow.dvc_data_hash", "mlflow.source.git.commit"):
        assert tag in parent.data.tags
    # the config the run ran, defaults filled in, and its pipeline-level settings as params to compare runs by
    logged = yaml.safe_load(Path(client.download_artifacts(parent.info.run_id, "config/pipeline.yaml")).read_text())
    assert PipelineConfig.model_validate(logged) == load_config(root / "conf" / "pipeline.yaml")
    assert parent.data.params["threshold.method"] == logged["threshold"]["method"]
    assert parent.data.params["models"] == ",".join(logged["models"]) == "student,lstm_ae,anomaly_transformer,omnianomaly,pca,iforest,kmeans_ad,copod,ecod"
    assert parent.data.params["seed"] == str(logged["seed"]) == "7"
    prepared = json.loads((root / "artifacts" / "prepared" / "summary.json").read_text())
    assert prepared["window"] == load_config(root / "conf" / "pipeline.yaml").longest_window() == 32  # the teachers' fast profile
    assert parent.data.params["validate.sensors"] == ",".join(logged["validate"]["sensors"])
    history = client.get_metric_history(child.info.run_id, "val_loss")
    assert len(history) >= 1 and [m.step for m in history] == list(range(len(history)))  # one point per epoch, at its epoch
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id, "evaluation")}
    assert {"evaluation/score_timeline.png", "evaluation/loss_curves_student.png", "evaluation/contributions.png"} <= artifacts
    for run in models:  # every model's run holds its own score timeline
        assert "evaluation/score_timeline.png" in {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}, run.data.tags["anomflow.model"]
    for name in ("train", "val"):  # every loss component per epoch
        for part in ("reconstruction", "forecast", "classification", "loss"):
            assert client.get_metric_history(child.info.run_id, f"{name}_{part}"), (name, part)
    parent_artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "evaluation")}
    assert {"evaluation/metrics.json", "evaluation/leaderboard.csv", "evaluation/leaderboard.png", "evaluation/leaderboard_table.json"} <= parent_artifacts
    assert not parent.data.metrics  # the leaderboard is a table there, not 9 × 30 copies of the children's metrics
    table = json.loads(Path(client.download_artifacts(parent.info.run_id, "evaluation/leaderboard_table.json")).read_text())
    assert table["columns"][0] == "model" and [row[0] for row in table["data"]][0] == "student"

    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert list(metrics) == ["student", "lstm_ae", "anomaly_transformer", "omnianomaly", "pca", "iforest", "kmeans_ad", "copod", "ecod"]
    for kind, values in metrics.items():
        assert values["labels"] == "labelled"
        for key in (
            "precision", "recall", "f1", "f2", "roc_auc", "pr_auc", "vus_pr", "events", "rows_per_s", "train_s",
            "alarm_events_found", "alarm_false_events_per_asset_day", "raise_after", "clear_after",
        ):
            assert values[key] is not None, (kind, key)
        run = client.get_run(values["run_id"])
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id  # one parent for all models
        assert "test_vus_pr" in run.data.metrics and "timing_train_s" in run.data.metrics and "test_train_s" not in run.data.metrics
        assert not (root / "models" / kind / "thresholds.json").exists()
        thresholds = json.loads((root / "thresholds" / f"{kind}.json").read_text())
        assert thresholds["critical"] >= thresholds["warning"]
    assert metrics["lstm_ae"]["roc_auc"] > 0.6, metrics  # the demo faults are visible to the AE
    assert metrics["student"]["roc_auc"] > 0.6, metrics
    leaderboard = (root / "reports" / "leaderboard.csv").read_text().splitlines()
    assert len(leaderboard) == 10 and leaderboard[0].startswith("model,vus_pr")
    assert registration["metric"] == "vus_pr"
    assert (root / "reports" / "validation" / "data_docs" / "index.html").exists()


def test_every_model_run_logs_its_alarm_levels_as_evaluation_thresholds_json(trained_project):
    client = mlflow.MlflowClient(trained_project["tracking_uri"])
    for kind, values in trained_project["result"]["metrics"].items():
        artifacts = {a.path for a in client.list_artifacts(values["run_id"], "evaluation")}
        assert "evaluation/thresholds.json" in artifacts, (kind, artifacts)
        logged = json.loads(Path(client.download_artifacts(values["run_id"], "evaluation/thresholds.json")).read_text())
        assert logged == json.loads((trained_project["root"] / "thresholds" / f"{kind}.json").read_text())


def test_a_retrain_that_stops_marks_its_mlflow_run_failed(tmp_path, monkeypatch, prefect_server):
    """Not RUNNING in the MLflow UI for ever."""
    from flows.retrain import retrain

    (tmp_path / "conf").mkdir()
    (tmp_path / "mlruns").mkdir()
    store = f"sqlite:///{tmp_path}/mlruns/mlflow.db"  # absolute: MLflow keeps one SQLite engine per URI per process
    config = {"ingest": {"sources": [{"kind": "csv", "glob": "exports/*.csv"}]}, "mlflow": {"tracking_uri": store}}
    (tmp_path / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no file matches source glob"):
        retrain(config_path="conf/pipeline.yaml")
    runs = mlflow.MlflowClient(store).search_runs(["1"])
    assert [(r.info.run_name.split("-")[0], r.info.status) for r in runs] == [("retrain", "FAILED")]


def test_only_the_student_is_registered_and_teachers_are_logged_as_models(trained_project):
    client = mlflow.MlflowClient(trained_project["tracking_uri"])
    registration = trained_project["result"]["registration"]
    assert client.get_run(registration["model_run_id"]).data.tags["anomflow.model"] == "student"
    assert [m.name for m in client.search_registered_models()] == ["anomflow-detector"]
    metrics = trained_project["result"]["metrics"]
    for kind in ("anomaly_transformer", "omnianomaly", "student"):  # each logged model named after its kind
        logged = client.search_logged_models(experiment_ids=[client.get_run(metrics[kind]["run_id"]).info.experiment_id])
        assert [m.name for m in logged if m.source_run_id == metrics[kind]["run_id"]] == [kind], kind


def test_flow_run_and_artifacts_are_recorded_by_prefect(trained_project):
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        assert any(r.name and r.state and r.state.is_completed() for r in runs)
        artifacts = client.read_artifacts()
    keys = {a.key for a in artifacts}
    assert {"validation-summary", "leaderboard", "mlflow-run"} <= keys


def test_the_flow_run_logs_every_stage_and_epoch_and_never_goes_quiet(trained_project):
    """What the terminal and the Prefect UI show of the run: each stage's start and its
    duration, every network's epochs with their losses (forwarded from the training
    child processes by their tasks), and no silence longer than 10 s."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # the run's last lines may still be queued for the API
    parent = mlflow.MlflowClient(trained_project["tracking_uri"]).get_run(trained_project["result"]["registration"]["parent_run_id"])
    flow_run_id = parent.data.tags["prefect.flow_run_id"]
    logs = []
    with get_client(sync_client=True) as client:
        while page := client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200, offset=len(logs),
                                       sort=LogSort.TIMESTAMP_ASC):
            logs += page
    messages = [log.message for log in logs]
    for stage in ("ingest", "validate", "prepare", "train", "threshold", "evaluate", "register"):
        assert f"{stage} started" in messages and any(m.startswith(f"{stage} done in ") for m in messages), stage
    for kind in ("anomaly_transformer", "omnianomaly", "lstm_ae", "student"):
        epochs = [m for m in messages if m.startswith(f"{kind} epoch ")]
        assert epochs and all("val_loss" in m for m in epochs if "batch" not in m), kind
        assert any(m.startswith(f"trained {kind}: ") for m in messages), kind
    assert any(m.startswith("threshold student: warning ") for m in messages)
    assert any(m.startswith("evaluated student: VUS-PR ") for m in messages)
    assert any(m.startswith("anomflow-detector version 1: @champion") for m in messages)
    stamps = [log.timestamp.timestamp() for log in logs]
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    assert max(gaps) <= 10.0, f"quiet for {max(gaps):.1f} s after: {messages[gaps.index(max(gaps))]!r}"
