"""Latency and throughput of the served champion over HTTP (a real `mlflow models serve`).

Usage (after `make demo`, from the project root):
    .venv/bin/python benchmarks/serve_latency.py --rows 1,200,10000 --clients 4
Starts `mlflow models serve` (1 worker) on a free loopback port for the model
``--model`` (default ``models:/anomflow-detector@champion``) of the project's MLflow
store. Requests are the first R readings of one asset of the project's
artifacts/validated.parquet (original units, as exported), in the columns of
reports/request_example.json. Per size: p50/p99/max latency in ms of N sequential
requests after warm-up. Then ``--clients`` threads send 200-row requests for
``--seconds``: requests/s and rows/s under load (a failed request fails the run).
Writes reports/benchmarks/serve_latency.json (``--out``) with the git commit, versions,
hardware and the served model's version.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from components.benchmarks.environment import environment  # noqa: E402
from components.child_server import wait_until_answering  # noqa: E402

MODEL_URI = "models:/anomflow-detector@champion"
LOAD_ROWS = 200
STARTUP_S = 180.0
HEADERS = {"Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(model_uri: str, tracking_uri: str, *, startup_s: float = STARTUP_S) -> Iterator[str]:
    """A running `mlflow models serve` (1 worker, loopback) of ``model_uri``: yields its
    URL once ``/ping`` answers, stops it on exit. Raises with the end of its log when it
    exits or does not answer within ``startup_s`` seconds."""
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    port = _free_port()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
             "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(proc, f"{url}/ping", log, startup_s, "mlflow models serve")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def request_body(readings: pd.DataFrame, rows: int) -> str:
    """The first ``rows`` of ``readings`` as an MLflow ``dataframe_split`` request."""
    part = readings.head(rows).copy()
    part["timestamp"] = part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"dataframe_split": part.to_dict(orient="split", index=False)})


def latencies_ms(url: str, body: str, warmup: int, count: int) -> list[float]:
    """Milliseconds of ``count`` sequential requests of ``body``, after ``warmup`` unmeasured ones."""
    session = requests.Session()
    for _ in range(warmup):
        session.post(f"{url}/invocations", data=body, headers=HEADERS).raise_for_status()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        session.post(f"{url}/invocations", data=body, headers=HEADERS).raise_for_status()
        out.append((time.perf_counter() - start) * 1000)
    return out


def requests_under_load(url: str, body: str, clients: int, seconds: float) -> int:
    """Requests of ``body`` answered while ``clients`` threads send them back to back for
    ``seconds``; the first failed request is raised."""
    done: list[int] = []
    failures: list[BaseException] = []
    stop = time.perf_counter() + seconds

    def client() -> None:
        session, count = requests.Session(), 0
        try:
            while time.perf_counter() < stop:
                session.post(f"{url}/invocations", data=body, headers=HEADERS).raise_for_status()
                count += 1
        except BaseException as error:  # reported below: a thread's exception is otherwise lost
            failures.append(error)
        done.append(count)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"{len(failures)} of {clients} load clients failed") from failures[0]
    return sum(done)


def served_version(model_uri: str, tracking_uri: str) -> dict:
    """Registered name and version behind ``models:/<name>@<alias>`` or ``models:/<name>/<version>``
    (empty for other URIs)."""
    import mlflow

    if not model_uri.startswith("models:/"):
        return {}
    client = mlflow.MlflowClient(tracking_uri)
    name, _, alias = model_uri.removeprefix("models:/").partition("@")
    if not alias:
        name, _, number = name.partition("/")
        if not number.isdigit():
            return {}
        version = client.get_model_version(name, number)
        return {"name": name, "version": int(version.version), "run_id": version.run_id}
    version = client.get_model_version_by_alias(name, alias)
    return {"name": name, "alias": alias, "version": int(version.version), "run_id": version.run_id}


def measure(
    project: Path, *, tracking_uri: str, model_uri: str = MODEL_URI, sizes: Sequence[int] = (1, 200, 10_000), count: int = 200,
    warmup: int = 10, clients: int = 4, seconds: float = 15.0, progress=print,
) -> dict:
    """Latency per request size and throughput under load of ``model_uri`` served from
    the MLflow store at ``tracking_uri``, with requests from ``project``'s readings (module
    doc). Sizes of 5,000 rows or more get a tenth of ``count`` requests (at least 10)."""
    example = json.loads((project / "reports" / "request_example.json").read_text())["dataframe_split"]
    validated = pd.read_parquet(project / "artifacts" / "validated.parquet")
    asset = validated["asset"].iloc[0]
    readings = validated.loc[validated["asset"] == asset, example["columns"]].reset_index(drop=True)
    by_size = {}
    with served(model_uri, tracking_uri) as url:
        for rows in sizes:
            n = max(10, count // 10) if rows >= 5000 else count
            ms = latencies_ms(url, request_body(readings, rows), warmup, n)
            by_size[str(rows)] = {
                "rows": min(rows, len(readings)), "requests": n, "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(np.max(ms)),
            }
            progress(f"{rows} rows: {json.dumps(by_size[str(rows)])}")
        answered = requests_under_load(url, request_body(readings, LOAD_ROWS), clients, seconds)
    return {
        "sizes": by_size,
        "load": {
            "clients": clients, "seconds": seconds, "rows_per_request": min(LOAD_ROWS, len(readings)),
            "requests": answered, "requests_per_s": answered / seconds, "rows_per_s": min(LOAD_ROWS, len(readings)) * answered / seconds,
        },
        "server": "mlflow models serve, 1 worker, --env-manager local",
        "model": {"uri": model_uri, **served_version(model_uri, tracking_uri)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1,200,10000", help="comma-separated request sizes")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per size (a tenth for ≥ 5000 rows)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the load test")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of the load test")
    parser.add_argument("--project", type=Path, default=Path("."), help="the project whose artifacts and store are used")
    parser.add_argument("--tracking-uri", default=None, help="default: the project's sqlite:///<project>/mlruns/mlflow.db")
    parser.add_argument("--model", default=MODEL_URI)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/serve_latency.json"))
    args = parser.parse_args()
    project = args.project.resolve()
    tracking_uri = args.tracking_uri or f"sqlite:///{project}/mlruns/mlflow.db"
    env = environment()
    result = measure(
        project, tracking_uri=tracking_uri, model_uri=args.model, sizes=[int(r) for r in args.rows.split(",")], count=args.requests,
        warmup=args.warmup, clients=args.clients, seconds=args.seconds,
    )
    report = {**result, **env, "measured_at": datetime.now().astimezone().isoformat(timespec="seconds")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["load"], indent=2))


if __name__ == "__main__":
    main()
