"""Peak memory and speed of batch-scoring a long export with the `score` flow.

Usage (after `make demo`, from the project root):
    .venv/bin/python benchmarks/score_memory.py --rows 5000000
Writes a plain-CSV export of ``--rows`` readings (one pump's validated readings,
repeated with time stamps continuing minute by minute), runs
`anomflow score EXPORT OUT.parquet --asset pump-1 --delimiter ,` as a child process and
reports its wall time, rows/s and peak RSS (``ru_maxrss`` of the child). Writes
reports/benchmarks/score_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def write_export(path: Path, rows: int, columns: list[str]) -> None:
    validated = pd.read_parquet("artifacts/validated.parquet")
    one = validated.loc[validated["asset"] == validated["asset"].iloc[0], columns[1:]].ffill().bfill()
    start = pd.Timestamp("2026-01-01", tz="UTC")
    with path.open("w") as handle:
        handle.write(",".join(columns) + "\n")
        for begin in range(0, rows, len(one)):
            n = min(len(one), rows - begin)
            block = one.iloc[:n].copy()
            block.insert(0, "timestamp", (start + pd.to_timedelta(np.arange(begin, begin + n), unit="min")).strftime("%Y-%m-%dT%H:%M:%SZ"))
            block.to_csv(handle, header=False, index=False, float_format="%.6g")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    args = parser.parse_args()
    example = json.loads(Path("reports/request_example.json").read_text())["dataframe_split"]
    columns = [c for c in example["columns"] if c != "asset"]
    with tempfile.TemporaryDirectory() as tmp:
        export, out = Path(tmp) / "export.csv", Path(tmp) / "scored.parquet"
        write_export(export, args.rows, columns)
        size_mb = export.stat().st_size / 1e6
        env = dict(os.environ, MLFLOW_TRACKING_URI=args.tracking_uri, PREFECT_SERVER_ANALYTICS_ENABLED="false")
        begin = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "anomflow"), "score", str(export), str(out), "--asset", "pump-1", "--delimiter", ","],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - begin
        scored_rows = len(pd.read_parquet(out, columns=["score"]))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {
        "rows": args.rows, "scored_rows": scored_rows, "export_mb": size_mb, "wall_s": wall, "rows_per_s": args.rows / wall,
        "peak_rss_mb": peak_mb, "note": "peak RSS of the `anomflow score` process (Prefect flow + streamed chunks of 200,000 rows)",
        "cores": os.cpu_count(),
    }
    path = Path("reports/benchmarks/score_memory.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
