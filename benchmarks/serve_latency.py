"""Latency and throughput of the served champion over HTTP (a real `mlflow models serve`).

Usage (after `make demo`, from the project root):
    .venv/bin/python benchmarks/serve_latency.py --rows 1,200,10000 --clients 4
Starts `mlflow models serve` (1 worker) on a free loopback port. Requests are the first
R readings of one asset of artifacts/validated.parquet (original units, as exported).
Per size: p50/p99/max latency of N sequential requests after warm-up. Then `--clients`
threads send 200-row requests for `--seconds`: requests/s and rows/s under load.
Writes reports/benchmarks/serve_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _body(readings: pd.DataFrame, rows: int) -> str:
    part = readings.head(rows).copy()
    part["timestamp"] = part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"dataframe_split": part.to_dict(orient="split", index=False)})


def _latencies(url: str, body: str, warmup: int, count: int) -> list[float]:
    session = requests.Session()
    headers = {"Content-Type": "application/json"}
    for _ in range(warmup):
        session.post(f"{url}/invocations", data=body, headers=headers).raise_for_status()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        session.post(f"{url}/invocations", data=body, headers=headers).raise_for_status()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _load(url: str, body: str, clients: int, seconds: float) -> int:
    done = []
    stop = time.perf_counter() + seconds

    def client() -> None:
        session, count = requests.Session(), 0
        while time.perf_counter() < stop:
            session.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}).raise_for_status()
            count += 1
        done.append(count)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1,200,10000", help="comma-separated request sizes")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per size (a tenth for ≥ 5000 rows)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the load test")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of the load test")
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db")
    args = parser.parse_args()

    example = json.loads(Path("reports/request_example.json").read_text())["dataframe_split"]
    validated = pd.read_parquet("artifacts/validated.parquet")
    asset = validated["asset"].iloc[0]
    readings = validated.loc[validated["asset"] == asset, example["columns"]].reset_index(drop=True)
    port = _free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=args.tracking_uri, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/anomflow-detector@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    sizes = {}
    try:
        for _ in range(240):
            try:
                if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        for rows in (int(r) for r in args.rows.split(",")):
            count = max(10, args.requests // 10) if rows >= 5000 else args.requests
            latencies = _latencies(url, _body(readings, rows), args.warmup, count)
            sizes[str(rows)] = {
                "rows": min(rows, len(readings)), "requests": count, "p50_ms": float(np.percentile(latencies, 50)),
                "p99_ms": float(np.percentile(latencies, 99)), "max_ms": float(np.max(latencies)),
            }
            print(rows, json.dumps(sizes[str(rows)]))
        served = _load(url, _body(readings, 200), args.clients, args.seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result = {
        "sizes": sizes,
        "load": {"clients": args.clients, "seconds": args.seconds, "rows_per_request": 200, "requests_per_s": served / args.seconds, "rows_per_s": 200 * served / args.seconds},
        "server": "mlflow models serve, 1 worker, --env-manager local",
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
    }
    out = Path("reports/benchmarks/serve_latency.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["load"], indent=2))


if __name__ == "__main__":
    main()
