"""Batch scoring of an export file with a registered model (the ``score`` flow's work)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from components.frames import ASSET, SOURCE_FILE, SOURCE_ROW, TIMESTAMP
from components.sources.ingest import snake_case


def read_export(path: Path, delimiter: str | None) -> pd.DataFrame:
    """A Grafana export (default) or, with ``delimiter``, a plain CSV with ``timestamp``."""
    if delimiter is None:
        from components.sources.grafana_csv import read_grafana_csv

        frame = read_grafana_csv(path)
    else:
        from components.sources.plain_csv import read_plain_csv

        frame = read_plain_csv(path, delimiter=delimiter)
    frame = frame.drop(columns=[c for c in (SOURCE_FILE, SOURCE_ROW) if c in frame.columns])
    return frame.rename(columns={c: snake_case(c) for c in frame.columns if c not in (TIMESTAMP, ASSET)})


def score_export(input_path: Path, output_path: Path, model_uri: str, *, asset: str | None = None, delimiter: str | None = None) -> dict:
    """Score every row of ``input_path`` and write ``output_path`` (.csv or .parquet)."""
    import mlflow

    frame = read_export(input_path, delimiter)
    if asset is not None:
        frame.insert(1, ASSET, asset)
    model = mlflow.pyfunc.load_model(model_uri)
    scored = model.predict(frame)
    scored["top_sensors"] = scored["top_sensors"].map(",".join)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    if output_path.suffix == ".parquet":
        scored.to_parquet(output_path, index=False)
    else:
        scored.to_csv(output_path, index=False)
    return {"rows": int(len(scored)), "levels": scored["level"].value_counts().to_dict(), "output": str(output_path)}
