"""Batch scoring stays chunked: however long the export, no frame bigger than one chunk
plus the carried history is ever read or scored (what keeps `anomflow score` on a
5-million-row export under 1.5 GB: benchmarks/score_memory.py)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from components.scoring import batch
from components.sources.export_format import ExportFormat


def _export(path, rows: int) -> None:
    stamps = pd.date_range("2026-01-01", periods=rows, freq="min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp": stamps, "a": np.arange(rows, dtype=float), "b": 1.0}).to_csv(path, index=False)


class _RecordingModel:
    """Stands in for the served pyfunc: scores every row 0 and records the frames it sees."""

    def __init__(self, history: int) -> None:
        self.sizes: list[int] = []
        served = SimpleNamespace(
            sensors=["a", "b"], window=history + 1, history_rows=history, score_rows=self.score_rows,
        )
        self.unwrap_python_model = lambda: served

    def score_rows(self, frame: pd.DataFrame, states: dict, context_rows: int) -> tuple[pd.DataFrame, dict]:
        self.sizes.append(len(frame))
        return pd.DataFrame({
            "timestamp": frame["timestamp"].astype(str).to_numpy(), "asset": frame["asset"].to_numpy(), "score": 0.0,
            "level": "normal", "alarm": "normal", "top_sensors": [["a"]] * len(frame), "missing_sensors": [[]] * len(frame),
        }), states


def test_export_is_read_in_chunks(tmp_path):
    path = tmp_path / "export.csv"
    _export(path, 1000)
    sizes = [len(chunk) for chunk in batch.read_export_chunks(path, ExportFormat(delimiter=","), chunk_rows=128)]
    assert sizes == [128] * 7 + [104]


@pytest.mark.parametrize("source", ["grafana", "plain"])
@pytest.mark.parametrize("chunk_rows", [90, 150, 179])  # the next chunk starts in the first pass, the second, its last minute
def test_wall_times_that_dst_repeats_are_placed_across_chunk_boundaries(tmp_path, source, chunk_rows):
    """Europe/Berlin's fall-back repeats 02:00-02:59: a chunk that starts inside the repeat
    holds no repeat of its own to infer from, and reads as the whole file does."""
    utc = pd.date_range("2025-10-25T23:00:00Z", periods=300, freq="min")  # from 01:00 CEST
    local = utc.tz_convert("Europe/Berlin").strftime("%Y-%m-%d %H:%M:%S")
    path = tmp_path / "export.csv"
    pd.DataFrame({"Time" if source == "grafana" else "timestamp": local, "a": np.arange(300.0)}).to_csv(path, index=False)
    fmt = ExportFormat(timezone="Europe/Berlin") if source == "grafana" else ExportFormat(delimiter=",", timezone="Europe/Berlin")
    whole = batch.read_export(path, fmt)
    pieces = pd.concat(batch.read_export_chunks(path, fmt, chunk_rows), ignore_index=True)
    assert whole["timestamp"].tolist() == pieces["timestamp"].tolist() == utc.tolist()


def test_score_export_never_holds_more_than_a_chunk_and_its_history(tmp_path, monkeypatch):
    path = tmp_path / "export.csv"
    _export(path, 1000)
    model = _RecordingModel(history=9)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")  # never the project's store
    import mlflow.pyfunc  # noqa: F401  (the real module: `mlflow.pyfunc` on the package is a lazy loader)

    monkeypatch.setattr(sys.modules["mlflow.pyfunc"], "load_model", lambda uri: model)
    written: list[int] = []
    original = batch._Sink.write
    monkeypatch.setattr(batch._Sink, "write", lambda self, scored: (written.append(len(scored)), original(self, scored))[1])
    summary = batch.score_export([path], tmp_path / "scored.parquet", "models:/fake", asset="pump-1", fmt=ExportFormat(delimiter=","), chunk_rows=128)
    assert summary["rows"] == 1000 and len(pd.read_parquet(tmp_path / "scored.parquet")) == 1000
    # each chunk plus the 9 rows of history it needs (a file's last time stamp waits for the next
    # chunk, which may repeat it: a single file is resolved as files joined on time are)
    assert model.sizes[0] == 127 and max(model.sizes) == 128 + 9
    assert model.sizes[0] + sum(size - 9 for size in model.sizes[1:]) == 1000
    assert max(written) == 128  # the sink gets one chunk's rows at a time (Parquet row groups)


def test_a_model_that_does_not_load_names_its_store_and_keeps_mlflow_s_error_code(tmp_path):
    """The code decides whether the score task retries (a missing model may appear; a bad
    request will not), so the restated error must keep it."""
    from mlflow.exceptions import MlflowException

    path = tmp_path / "export.csv"
    _export(path, 10)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(MlflowException) as err:
        batch.score_export([path], tmp_path / "out.parquet", "models:/nobody@champion", fmt=ExportFormat(delimiter=","), tracking_uri=store)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST" and str(err.value).endswith(f"(MLflow store {store})")
