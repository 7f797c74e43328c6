"""The register stage: log the run tree to MLflow, log the served student as a pyfunc,
register a version of ``anomflow-detector`` and pass it through the promotion gate.
The teachers are logged as pyfunc models in their own runs, for comparison, and are
never registered or served."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from components.checksums import record_checksums
from components.config import PipelineConfig
from components.detectors.registry import SERVED_KIND, load_detector
from components.features.drift import DRIFT_FILE
from components.features.prepare import PreparedData
from components.frames import ASSET, LABEL, SESSION, TIMESTAMP
from components.progress import heartbeat
from components.registry.promotion import decide_and_alias
from components.registry.served_detector import SERVING_FILE, THRESHOLDS_FILE
from components.registry.serving_code import copy_serving_code
from components.registry.serving_requirements import pinned_requirements
from components.registry.tracking import RUN_FILE, RunIds, configure_tracking, lineage_tags, tracking_uri, using_tracking_uri
from components.scoring.evaluate import CONTRIBUTIONS_PLOT, LEADERBOARD_FILE, LEADERBOARD_PLOT, LOSS_CSV, METRICS_FILE, TIMELINE_DIR, evaluation_set
from components.stages import model_dir as model_dir_of
from components.stages import thresholds_path

REGISTRATION_FILE = "registration.json"
MAX_METRICS_PER_BATCH = 1000
"""MLflow's limit of metrics per ``log_batch`` request."""
REQUEST_EXAMPLE_FILE = "request_example.json"
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")


def build_bundle(cfg: PipelineConfig, kind: str, prepared_dir: Path, out: Path) -> Path:
    """Collect a model's served files: the detector's (spec and parameters), the
    scaler, its alarm levels, the serving settings, with drift tracking the tracker
    (``drift.json``) and, for the student with ``register.onnx``, its network exported to
    ONNX (``student.onnx``), every file's checksum recorded."""
    out.mkdir(parents=True, exist_ok=True)
    detector = load_detector(model_dir_of(cfg, kind))
    detector.save(out)
    shutil.copy2(thresholds_path(cfg, kind), out / THRESHOLDS_FILE)
    shutil.copy2(prepared_dir / "scaler.json", out / "scaler.json")
    interval_s, max_gap_s, impute_limit_s = cfg.prepare.times()
    serving = {
        "interval_s": interval_s,
        "interval_tolerance": cfg.validate_.interval_tolerance,
        "max_gap_s": max_gap_s,
        "impute_steps": impute_limit_s // interval_s,
        "top_k_sensors": cfg.register_.top_k_sensors,
    }
    (out / SERVING_FILE).write_text(json.dumps(serving, indent=2))
    served = [THRESHOLDS_FILE, "scaler.json", SERVING_FILE]
    if cfg.register_.onnx and hasattr(detector, "export_onnx"):  # the served network for ONNX Runtime too
        served.append(detector.export_onnx(out).name)
    if (prepared_dir / DRIFT_FILE).exists():  # drift tracking: its limits and each asset's reference
        shutil.copy2(prepared_dir / DRIFT_FILE, out / DRIFT_FILE)
        served.append(DRIFT_FILE)
    record_checksums(out, served)  # beside the detector's: the model verifies all
    return out


