"""Prefect ``retrain`` flow: the pipeline's stages as tasks, with retries on I/O and
artifacts (validation summary, metrics table, link to the MLflow run)."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from components import stages
from components.config import load_config
from components.registry.tracking import start_pipeline_run

ingest_task = task(stages.run_ingest, name="ingest", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
validate_task = task(stages.run_validate, name="validate", cache_policy=NO_CACHE)
prepare_task = task(stages.run_prepare, name="prepare", cache_policy=NO_CACHE)
train_task = task(stages.run_train, name="train-lstm-ae", cache_policy=NO_CACHE)
threshold_task = task(stages.run_threshold, name="threshold", cache_policy=NO_CACHE)
evaluate_task = task(stages.run_evaluate, name="evaluate", cache_policy=NO_CACHE)
register_task = task(stages.run_register, name="register", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)


def _validation_markdown(summary: dict) -> str:
    lines = [
        "# Validation", "",
        f"rows in: {summary.get('n_rows_in')}, quarantined: {summary.get('n_quarantined')}, rows out: {summary.get('n_rows_out')}", "",
        "| expectation | column | success | unexpected |", "|---|---|---|---|",
    ]
    for item in summary.get("expectations", []):
        lines.append(f"| {item.get('type')} | {item.get('column', '')} | {item.get('success')} | {item.get('unexpected_count', '')} |")
    return "\n".join(lines)


@flow(name="retrain", log_prints=True)
def retrain(config_path: str = "conf/pipeline.yaml") -> dict:
    """Ingest → validate → prepare → train → threshold → evaluate → register."""
    cfg = load_config(config_path)
    parent = start_pipeline_run(
        cfg.mlflow, f"retrain-{flow_run.get_name() or 'local'}",
        {"anomflow.entry": "prefect", "prefect.flow_run_id": str(flow_run.get_id() or "")},
    )
    ingest_task(cfg)
    validation = validate_task(cfg)
    create_markdown_artifact(_validation_markdown(validation), key="validation-summary", description="Great Expectations validation")
    prepare_task(cfg)
    train_task(cfg, parent)
    thresholds = threshold_task(cfg)
    metrics = evaluate_task(cfg)
    registration = register_task(cfg)
    table = [{"metric": k, "value": v} for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    create_table_artifact(table, key="metrics", description="lstm_ae on the test split")
    create_link_artifact(
        f"http://127.0.0.1:5000/#/experiments/{registration['experiment_id']}/runs/{registration['parent_run_id']}",
        link_text="MLflow run (start `mlflow ui` first)", key="mlflow-run",
    )
    return {"metrics": metrics, "thresholds": thresholds, "registration": registration, "validation": validation}
