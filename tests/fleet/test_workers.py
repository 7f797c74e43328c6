"""What a fleet worker process starts with and gives back (flows/fleet.py,
components/fleet/pipeline.py)."""

from __future__ import annotations

import gc
import os

import dask
import numpy as np
from distributed import Client, LocalCluster
from distributed.nanny import _get_env_variables

from components.fleet.pipeline import resident_mib, release_freed_memory
from flows.fleet import _training_workers

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
