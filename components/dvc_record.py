"""Record a run that did not go through ``dvc repro`` (the Prefect ``retrain`` flow,
``make demo``) in ``dvc.lock``, so that ``dvc status`` then says the pipeline is up to date.

The flow runs the same stages with the same commands' code on the same config, so its
outputs are what ``dvc repro`` would have produced: writing the config stage's output
(the resolved settings) and ``dvc commit --force`` hash them into ``dvc.lock``, as
``dvc repro`` itself does after running the stages. Only a run on the config file that
``dvc.yaml``'s config stage reads is recorded: another config's outputs are not what
``dvc.yaml`` describes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from components.config import PipelineConfig, resolved_yaml

CONFIG_STAGE = "config"


def config_stage_files(root: Path) -> tuple[Path, Path] | None:
    """(params file it reads, file it writes) of ``root``'s ``dvc.yaml`` config stage,
    relative to ``root``; None where ``root`` is no DVC project or has no such stage."""
    dvc_yaml = root / "dvc.yaml"
    if not (dvc_yaml.is_file() and (root / ".dvc").is_dir()):
        return None
    stage = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {}).get(CONFIG_STAGE)
    if not stage:
        return None
    params = [name for entry in stage.get("params", []) if isinstance(entry, dict) for name in entry]
    outs = [entry if isinstance(entry, str) else next(iter(entry)) for entry in stage.get("outs", [])]
    if len(params) != 1 or len(outs) != 1:
        return None
    return Path(params[0]), Path(outs[0])


def _dvc() -> list[str] | None:
    beside = Path(sys.executable).with_name("dvc")
    found = str(beside) if beside.exists() else shutil.which("dvc")
    return [found] if found else None


def record_in_dvc(cfg: PipelineConfig, config_path: str | Path, root: Path | None = None) -> str:
    """Record this run's outputs in ``root``'s ``dvc.lock`` (module doc); one line saying
    what was done, or why nothing was."""
    root = Path.cwd() if root is None else root
    files = config_stage_files(root)
    if files is None:
        return "DVC: not a DVC project here; nothing recorded"
    params_file, resolved_file = files
    if Path(config_path).resolve() != (root / params_file).resolve():
        return f"DVC: dvc.yaml describes {params_file}, not {config_path}; dvc.lock left as it was"
    dvc = _dvc()
    if dvc is None:
        return "DVC: dvc is not installed; dvc.lock left as it was (`dvc commit --force` records this run)"
    (root / resolved_file).parent.mkdir(parents=True, exist_ok=True)
    (root / resolved_file).write_text(resolved_yaml(cfg, params_file))
    done = subprocess.run([*dvc, "commit", "--force", "--quiet"], cwd=root, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        return f"DVC: `dvc commit --force` failed ({reason[-1] if reason else f'exit {done.returncode}'}); dvc.lock left as it was"
    return "DVC: this run's outputs recorded in dvc.lock; `dvc status` reports the pipeline up to date"
