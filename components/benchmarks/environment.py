"""What every benchmark report records beside its numbers (git commit, package versions,
hardware, load at the start) and how the cost benchmarks measure peak memory: run the
work in a child process and watch it.

Peak RSS comes from two sources, both reported:

* ``peak_rss_mb``: the child's own high-water mark, ``getrusage(RUSAGE_SELF).ru_maxrss``
  read by the child (exact, per process, includes short spikes);
* ``peak_tree_rss_mb``: the largest *sum* of RSS over the child and its descendants,
  sampled by psutil every ``interval_s`` (e.g. the `score` flow's temporary Prefect
  server is a separate process); sampling can miss spikes shorter than the interval.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "pytorch-lightning", "numpy", "pandas", "pyarrow", "mlflow", "prefect", "scikit-learn", "psutil")
MIB = 1024 * 1024


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (``missing`` when not installed), plus Python's."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total_mb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / MIB
    except (ValueError, OSError, AttributeError):
        return None


def torch_cpu() -> dict:
    """torch's threads and version, the CPU model and the instruction set torch's kernels
    dispatch to (``torch_cpu_capability``: AVX2, AVX512, …, forced with
    ``ATEN_CPU_CAPABILITY``): what to compare first when the same seeded training gives
    different models on two machines."""
    import torch

    return {
        "cpu": cpu_model(), "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
    }


def hardware() -> dict:
    """CPU, cores, memory, platform, torch's CPU view (:func:`torch_cpu`), the OMP wait
    policy and the load average now (a busy machine makes every timing slower: the load
    says how busy it was)."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        **torch_cpu(), "cpu_count": os.cpu_count(), "memory_total_mb": _memory_total_mb(), "platform": platform.platform(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "load_average_1_5_15": load,
    }


CODE_ROOT = Path(__file__).resolve().parents[2]


def environment() -> dict:
    """``git_commit`` (of the code that runs, ``+dirty`` with uncommitted changes, listed
    in ``changed_files``), ``code_root``, ``versions`` and ``hardware`` for a report."""
    from components.registry.tracking import git_commit

    return {
        "git_commit": git_commit(CODE_ROOT), "changed_files": changed_files(CODE_ROOT), "code_root": str(CODE_ROOT),
        "versions": versions(), "hardware": hardware(),
    }


def changed_files(root: Path = CODE_ROOT) -> list[str] | None:
    """Tracked files with uncommitted changes and untracked files under ``root`` (what
    ``+dirty`` in the commit stands for), or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return [line[3:] for line in done.stdout.splitlines() if line.strip()]


def self_peak_rss_mb() -> float:
    """This process's peak RSS so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Watched:
    """A finished child: exit code, wall seconds, its output, and its peak memory (MiB):
    ``ru_maxrss_mb`` the exact high-water mark of the largest single process in its tree
    (``wait4``'s rusage: the child, or a descendant it waited for), ``peak_child_rss_mb``
    and ``peak_tree_rss_mb`` the largest sampled RSS of the child alone and summed over
    the child and its descendants (None without psutil)."""

    returncode: int
    wall_s: float
    ru_maxrss_mb: float
    peak_child_rss_mb: float | None
    peak_tree_rss_mb: float | None
    output: str


def _sampler(pid: int, peaks: dict, stop: threading.Event, interval_s: float) -> None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is pinned in constraints.txt
        return
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        try:
            child = root.memory_info().rss
            tree = child
            for sub in root.children(recursive=True):
                try:
                    tree += sub.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            break
        peaks["child"] = max(peaks["child"] or 0.0, child / MIB)
        peaks["tree"] = max(peaks["tree"] or 0.0, tree / MIB)
        stop.wait(interval_s)


def run_watched(cmd: list[str], *, env: dict | None = None, cwd: str | Path | None = None, interval_s: float = 0.2, timeout_s: float | None = None) -> Watched:
    """Run ``cmd`` (stdout and stderr together into the returned output), sampling the RSS
    of it and its descendants every ``interval_s``; killed after ``timeout_s``."""
    import tempfile

    peaks: dict = {"child": None, "tree": None}
    stop = threading.Event()
    with tempfile.TemporaryFile("w+") as log:
        begin = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
        watcher = threading.Thread(target=_sampler, args=(proc.pid, peaks, stop, interval_s), daemon=True)
        watcher.start()
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if timeout_s is not None and time.perf_counter() - begin > timeout_s:
                    proc.kill()
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        finally:
            stop.set()
            watcher.join()
        wall = time.perf_counter() - begin
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    return Watched(proc.returncode, wall, usage.ru_maxrss / 1024, peaks["child"], peaks["tree"], output)


def run_python_child(module: str, request: dict, *, timeout_s: float | None = None, env: dict | None = None) -> dict:
    """Run ``python -m module REQUEST.json RESULT.json`` in a fresh process (so its peak RSS
    is its own) and return the result the child wrote, with the watcher's
    ``ru_maxrss_mb`` and ``peak_tree_rss_mb`` and the child's ``process_wall_s``
    (interpreter start and imports included) added."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req.write_text(json.dumps(request))
        watched = run_watched([sys.executable, "-P", "-m", module, str(req), str(res)], env=env, timeout_s=timeout_s)  # -P: the installed (or PYTHONPATH) code, not the cwd's
        if watched.returncode != 0 or not res.exists():
            raise RuntimeError(f"{module} child failed (exit {watched.returncode}):\n{watched.output[-3000:]}")
        result = json.loads(res.read_text())
    result["peak_tree_rss_mb"] = watched.peak_tree_rss_mb
    result["process_wall_s"] = watched.wall_s
    result["ru_maxrss_mb"] = watched.ru_maxrss_mb
    return result
