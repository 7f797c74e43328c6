"""Fleet training on Dask: the ``fleet-train`` subflow runs each group's pipeline
(:func:`components.fleet.pipeline.run_group`) as a task on Prefect's ``DaskTaskRunner``
(prefect-dask), on a temporary local cluster (``fleet.workers`` processes) or on the
scheduler ``fleet.dask_address`` names. A worker must see the project's folders at the
same absolute paths and reach the MLflow store (docs/scaling.md)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

import components
from components.config import PipelineConfig
from components.fleet.config import FleetConfig
from components.fleet.pipeline import GroupResult, run_group


def dask_runner(fleet: FleetConfig):
    """The task runner of :func:`train_groups`: the cluster at ``fleet.dask_address``, or a
    temporary local one with ``fleet.workers`` processes of ``fleet.threads_per_worker``
    threads (no dashboard)."""
    from prefect_dask import DaskTaskRunner

    if fleet.dask_address:
        return DaskTaskRunner(address=fleet.dask_address)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": fleet.workers, "threads_per_worker": fleet.threads_per_worker, "processes": True, "dashboard_address": None,
    })


@task(name="group", task_run_name="group-{group}", cache_policy=NO_CACHE)
def group_task(cfg: PipelineConfig, group: str, assets: list[str], fleet_run_id: str) -> GroupResult:
    return run_group(cfg, group, assets, fleet_run_id)


@flow(name="fleet-train", log_prints=True)
def train_groups(cfg: PipelineConfig, groups: dict[str, list[str]], fleet_run_id: str) -> dict[str, GroupResult]:
    """Every group's pipeline, in parallel on the flow's task runner; when all have
    ended, their results, or a RuntimeError naming each group that failed and why (the
    others are registered all the same: each group is a model of its own)."""
    futures = {group: group_task.submit(cfg, group, assets, fleet_run_id) for group, assets in groups.items()}
    results, failed = {}, {}
    for group, future in futures.items():
        try:
            results[group] = future.result()
        except Exception as err:  # noqa: BLE001 - reported together below
            failed[group] = f"{type(err).__name__}: {err}"
    logger = get_run_logger()
    for group, result in results.items():
        logger.info(f"group {group}: {result.model_name} v{result.version} @{result.alias} ({result.reason}); "
                    f"{result.rows} rows in {result.seconds:.1f} s, worker peak {result.peak_rss_mib:.0f} MiB, {result.rss_mib:.0f} MiB after")
    if failed:
        raise RuntimeError("fleet groups failed: " + "; ".join(f"{g}: {why[:500]}" for g, why in failed.items()))
    return results


def train_fleet(cfg: PipelineConfig, groups: dict[str, list[str]], fleet_run_id: str) -> dict[str, GroupResult]:
    """:func:`train_groups` on the task runner ``cfg.fleet`` sets up."""
    with _workers_report_here(), _workers_import_this_code(), _training_workers():
        return train_groups.with_options(task_runner=dask_runner(cfg.fleet))(cfg, groups, fleet_run_id)


@contextmanager
def _training_workers() -> Iterator[None]:
    """Local workers started in the block without two Dask defaults made for many short
    tasks, which cost a worker that trains networks group after group (measured on the
    demo plant, docs/scaling.md):

    - ``MALLOC_TRIM_THRESHOLD_=65536`` in the nanny's environment: glibc hands every freed
      block above 64 KiB back to the kernel at once, so each of training's large tensors
      costs a fresh mapping and its page faults; a student's training took 13.8 s instead
      of 7.5 s. A group's pipeline gives freed memory back once, when it ends
      (:func:`components.fleet.pipeline.release_freed_memory`).
    - the worker's statistical profiler, which samples every task's stack each 10 ms into
      call trees it keeps: about 4,000 more objects held for each group trained.
    """
    import dask

    with dask.config.set({
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
        "distributed.worker.profile.enabled": False,
    }):
        yield


@contextmanager
def _workers_import_this_code() -> Iterator[None]:
    """``sys.path`` without other copies of the ``components`` package while the block
    runs: local workers start with this process's ``sys.path``, to which loading an MLflow
    model prepends the model's code folder, a copy holding only the serving modules. A
    process that loaded a model before (a promotion, a served fleet's router) would start
    workers that cannot import the training pipeline."""
    home = str(Path(components.__file__).resolve().parents[1])
    copies = [p for p in sys.path if (Path(p or ".") / "components" / "__init__.py").is_file() and str(Path(p or ".").resolve()) != home]
    sys.path[:] = [p for p in sys.path if p not in copies]
    try:
        yield
    finally:
        sys.path[:0] = [p for p in copies if p not in sys.path]


@contextmanager
def _workers_report_here() -> Iterator[None]:
    """``PREFECT_API_URL`` set, for the block, to the API this process reports to (an
    ephemeral server's too): local workers inherit it, so their task runs and logs land
    in this flow's server instead of a temporary server each. A set value is left alone."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        os.environ["PREFECT_API_URL"] = str(client.api_url)
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
