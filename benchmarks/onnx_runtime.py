"""The served student on torch against ONNX Runtime, in one run: batch scoring rows/s and
`mlflow models serve` latency (p50/p99) of the same champion, the runtime chosen by
``ANOMFLOW_RUNTIME`` (``torch``; unset: ONNX Runtime, the default where the bundle holds
``student.onnx``).

Usage (after `make demo`, from the project root):
    .venv/bin/python benchmarks/onnx_runtime.py [--rows 20000] [--requests 200]

Batch: the first ``--rows`` validated readings of one asset (original units) scored in one
``score_rows`` call, best of ``--repeats``. Served: ``--requests`` sequential 30-row and
200-row requests after warm-up. Writes reports/benchmarks/onnx_runtime.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.serve_latency import MODEL_URI, latencies_ms, request_body, served, served_version  # noqa: E402
from components.benchmarks.environment import environment  # noqa: E402
from components.benchmarks.report_io import write_report  # noqa: E402
from components.detectors.student import RUNTIME_ENV  # noqa: E402
from components.registry.tracking import using_tracking_uri  # noqa: E402
from components.scoring.score_settings import ScoreSettings  # noqa: E402

RUNTIMES = {"torch": "torch", "onnxruntime": "onnx"}


def _load(model_uri: str, tracking_uri: str, runtime: str):
    import mlflow

    os.environ[RUNTIME_ENV] = runtime
    with using_tracking_uri(tracking_uri):
        return mlflow.pyfunc.load_model(model_uri).unwrap_python_model()


def batch_rows_per_s(model, readings: pd.DataFrame, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.score_rows(readings)
        best = min(best, time.perf_counter() - start)
    return len(readings) / best


def network_rows_per_s(detector, rows: int, repeats: int) -> dict[str, float]:
    """Rows/s of the network alone (raw components of every window of ``rows`` scaled rows), torch and ONNX Runtime."""
    from components.models.student import component_errors_at

    values = np.random.default_rng(0).standard_normal((rows, len(detector.sensors)))
    starts = np.arange(rows - detector.window + 1)
    runs = {"torch": lambda: component_errors_at(detector.model, values, starts, detector.window),
            "onnxruntime": lambda: detector.onnx.component_errors_at(values, starts, detector.window)}
    out = {}
    for name, run in runs.items():
        run()
        best = min(_timed(run) for _ in range(repeats))
        out[name] = rows / best
    return out


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--model", default=MODEL_URI, help="a registered student exported to ONNX (registered since register.onnx)")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/onnx_runtime.json"))
    args = parser.parse_args()
    tracking_uri = ScoreSettings.for_project().tracking_uri
    validated = pd.read_parquet("artifacts/validated.parquet")
    models = {name: _load(args.model, tracking_uri, runtime) for name, runtime in RUNTIMES.items()}
    if models["onnxruntime"].detector.onnx is None:
        raise SystemExit(f"{args.model} holds no student.onnx (registered before register.onnx): register a model again, or pass --model")
    sensors = list(models["torch"].detector.sensors)
    readings = validated[validated["asset"] == validated["asset"].iloc[0]][["timestamp", "asset", *sensors]].head(args.rows).reset_index(drop=True)
    answers = {name: model.score_rows(readings)[0]["score"].to_numpy(dtype=float) for name, model in models.items()}
    difference = float(np.nanmax(np.abs(answers["onnxruntime"] - answers["torch"])))
    network = network_rows_per_s(models["onnxruntime"].detector, len(readings), args.repeats)
    report = {**environment(), "model": served_version(args.model, tracking_uri) or {"uri": args.model}, "rows": len(readings), "max_score_difference": difference,
              "runtimes": {}}
    for name, runtime in RUNTIMES.items():
        entry = {"batch_rows_per_s": batch_rows_per_s(models[name], readings, args.repeats), "network_rows_per_s": network[name]}
        os.environ[RUNTIME_ENV] = runtime
        with served(args.model, tracking_uri) as url:
            for rows in (30, 200):
                ms = latencies_ms(url, request_body(readings, rows), warmup=10, count=args.requests)
                entry[f"served_{rows}_rows"] = {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}
        report["runtimes"][name] = entry
        print(f"{name}: network {entry['network_rows_per_s']:,.0f} rows/s, batch {entry['batch_rows_per_s']:,.0f} rows/s; served 30 rows p50 {entry['served_30_rows']['p50_ms']:.1f} ms "
              f"p99 {entry['served_30_rows']['p99_ms']:.1f} ms; 200 rows p50 {entry['served_200_rows']['p50_ms']:.1f} ms")
    print(f"largest score difference: {difference:.2e}")
    write_report(report, args.out)


if __name__ == "__main__":
    main()
