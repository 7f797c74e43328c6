"""One retrain's registration, run as its own process by the team-MLflow test:
``python -m tests.registry.concurrent_registration BUNDLE FRAME NAME START_AT``.

Waits until ``START_AT`` (epoch seconds, so every process has imported everything and
they register together), logs ``BUNDLE`` as a new version of ``NAME`` in a run of its
own on the server ``MLFLOW_TRACKING_URI`` names, passes it through the promotion gate on
``FRAME`` (parquet with labels) and prints the decision as JSON."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd

from components.registry.promotion import decide_and_alias
from components.registry.register import log_served_bundle


def main(bundle: str, frame_path: str, name: str, start_at: str) -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    frame = pd.read_parquet(frame_path)
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("team")  # created by the test, before the processes start
    time.sleep(max(float(start_at) - time.time(), 0))
    run_id = client.create_run(experiment.experiment_id, run_name=f"retrain-{Path(bundle).name}").info.run_id
    info = log_served_bundle(Path(bundle), "student", run_id, None, None, name)
    decision = decide_and_alias(name, str(info.registered_model_version), frame, "vus_pr", uri, vus_window=20)
    client.set_terminated(run_id)
    print(json.dumps({**decision.as_dict(), "run_id": run_id, "bundle": Path(bundle).name}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