def request_example(request: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of one asset as a client sends them (ISO time stamps)."""
    example = request[request["asset"] == request["asset"].iloc[0]].head(rows).copy()
    example["timestamp"] = example["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return example


def _numeric(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None}


NOT_TEST_METRICS = {
    "rows_per_s": "timing_scoring_rows_per_s", "train_s": "timing_train_s", "epochs": "train_epochs",
    "raise_after": "alarm_raise_after", "clear_after": "alarm_clear_after",
}
"""Evaluation numbers that are not measured on the test split, by their MLflow names: timings,
epochs run, and the alarm rule chosen on validation rows."""


def metric_name(key: str) -> str:
    """The MLflow metric name of an evaluation number: ``test_<key>``, or as
    :data:`NOT_TEST_METRICS` names it."""
    return NOT_TEST_METRICS.get(key, f"test_{key}")


def _log_evaluation(client, cfg: PipelineConfig, served: RunIds, all_metrics: dict, tags: dict[str, str]) -> None:
    """Test metrics and plots to each model's run; the leaderboard (a table artifact),
    lineage and validation to the parent, which holds no copies of its children's metrics."""
    from mlflow.entities import Metric, RunTag

    reports = cfg.paths.reports_dir()
    now_ms = int(time.time() * 1000)
    runs = {served.parent: [], **{m["run_id"]: [] for m in all_metrics.values()}}
    for metrics in all_metrics.values():
        for key, value in _numeric(metrics).items():
            runs[metrics["run_id"]].append(Metric(metric_name(key), value, now_ms, 0))
    run_tags = [RunTag(key, value) for key, value in tags.items()]
    for run_id, run_metrics in runs.items():  # one request per run (each one a transaction, or a round trip to a server)
        for start in range(0, max(len(run_metrics), 1), MAX_METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=run_metrics[start : start + MAX_METRICS_PER_BATCH], tags=run_tags if start == 0 else [])
    with tempfile.TemporaryDirectory() as scratch:
        for kind, metrics in all_metrics.items():
            loss_plot = reports / "plots" / f"loss_curves_{kind}.png"
            if loss_plot.exists():
                client.log_artifact(metrics["run_id"], str(loss_plot), artifact_path="evaluation")
            timeline = Path(scratch) / kind / "score_timeline.png"  # the same name in every model's run
            timeline.parent.mkdir()
            shutil.copyfile(reports / "plots" / TIMELINE_DIR / f"{kind}.png", timeline)
            client.log_artifact(metrics["run_id"], str(timeline), artifact_path="evaluation")
            client.log_text(metrics["run_id"], thresholds_path(cfg, kind).read_text(), f"evaluation/{THRESHOLDS_FILE}")
    client.log_artifact(served.child, str(reports / "plots" / CONTRIBUTIONS_PLOT), artifact_path="evaluation")
    for path in (reports / METRICS_FILE, reports / LEADERBOARD_FILE, reports / LOSS_CSV, reports / "plots" / LEADERBOARD_PLOT):
        client.log_artifact(served.parent, str(path), artifact_path="evaluation")
    client.log_table(served.parent, pd.read_csv(reports / LEADERBOARD_FILE), "evaluation/leaderboard_table.json")
    validation_json = reports / "validation" / "validation.json"
    if validation_json.exists():
        client.log_artifact(served.parent, str(validation_json), artifact_path="validation")


def promotion_frame(cfg: PipelineConfig, prepared: PreparedData) -> pd.DataFrame:
    """The test split in original units with the labels the evaluate stage used: its own,
    or (unlabelled data) the same seeded injected anomalies, mapped back to original units."""
    data = evaluation_set(cfg, prepared)
    frame = prepared.splits["test"].copy()
    if data.labels_source == "synthetic":
        frame[list(prepared.scaler.sensors)] = prepared.scaler.inverse_transform(data.scaled)
        frame[LABEL] = data.labels
    return frame


def _log_pyfunc(cfg: PipelineConfig, kind: str, prepared_dir: Path, run_id: str, signature, example: pd.DataFrame, registered_name: str | None):
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_bundle(cfg, kind, prepared_dir, Path(tmp) / "bundle")
        return log_served_bundle(bundle, kind, run_id, signature, example, registered_name)


def log_served_bundle(bundle: Path, name: str, run_id: str, signature, example: pd.DataFrame | None, registered_name: str | None):
    """Log ``bundle`` (:func:`build_bundle`) as the served pyfunc ``name`` of run
    ``run_id`` (models from code, the serving code and pinned requirements beside it),
    as a new version of ``registered_name`` if given; returns MLflow's ``ModelInfo``."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        code = copy_serving_code(Path(tmp) / "code")
        with mlflow.start_run(run_id=run_id):
            return mlflow.pyfunc.log_model(
                name=name, python_model=str(ENTRY_FILE), artifacts={"bundle": str(bundle)},
                code_paths=[str(code)], pip_requirements=pinned_requirements(),
                signature=signature, input_example=example,
                registered_model_name=registered_name,
            )


DATASET_CONTEXTS = {"train": "training", "val": "validation", "test": "testing"}
"""Each prepared split and the MLflow input context it is logged under."""


def _log_datasets(cfg: PipelineConfig, prepared: PreparedData, prepared_dir: Path, runs: RunIds) -> None:
    """The prepared train, validation and test splits as MLflow datasets (name, digest,
    source file, schema, row count) on the parent run and the served model's run: the
    runs' Dataset column and inputs say what the models learnt and were judged on."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    for split, context in DATASET_CONTEXTS.items():
        frame = prepared.splits[split]
        source = (prepared_dir / f"{split}.parquet").resolve()
        with warnings.catch_warnings():  # MLflow's hints about a local file source and an integer label column: noise here
            warnings.filterwarnings("ignore", message=".*dataset source can be interpreted in multiple ways.*")
            warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column.*")
            dataset = from_pandas(frame, source=str(source), targets=LABEL if LABEL in frame.columns else None, name=f"{split} split")
            for run_id in (runs.parent, runs.child):
                with mlflow.start_run(run_id=run_id):
                    mlflow.log_input(dataset, context=context)


def _describe_version(client, cfg: PipelineConfig, version: str, window: int, sensors: list[str]) -> None:
    """What a client needs to call the version, on the version itself (MLflow UI, API):
    the model keeps no state between requests, so a reading is scored only when the
    request also carries the ``window − 1`` rows before it."""
    interval_s, _, _ = cfg.prepare.times()
    name = cfg.register_.model_name
    client.update_model_version(name, version, description=(
        f"Scores a reading from the {window} readings ending at it, one every {interval_s} s per asset; the model keeps "
        f"no state between requests, so send each new reading with the {window - 1} before it and read the last row. "
        f"Columns: timestamp, asset (optional), {', '.join(sensors)}."
    ))
    for key, value in {"window": window, "interval_s": interval_s, "sensors": ",".join(sensors)}.items():
        client.set_model_version_tag(name, version, f"anomflow.{key}", str(value))
    metric = cfg.register_.promotion_metric
    client.update_registered_model(name, description=(
        f"anomflow's served anomaly detector: the multi-task student distilled from {', '.join(cfg.learns_from(SERVED_KIND)) or 'no teacher'}. "
        "For each reading (with the readings before it) it answers a score, a level (normal, warning, critical; POT thresholds "
        "from validation data), an event-level alarm and the sensors that contribute most. A new version becomes @champion only "
        f"if its test-split {metric} beats the current champion's on the same rows, else @challenger; each version's tags "
        "promotion.* say which values were compared and why."
    ))
    client.set_registered_model_tag(name, "anomflow.promotion_metric", metric)


def served_signature(sensors: list[str] | None):
    """The served model's MLflow signature for readings of ``sensors`` (None: outputs only,
    ``register.input_schema: false``).

    Inputs: ``timestamp`` and each sensor (required), ``asset`` (optional), all typed
    ``Any``: MLflow checks the names, refusing a request that lacks one (HTTP 400 naming
    it) and ignoring a column the model does not score (its server logs a warning naming
    it); the model checks the values itself (:mod:`components.registry.request`), because
    MLflow's ``double`` would read ``true`` as 1.0 and refuse text without naming its row.
    MLflow reads a ``text/csv`` request only by a schema of concrete types, so with inputs
    declared requests are JSON. Outputs: the columns
    :class:`~components.registry.served_detector.AnomflowDetector` answers."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType, Array

    return ModelSignature(
        inputs=None if sensors is None else Schema([
            ColSpec(AnyType(), TIMESTAMP), ColSpec(AnyType(), ASSET, required=False), *(ColSpec(AnyType(), s) for s in sensors),
        ]),
        outputs=Schema([
            ColSpec("string", "timestamp"), ColSpec("string", "asset"), ColSpec("double", "score"),
            ColSpec("string", "level"), ColSpec("string", "alarm"), ColSpec(Array("string"), "top_sensors"), ColSpec(Array("string"), "missing_sensors"),
        ]),
    )


def register_model(cfg: PipelineConfig, prepared: PreparedData, prepared_dir: str | Path, validated: pd.DataFrame) -> dict:
    """Log metrics, plots and the model to the model's MLflow run, register a version and
    set its alias. Writes and returns ``reports/registration.json``."""
    import mlflow

    model_dir, prepared_dir = model_dir_of(cfg, SERVED_KIND), Path(prepared_dir)
    reports = cfg.paths.reports_dir()
    uri = tracking_uri(cfg.mlflow)
    configure_tracking(cfg.mlflow)
    client = mlflow.MlflowClient(uri)
    runs = RunIds.load(model_dir / RUN_FILE)
    all_metrics = json.loads((reports / METRICS_FILE).read_text())
    tags = lineage_tags(validated)
    _log_evaluation(client, cfg, runs, all_metrics, tags)
    with using_tracking_uri(uri):
        _log_datasets(cfg, prepared, prepared_dir, runs)

    test = prepared.splits["test"]
    request = test.drop(columns=[c for c in (LABEL, SESSION) if c in test.columns])
    served = load_detector(model_dir)
    example = request_example(request, served.window + 5)  # rows enough for the served window to score some
    (reports / REQUEST_EXAMPLE_FILE).write_text(
        json.dumps({"dataframe_split": request_example(request, 200).to_dict(orient="split", index=False)})
    )
    signature = served_signature(served.sensors if cfg.register_.input_schema else None)
    with using_tracking_uri(uri):
        with heartbeat(f"register: logging {SERVED_KIND} as a version of {cfg.register_.model_name}"):
            info = _log_pyfunc(cfg, SERVED_KIND, prepared_dir, runs.child, signature, example, cfg.register_.model_name)
        for teacher in cfg.learns_from(SERVED_KIND):
            with heartbeat(f"register: logging {teacher} (teacher) to its run"):
                _log_pyfunc(cfg, teacher, prepared_dir, RunIds.load(model_dir_of(cfg, teacher) / RUN_FILE).child, signature, example, None)
    version = str(info.registered_model_version)
    _describe_version(client, cfg, version, served.window, served.sensors)
    with using_tracking_uri(uri):
        decision = decide_and_alias(
            cfg.register_.model_name, version, promotion_frame(cfg, prepared), cfg.register_.promotion_metric, uri, cfg.evaluate.vus_window,
        )
    print(f"{cfg.register_.model_name} version {version}: @{decision.alias}", flush=True)
    client.set_tag(runs.parent, "anomflow.registered_version", version)
    client.set_tag(runs.parent, "anomflow.alias", decision.alias)
    client.set_terminated(runs.parent)
    registration = {
        "model_name": cfg.register_.model_name,
        "tracking_uri": uri,
        "experiment_id": client.get_run(runs.parent).info.experiment_id,
        "parent_run_id": runs.parent,
        "model_run_id": runs.child,
        "model_uri": f"models:/{cfg.register_.model_name}/{version}",
        **decision.as_dict(),
    }
    (reports / REGISTRATION_FILE).write_text(json.dumps(registration, indent=2))
    return registration
