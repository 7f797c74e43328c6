"""What a fleet worker process starts with and gives back (flows/fleet.py,
components/fleet/pipeline.py)."""

from __future__ import annotations

import gc
import os
import sys

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster
from distributed.nanny import _get_env_variables

from components.fleet.pipeline import resident_mib, release_freed_memory
from flows.fleet import _training_workers, _workers_import_this_code

PRE_SPAWN = "distributed.nanny.pre-spawn-environ"
PROFILE = "distributed.worker.profile.enabled"


def test_local_workers_start_without_dasks_malloc_trim_threshold_or_profiler():
    assert "MALLOC_TRIM_THRESHOLD_" in _get_env_variables(PRE_SPAWN)  # Dask's default, which halves training speed
    with _training_workers():
        environ = _get_env_variables(PRE_SPAWN)
        assert "MALLOC_TRIM_THRESHOLD_" not in environ and environ["OMP_NUM_THREADS"] == "1"  # the rest kept
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            seen = client.run(_worker_view)
    assert list(seen.values()) == [(None, False)]
    assert dask.config.get(f"{PRE_SPAWN}.MALLOC_TRIM_THRESHOLD_") == 65536 and dask.config.get(PROFILE)  # restored after the block


def _worker_view() -> tuple[str | None, bool]:
    """What a worker process sees: its trim threshold, and whether it profiles its tasks."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get(PROFILE)


def test_memory_freed_between_live_blocks_is_given_back_to_the_kernel():
    blocks = [np.ones(4096) for _ in range(20_000)]  # ~640 MiB of 32 KiB heap blocks (below the mmap threshold)
    kept = blocks[::10]  # every tenth stays alive, so the heap cannot shrink from its top
    del blocks
    gc.collect()
    holding = resident_mib()  # glibc keeps the freed pages
    after = release_freed_memory()
    assert holding - after > 450 and len(kept) == 2_000


def test_workers_import_the_pipeline_after_this_process_loaded_a_model(tmp_path):
    """Loading an MLflow model prepends its code folder (a ``components`` copy holding the
    serving modules only) to ``sys.path``, which local workers start with."""
    from components.registry.serving_code import copy_serving_code

    copy_serving_code(tmp_path / "code")
    sys.path.insert(0, str(tmp_path / "code"))  # what mlflow.pyfunc.load_model does
    try:
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            with pytest.raises(Exception, match="No module named 'components[.]"):  # the failure this guards against
                client.run(_pipeline_import)
        with _workers_import_this_code():
            assert str(tmp_path / "code") not in sys.path
            with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
                assert list(client.run(_pipeline_import).values()) == ["imported"]
        assert sys.path[0] == str(tmp_path / "code")  # put back after the block
    finally:
        sys.path.remove(str(tmp_path / "code"))


def _pipeline_import() -> str:
    """What a worker gets importing the fleet's pipeline: "imported" or the error."""
    try:
        import components.fleet.pipeline  # noqa: F401
    except ImportError as error:
        return str(error)
    return "imported"
