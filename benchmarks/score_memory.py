"""Peak memory and speed of batch-scoring a long export with the `score` flow.

Usage (after `make demo`, from the project root; about 25 min for 5 million rows on
2 busy cores, 2 min of it writing the 0.4 GB export):
    PATH=.venv/bin:$PATH .venv/bin/python benchmarks/score_memory.py --rows 5000000

Writes a plain-CSV export of ``--rows`` readings (one pump's validated readings from
artifacts/validated.parquet, gaps filled, repeated with time stamps continuing minute by
minute), then runs the real CLI
`anomflow score EXPORT OUT.parquet --asset pump-1 --delimiter ,` as a child process:
first on ``--baseline-rows`` rows (the fixed cost: interpreter, temporary Prefect
server, model load), then on the whole export. Reports wall time, rows/s (overall and
marginal, i.e. without the fixed cost) and peak memory (MiB): ``peak_rss_mb`` the exact
high-water mark of the scoring process (``wait4``'s ``ru_maxrss``; the largest process of
its tree), ``peak_tree_rss_mb`` the sampled sum over it and the Prefect server it starts.
The target (issue 5) is ``peak_rss_mb`` ≤ 1.5 GB. Writes reports/benchmarks/score_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from components.benchmarks.environment import environment, run_watched
from components.scoring.batch import CHUNK_ROWS

TARGET_MB = 1500.0  # 1.5 GB, read strictly (1,500 MiB)
BLOCK_ROWS = 100_000


def one_asset(validated: pd.DataFrame, sensors: list[str]) -> pd.DataFrame:
    """The first asset's sensor readings, gaps filled (so every row is complete)."""
    asset = validated[validated["asset"] == validated["asset"].iloc[0]]
    return asset[sensors].ffill().bfill().reset_index(drop=True)


def write_export(path: Path, rows: int, readings: pd.DataFrame, start: str = "2026-01-01") -> int:
    """Write ``rows`` rows of ``readings`` (repeated as often as needed) as a plain CSV with a
    ``timestamp`` column one minute apart; returns the bytes written."""
    origin = pd.Timestamp(start, tz="UTC")
    with path.open("w") as handle:
        handle.write(",".join(["timestamp", *readings.columns]) + "\n")
        for begin in range(0, rows, BLOCK_ROWS):
            steps = np.arange(begin, min(begin + BLOCK_ROWS, rows))
            part = readings.iloc[steps % len(readings)].reset_index(drop=True)
            part.insert(0, "timestamp", (origin + pd.to_timedelta(steps, unit="min")).strftime("%Y-%m-%dT%H:%M:%SZ"))
            part.to_csv(handle, header=False, index=False, float_format="%.6g")
    return path.stat().st_size


def score_once(export: Path, out: Path, *, model_uri: str, asset: str, tracking_uri: str, timeout_s: float | None = None) -> dict:
    """Run `anomflow score` on ``export`` and measure it."""
    env = dict(
        os.environ, MLFLOW_TRACKING_URI=tracking_uri, PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    cmd = [str(Path(sys.executable).parent / "anomflow"), "score", str(export), str(out), "--model-uri", model_uri, "--asset", asset, "--delimiter", ","]
    watched = run_watched(cmd, env=env, timeout_s=timeout_s)
    if watched.returncode != 0:
        raise RuntimeError(f"anomflow score failed (exit {watched.returncode}):\n{watched.output[-3000:]}")
    return {
        "wall_s": watched.wall_s, "peak_rss_mb": watched.ru_maxrss_mb, "peak_child_rss_sampled_mb": watched.peak_child_rss_mb,
        "peak_tree_rss_mb": watched.peak_tree_rss_mb, "scored_rows": len(pd.read_parquet(out, columns=["score"])),
    }


def measure(
    rows: int, *, validated_path: Path, columns: list[str], model_uri: str, asset: str, tracking_uri: str,
    baseline_rows: int = 1000, workdir: Path | None = None, progress=print,
) -> dict:
    """Write the exports, score both, return the report (without the environment)."""
    readings = one_asset(pd.read_parquet(validated_path), columns)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        runs = {}
        for name, n in (("baseline", min(baseline_rows, rows)), ("full", rows)):
            export = tmp / f"export_{name}.csv"
            begin = time.perf_counter()
            size = write_export(export, n, readings)
            write_s = time.perf_counter() - begin
            progress(f"{name}: wrote {n:,} rows ({size / 1e6:.0f} MB) in {write_s:.0f} s; scoring…")
            runs[name] = {"rows": n, "export_mb": size / 1e6, "export_write_s": write_s, **score_once(
                export, tmp / f"scored_{name}.parquet", model_uri=model_uri, asset=asset, tracking_uri=tracking_uri,
            )}
            export.unlink()
            progress(f"{name}: {runs[name]['wall_s']:.0f} s, peak RSS {runs[name]['peak_rss_mb']:,.0f} MiB")
    full, base = runs["full"], runs["baseline"]
    marginal = (full["rows"] - base["rows"]) / (full["wall_s"] - base["wall_s"]) if full["wall_s"] > base["wall_s"] and full["rows"] > base["rows"] else None
    return {
        "rows": rows, "scored_rows": full["scored_rows"], "export_mb": full["export_mb"], "wall_s": full["wall_s"],
        "rows_per_s": rows / full["wall_s"], "marginal_rows_per_s": marginal, "peak_rss_mb": full["peak_rss_mb"],
        "peak_tree_rss_mb": full["peak_tree_rss_mb"], "target_mb": TARGET_MB, "within_target": full["peak_rss_mb"] <= TARGET_MB,
        "baseline": base, "full": full, "units": "MiB (RSS), MB (export size), seconds",
        "note": (
            "peak_rss_mb: ru_maxrss of the `anomflow score` process (Prefect flow, export streamed in chunks); "
            "peak_tree_rss_mb: sampled RSS summed with the temporary Prefect server it starts; "
            "marginal_rows_per_s excludes the fixed cost measured on the baseline export"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--baseline-rows", type=int, default=1000, help="rows of the small export that measures the fixed cost")
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    parser.add_argument("--model-uri", default="models:/anomflow-detector@champion")
    parser.add_argument("--validated", type=Path, default=Path("artifacts/validated.parquet"))
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary export goes (default: the system temp dir)")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/score_memory.json"))
    args = parser.parse_args()
    example = json.loads(Path("reports/request_example.json").read_text())["dataframe_split"]
    columns = [c for c in example["columns"] if c not in ("timestamp", "asset")]
    env = environment()
    started = time.perf_counter()
    result = measure(
        args.rows, validated_path=args.validated, columns=columns, model_uri=args.model_uri, asset="pump-1",
        tracking_uri=args.tracking_uri, baseline_rows=args.baseline_rows, workdir=args.workdir,
    )
    result["config"] = {
        "rows": args.rows, "baseline_rows": args.baseline_rows, "chunk_rows": CHUNK_ROWS, "model_uri": args.model_uri,
        "tracking_uri": args.tracking_uri, "sensors": columns, "source": str(args.validated),
    }
    result.update(env)
    result["hardware"]["load_average_at_end"] = list(os.getloadavg())
    result["benchmark_wall_s"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("rows", "wall_s", "marginal_rows_per_s", "peak_rss_mb", "peak_tree_rss_mb", "within_target")}, indent=2))


if __name__ == "__main__":
    main()
