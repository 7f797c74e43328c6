"""Benchmark reports on disk and in MLflow."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from components.benchmarks.series_metrics import QUALITY_METRICS


def json_ready(value):
    """NaN/inf → None, numpy scalars → Python, recursively."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(report: dict, out: str | Path) -> Path:
    """``report`` (made :func:`json_ready`) as indented JSON at ``out``, its folder created."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(json_ready(report), indent=2, allow_nan=False))
    return out


def _flat_params(prefix: str, value, into: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat_params(f"{prefix}.{k}" if prefix else str(k), v, into)
    else:
        into[prefix] = str(value)[:6000]
    return into


def log_to_mlflow(report: dict, report_path: str | Path, tracking_uri: str) -> dict:
    """Record ``report`` in MLflow at ``tracking_uri``: experiment ``benchmark-<dataset
    name>``, one parent run (protocol params, the JSON as an artifact) and one nested run
    per model (its hyper-parameters and aggregate + per-channel metrics).
    Returns ``{"experiment_id", "parent", "models": {kind: run_id}}``."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    artifact_location = None
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        artifact_location = (db.parent.resolve() / "artifacts").as_uri()
    client = mlflow.MlflowClient(tracking_uri)
    name = f"benchmark-{report['dataset']['name']}"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name, artifact_location=artifact_location)

    now = int(time.time() * 1000)
    tags = {"mlflow.source.git.commit": report["git_commit"], "anomflow.benchmark": report["dataset"]["name"], "anomflow.profile": report["profile"]}
    parent = client.create_run(experiment_id, run_name=f"{report['dataset']['name']}-{report['profile']}", tags=tags).info.run_id
    protocol = _flat_params("", report["config"]["protocol"], {})
    protocol.update({"profile": report["profile"], "dataset.path": report["dataset"]["path"], "dataset.channels": ",".join(report["dataset"]["channels"])})
    client.log_batch(parent, params=[Param(k, v) for k, v in protocol.items()])
    client.log_artifact(parent, str(report_path))

    runs = {}
    for kind, aggregates in report["models"].items():
        run = client.create_run(experiment_id, run_name=kind, tags={**tags, "mlflow.parentRunId": parent, "anomflow.model": kind}).info.run_id
        params = _flat_params("", report["config"][kind], {})
        params.update({"train_stride": str(report["config"]["protocol"].get("train_stride", 1)), "profile": report["profile"]})
        metrics = [Metric(k, float(v), now, 0) for k, v in aggregates.items() if isinstance(v, (int, float)) and v is not None]
        for chan, values in report["per_channel"][kind].items():
            metrics += [
                Metric(f"{chan}/{k}", float(values[k]), now, 0)
                for k in ("vus_pr", "pr_auc", "roc_auc", "f1", "pa_f1", "epochs", "train_s")
                if values.get(k) is not None
            ]
        client.log_batch(run, params=[Param(k, v) for k, v in params.items()], tags=[RunTag("anomflow.channels", str(len(report["per_channel"][kind])))])
        for i in range(0, len(metrics), 900):
            client.log_batch(run, metrics=metrics[i : i + 900])
        client.set_terminated(run)
        runs[kind] = run
    for kind, aggregates in report["models"].items():
        metrics = [Metric(f"{kind}.{k}", float(aggregates[k]), now, 0) for k in (*QUALITY_METRICS, "rows_per_s", "train_s") if aggregates.get(k) is not None]
        client.log_batch(parent, metrics=metrics)
    client.set_terminated(parent)
    return {"experiment_id": experiment_id, "parent": parent, "models": runs}
