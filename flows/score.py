"""Prefect ``score`` flow: batch-score a CSV export with a registered model."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task

from components.scoring.batch import score_export


@task(name="score-export", retries=1, retry_delay_seconds=2)
def score_task(input_path: str, output_path: str, model_uri: str, asset: str | None, delimiter: str | None) -> dict:
    return score_export(Path(input_path), Path(output_path), model_uri, asset=asset, delimiter=delimiter)


@flow(name="score", log_prints=True)
def score(input_path: str, output_path: str, model_uri: str = "models:/anomflow-detector@champion", asset: str | None = None, delimiter: str | None = None) -> dict:
    """Score ``input_path`` (Grafana export or plain CSV) and write ``output_path``
    (``.csv`` or ``.parquet``) with ``score``, ``level`` and ``top_sensors`` per row."""
    summary = score_task(input_path, output_path, model_uri, asset, delimiter)
    print(f"scored {summary['rows']} rows → {output_path} (levels: {summary['levels']})")
    return summary
