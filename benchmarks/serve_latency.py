"""Latency of the served champion: p50/p99 of N requests of R rows after warm-up.

Usage (after `make demo`, from the project root):
    .venv/bin/python benchmarks/serve_latency.py --rows 200 --requests 300
Starts `mlflow models serve` on a free loopback port, sends the first R rows of
reports/request_example.json's asset, and prints/writes reports/benchmarks/serve_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    args = parser.parse_args()

    example = json.loads(Path("reports/request_example.json").read_text())["dataframe_split"]
    example["data"] = example["data"][: args.rows]
    body = json.dumps({"dataframe_split": example})
    port = _free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=args.tracking_uri, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/anomflow-detector@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        session = requests.Session()
        headers = {"Content-Type": "application/json"}
        for _ in range(args.warmup):
            session.post(f"{url}/invocations", data=body, headers=headers).raise_for_status()
        latencies = []
        for _ in range(args.requests):
            start = time.perf_counter()
            session.post(f"{url}/invocations", data=body, headers=headers).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result = {
        "rows_per_request": len(example["data"]), "requests": args.requests,
        "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99)),
        "max_ms": float(np.max(latencies)), "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
    }
    out = Path("reports/benchmarks/serve_latency.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
