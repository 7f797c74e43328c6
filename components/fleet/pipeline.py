"""One group's pipeline, as a Dask worker runs it: its assets' validated rows (split from the
fleet's by :func:`split_rows` before the workers start) → prepare →
train every model → threshold → evaluate → register as ``<name>-<group>``, promoted on
its own. The stage functions are the single-model pipeline's (:mod:`components.stages`),
run on the group's config (:func:`~components.fleet.groups.group_config`)."""

from __future__ import annotations

import ctypes
import gc
import os
import resource
import shutil
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow.parquet as pq

from components import stages
from components.config import PipelineConfig
from components.detectors.registry import SERVED_KIND
from components.fleet.groups import group_config
from components.frames import ASSET
from components.registry.tracking import failed_on_error, open_parent_run
from components.training.model_folders import install_models, staged_folder


@dataclass(frozen=True)
class GroupResult:
    """What one group's pipeline left: its registered version and alias, the served
    model's test metric, the rows it trained on, the process that ran it
    (``host:pid``), its start and end (epoch s), wall time (s), each stage's wall time
    (s, ``prepare`` … ``register``), that process's peak resident memory so far and its
    resident memory once the group's freed memory is given back (MiB)."""

    group: str
    assets: list[str]
    model_name: str
    version: str
    alias: str
    reason: str
    vus_pr: float | None
    rows: int
    worker: str
    started_at: float
    ended_at: float
    seconds: float
    stage_s: dict[str, float]
    peak_rss_mib: float
    rss_mib: float

    def as_dict(self) -> dict:
        return asdict(self)


def run_group(cfg: PipelineConfig, group: str, assets: list[str], fleet_run_id: str) -> GroupResult:
    """The pipeline of ``group`` (``assets``) nested under the fleet's MLflow run
    ``fleet_run_id``. ``cfg``: the fleet's config with absolute paths
    (:func:`~components.fleet.groups.absolute`); the group's rows are those
    :func:`split_rows` wrote. Each model trains in this process, one after the other,
    into a folder installed when all are trained (a failure keeps the group's previous
    models)."""
    start, started_at = time.perf_counter(), time.time()
    stage_s: dict[str, float] = {}
    own = group_config(cfg, group)
    rows = pq.read_metadata(stages.validated_path(own)).num_rows
    parent = open_parent_run(own, f"group-{group}", {"mlflow.parentRunId": fleet_run_id, "anomflow.group": group, "anomflow.entry": "fleet"})
    with failed_on_error(own.mlflow, parent):
        with _timed(stage_s, "prepare"):
            stages.run_prepare(own)
        with _timed(stage_s, "train"):
            _train_models(own, parent)
        with _timed(stage_s, "threshold"):
            stages.run_threshold(own)
        with _timed(stage_s, "evaluate"):
            metrics = stages.run_evaluate(own)
        with _timed(stage_s, "register"):
            registration = stages.run_register(own)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    rss_mib = release_freed_memory()
    return GroupResult(
        group=group, assets=list(assets), model_name=own.register_.model_name, version=registration["version"],
        alias=registration["alias"], reason=registration["reason"], vus_pr=metrics[SERVED_KIND].get("vus_pr"),
        rows=rows, worker=f"{socket.gethostname()}:{os.getpid()}", started_at=started_at, ended_at=time.time(),
        seconds=time.perf_counter() - start, stage_s=stage_s, peak_rss_mib=peak_mib,
        rss_mib=rss_mib,
    )


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    """The block's wall time (s) recorded as ``seconds[stage]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = round(time.perf_counter() - start, 3)


def release_freed_memory() -> float:
    """Collect garbage and give the heap's free pages back to the kernel (glibc's
    ``malloc_trim``; elsewhere only the collection), so a worker that trains group after
    group stays near one group's footprint. Returns this process's resident memory
    afterwards (MiB)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    return resident_mib()


def resident_mib() -> float:
    """This process's resident memory now (MiB), from ``/proc/self/statm`` (0 where absent)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def split_rows(cfg: PipelineConfig, groups: dict[str, list[str]]) -> dict[str, int]:
    """The fleet's validated rows (``cfg``'s) written once, each group's into its own
    validated file, where :func:`run_group` reads them: a worker then holds one group's
    rows, not the fleet's, whatever the fleet's size. Returns the rows of each group; a
    ValueError names the assets of rows in no group."""
    validated = pd.read_parquet(stages.validated_path(cfg))
    group_of = {asset: group for group, assets in groups.items() for asset in assets}
    keys = validated[ASSET].map(group_of)
    if keys.isna().any():  # no row left out unsaid
        stray = sorted(validated.loc[keys.isna(), ASSET].unique())
        raise ValueError(f"{stages.validated_path(cfg)}: assets in no group: {', '.join(map(str, stray))}")
    counts = {}
    for group, rows in validated.groupby(keys, sort=False):
        path = stages.validated_path(group_config(cfg, group))
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(path, index=False)
        counts[group] = len(rows)
    return counts


def _train_models(cfg: PipelineConfig, parent_run_id: str) -> None:
    """Every model of ``cfg``, those others learn from first, into a staged folder moved
    into ``models/`` when all are trained."""
    models_dir = cfg.paths.models_dir()
    staged = staged_folder(models_dir)
    staged_cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"models": str(staged)})})
    first, then = cfg.training_rounds()
    try:
        for kind in first + then:
            stages.run_train(staged_cfg, kind, parent_run_id)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    install_models(staged, models_dir, first + then)
