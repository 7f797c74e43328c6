"""MLflow tracking helpers: store location, experiment, the pipeline's run tree, lineage tags."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd
import yaml

from components.config import MlflowConfig, PipelineConfig, resolved_settings, resolved_yaml


def tracking_uri(cfg: MlflowConfig) -> str:
    """``MLFLOW_TRACKING_URI`` if set (a team server), else the configured local store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri


def ensure_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Raise ConnectionError naming ``uri`` if it is an MLflow server that does not answer
    ``/health`` within ``timeout_s``: MLflow's client retries a refused connection for
    about four minutes before it says so. Other stores (SQLite, files) pass."""
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_s)
    except requests.RequestException as err:
        raise ConnectionError(
            f"cannot reach the MLflow server at {uri} ({type(err).__name__}): start it, or point "
            "MLFLOW_TRACKING_URI (else the config's mlflow.tracking_uri) at a store that answers"
        ) from None


@contextmanager
def using_tracking_uri(uri: str) -> Iterator[None]:
    """Make ``uri`` MLflow's global store (fluent API, ``models:/`` URIs) for a block.

    ``mlflow.set_tracking_uri`` (also called by Lightning's MLFlowLogger) writes
    ``MLFLOW_TRACKING_URI`` into the environment; restoring it afterwards keeps that
    variable meaning what the user set, so a later config in the same process is honoured.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_state

    saved_env = os.environ.get("MLFLOW_TRACKING_URI")
    saved_uri = tracking_state._tracking_uri  # None unless someone set it explicitly
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        tracking_state._tracking_uri = saved_uri
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def configure_tracking(cfg: MlflowConfig) -> str:
    """Create the store's folder and the experiment if needed; return the experiment id.

    A new experiment in a local store keeps its artifacts under ``cfg.artifact_root``;
    one on an MLflow server (``http(s)://``) keeps the server's default location, which
    for a server started with ``--serve-artifacts`` is its proxied artifact store: every
    client reads and writes artifacts through the server, not in a folder of its own."""
    import mlflow

    uri = tracking_uri(cfg)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name(cfg.experiment)
    if experiment is not None:
        return experiment.experiment_id
    if uri.startswith(("http://", "https://")):
        return _created_or_existing(client, cfg.experiment)
    artifact_root = Path(cfg.artifact_root).resolve()
    artifact_root.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(cfg.experiment, artifact_location=artifact_root.as_uri())


def _created_or_existing(client, name: str) -> str:
    """Create experiment ``name`` on a server; if another client created it meanwhile
    (two retrains starting together on a team server), its id."""
    from mlflow.exceptions import MlflowException

    try:
        return client.create_experiment(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


RUN_FILE = "mlflow_run.json"
"""A trained model's :class:`RunIds`, in its model folder."""


@dataclass(frozen=True)
class RunIds:
    """The pipeline's parent run and the nested run of one model."""

    parent: str
    child: str

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> "RunIds":
        return cls(**json.loads(Path(path).read_text()))


class RunParams:
    """Logs a model's parameters to its MLflow run as Lightning's ``MLFlowLogger`` logs a
    network's (values cut to 250 characters, batches of 100), for the models Lightning
    does not train (the classic baselines), so their runs need no training framework."""

    def __init__(self, uri: str, run_id: str) -> None:
        self.uri, self.run_id = uri, run_id

    def log_hyperparams(self, params: dict) -> None:
        import mlflow
        from mlflow.entities import Param

        items = [Param(key=key, value=str(value)[:250]) for key, value in params.items()]
        client = mlflow.MlflowClient(self.uri)
        for start in range(0, len(items), 100):
            client.log_batch(self.run_id, params=items[start : start + 100])


SETTINGS_ARTIFACT = "config/pipeline.yaml"
PARAM_SECTIONS = ("prepare", "threshold", "evaluate", "register")
MAX_PARAM_CHARS = 500


def pipeline_params(settings: dict) -> dict[str, str]:
    """The pipeline-level settings as flat MLflow params (``prepare.train_fraction``, ...): the
    sections no single model's run logs, the sampling interval, the sensors and which
    models are trained. Long values are cut at MAX_PARAM_CHARS; the full config is the
    run's ``config/pipeline.yaml``."""
    params = {f"{section}.{key}": value for section in PARAM_SECTIONS for key, value in settings[section].items()}
    params["validate.expected_interval_s"] = settings["validate"]["expected_interval_s"]
    params["validate.sensors"] = ",".join(settings["validate"]["sensors"])
    params["seed"] = settings["seed"]
    params["models"] = ",".join(settings["models"])
    text = {key: str(value) for key, value in params.items()}
    return {key: value if len(value) <= MAX_PARAM_CHARS else value[: MAX_PARAM_CHARS - 1] + "…" for key, value in text.items()}


def start_pipeline_run(cfg: PipelineConfig, name: str, tags: dict[str, str]) -> str:
    """Create the parent run of one pipeline execution, with the config it runs (every
    default filled in) as ``config/pipeline.yaml`` and :func:`pipeline_params`; returns
    its id (left running)."""
    import mlflow
    from mlflow.entities import Param

    experiment_id = configure_tracking(cfg.mlflow)
    client = mlflow.MlflowClient(tracking_uri(cfg.mlflow))
    run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    client.log_text(run_id, resolved_yaml(cfg), SETTINGS_ARTIFACT)
    client.log_batch(run_id, params=[Param(key, value) for key, value in pipeline_params(resolved_settings(cfg)).items()])
    return run_id


PARENT_RUN_FILE = "mlflow_parent_run.json"


def shared_parent_run(cfg: PipelineConfig) -> str:
    """The pipeline's parent run for stages run one by one (``dvc repro``, the CLI):
    the run named in ``<artifacts>/mlflow_parent_run.json`` while it is still open,
    else a new one (recorded there), so every model trained on the same prepared data
    nests under one parent. The Prefect flow opens its own parent and records it here."""
    import mlflow

    record = cfg.paths.artifacts_dir() / PARENT_RUN_FILE
    if record.exists():
        run_id = json.loads(record.read_text())["run_id"]
        try:
            if mlflow.MlflowClient(tracking_uri(cfg.mlflow)).get_run(run_id).info.status == "RUNNING":
                return run_id
        except mlflow.exceptions.MlflowException:
            pass
    return open_parent_run(cfg, "pipeline", {"anomflow.entry": "cli"})


def open_parent_run(cfg: PipelineConfig, name: str, tags: dict[str, str]) -> str:
    """Start a new parent run and record it as the one later stages nest under."""
    run_id = start_pipeline_run(cfg, name, tags)
    artifacts_dir = cfg.paths.artifacts_dir()
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    (artifacts_dir / PARENT_RUN_FILE).write_text(json.dumps({"run_id": run_id}))
    return run_id


@contextmanager
def failed_on_error(cfg: MlflowConfig, run_id: str) -> Iterator[None]:
    """Mark run ``run_id`` FAILED if the block raises (then re-raise), so a pipeline or a
    model that stopped does not show as running in the MLflow UI forever."""
    try:
        yield
    except BaseException:
        import mlflow

        mlflow.MlflowClient(tracking_uri(cfg)).set_terminated(run_id, "FAILED")
        raise


def discard_child_runs(cfg: MlflowConfig, parent_run_id: str, why: str) -> None:
    """Mark the runs nested under ``parent_run_id`` that did not fail KILLED, tagged
    ``anomflow.discarded`` = ``why``: their models were not installed, and a run still
    RUNNING (its process killed) or FINISHED would say otherwise under a failed parent."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri(cfg))
    experiment = client.get_run(parent_run_id).info.experiment_id
    for run in client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'"):
        if run.info.status != "FAILED":
            client.set_tag(run.info.run_id, "anomflow.discarded", why)
            client.set_terminated(run.info.run_id, "KILLED")


def start_model_run(cfg: MlflowConfig, parent_run_id: str, model_name: str) -> str:
    """Create a run nested under ``parent_run_id`` for one model; returns its id."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri(cfg))
    parent = client.get_run(parent_run_id)
    tags = {"mlflow.parentRunId": parent_run_id, "anomflow.model": model_name}
    return client.create_run(parent.info.experiment_id, run_name=model_name, tags=tags).info.run_id


def git_commit(cwd: str | Path = ".") -> str:
    """The checked-out commit (``+dirty`` when the tree has changes), or ``unknown``."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def dvc_data_hash(dvc_file: str | Path = "data.dvc") -> str:
    """The md5 DVC recorded for ``data/`` in ``data.dvc``, or ``untracked``."""
    try:
        outs = yaml.safe_load(Path(dvc_file).read_text())["outs"]
        return str(outs[0]["md5"])
    except (OSError, KeyError, IndexError, TypeError):
        return "untracked"


def dataset_digest(frame: pd.DataFrame) -> str:
    """sha256 of the frame's content (values and column names; not the file encoding)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def lineage_tags(frame: pd.DataFrame) -> dict[str, str]:
    """Tags that pin a run to its data and code."""
    return {
        "anomflow.dataset_digest": dataset_digest(frame),
        "anomflow.dvc_data_hash": dvc_data_hash(),
        "mlflow.source.git.commit": git_commit(),
    }
