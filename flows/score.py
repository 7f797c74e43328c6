"""Prefect ``score`` flow: batch-score exports with a registered model."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task

from components.scoring.batch import score_export
from components.scoring.export_format import ExportFormat
from flows.retry import retry_unless_bad_input


@task(name="score-export", retries=1, retry_delay_seconds=2, retry_condition_fn=retry_unless_bad_input)
def score_task(
    input_paths: list[str], output_path: str, model_uri: str, asset: str | None, export_format: ExportFormat,
    duplicate_rule: str, tracking_uri: str | None,
) -> dict:
    return score_export(
        [Path(p) for p in input_paths], Path(output_path), model_uri, asset=asset, fmt=export_format,
        duplicate_rule=duplicate_rule, tracking_uri=tracking_uri,
    )


@flow(name="score", log_prints=True)
def score(
    input_paths: list[str], output_path: str, model_uri: str = "models:/anomflow-detector@champion",
    asset: str | None = None, export_format: ExportFormat = ExportFormat(), duplicate_rule: str = "mean",
    tracking_uri: str | None = None,
) -> dict:
    """Score the exports in ``input_paths`` (Grafana exports or plain CSV; several are
    joined on time, e.g. one per panel) and write ``output_path`` (``.csv`` or
    ``.parquet``) with ``score``, ``level`` and ``top_sensors`` per row. ``export_format``:
    how to read them (default: Grafana exports in UTC); ``duplicate_rule``:
    how repeated time stamps within a file are resolved (as ingest's); ``tracking_uri``:
    the MLflow store that resolves ``model_uri`` (default: MLflow's)."""
    summary = score_task(input_paths, output_path, model_uri, asset, export_format, duplicate_rule, tracking_uri)
    print(f"scored {summary['rows']} rows → {output_path} (levels: {summary['levels']})")
    if summary["ignored_columns"]:
        print(f"columns the model does not score, left out: {summary['ignored_columns']}")
    return summary
