"""Prefect ``score`` flow: batch-score exports with a registered model."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task

from components.scoring.batch import score_export
from components.scoring.score_settings import ScoreSettings
from flows.retry import retry_unless_bad_input


@task(name="score-export", retries=1, retry_delay_seconds=2, retry_condition_fn=retry_unless_bad_input)
def score_task(input_paths: list[str], output_path: str, settings: ScoreSettings) -> dict:
    return score_export(
        [Path(p) for p in input_paths], Path(output_path), settings.model_uri, asset=settings.asset_of(input_paths),
        fmt=settings.export_format, duplicate_rule=settings.duplicate_rule, tracking_uri=settings.tracking_uri,
    )


@flow(name="score", log_prints=True)
def score(
    input_paths: list[str], output_path: str, config_path: str | None = None, model_uri: str | None = None,
    asset: str | None = None, delimiter: str | None = None, timestamp_column: str | None = None,
    timezone: str | None = None,
) -> dict:
    """Score the exports in ``input_paths`` (several are joined on time, e.g. one per
    Grafana panel) and write ``output_path`` (``.csv`` or ``.parquet``) with ``score``,
    ``level`` and ``top_sensors`` per row. The project's config (``config_path``, default
    ``conf/pipeline.yaml`` if it exists) gives the MLflow store, the model (its registered
    model ``@champion``), how exports are read (as its first file source reads files) and
    the duplicate rule, and the rows' asset (that source's, or the one its asset pattern finds
    in the export names); ``model_uri``, ``asset``,
    ``delimiter``, ``timestamp_column`` and ``timezone`` replace the config's. See :class:`ScoreSettings`."""
    settings = ScoreSettings.for_project(
        config_path, model_uri=model_uri, delimiter=delimiter, timestamp_column=timestamp_column, timezone=timezone, asset=asset,
    )
    summary = score_task(input_paths, output_path, settings)
    print(f"scored {summary['rows']} rows{' of ' + ', '.join(summary['assets']) if summary['assets'] else ''} with {settings.model_uri} → {output_path} (levels: {summary['levels']}; alarms raised: {summary['alarm_events']})")
    if summary["ignored_columns"]:
        print(f"columns the model does not score, left out: {summary['ignored_columns']}")
    return {**summary, "model_uri": settings.model_uri}
