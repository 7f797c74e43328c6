"""`dvc repro` on a tiny config that leaves out every section it can (as a project's own
config does).

Default suite: a project the Prefect `retrain` flow trained is, to DVC, exactly what
its stages produce (`dvc commit` finds every declared output and dependency), so
`dvc repro` then does nothing; a comment-only edit reruns only the config stage; a
threshold param change reruns, for real, only threshold and what follows.
Slow: the same from an empty project, every stage run by `dvc repro` itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.tiny_project import copy_trained_project, make_tiny_project, with_pipeline_code

DEFAULTED_SECTIONS = ("threshold", "evaluate", "register", "mlflow")
DVC = [sys.executable, "-m", "dvc"]


def _run(cmd: list[str], cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def _stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([\w@-]+)'", output)


def _as_dvc_project(root: Path) -> dict:
    """Leave the defaulted sections out of ``root``'s config, make it a git + DVC project
    with ``data/`` added; returns the config as written."""
    cfg_path = root / "conf" / "pipeline.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    for section in DEFAULTED_SECTIONS:
        del cfg[section]
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(DVC + ["init", "-q"], root)
    _run(DVC + ["config", "core.analytics", "false"], root)
    _run(DVC + ["add", "-q", "data"], root)
    return cfg


def _noop_then_only_downstream(root: Path, cfg: dict) -> None:
    assert _stages_run(_run(DVC + ["repro"], root)) == []
    resolved = yaml.safe_load((root / "artifacts" / "params.yaml").read_text())
    assert set(DEFAULTED_SECTIONS) <= set(resolved) and cfg["prepare"].items() <= resolved["prepare"].items()

    cfg_path = root / "conf" / "pipeline.yaml"
    cfg_path.write_text("# the same settings\n" + cfg_path.read_text())
    assert _stages_run(_run(DVC + ["repro"], root)) == ["config"]

    metrics = root / "reports" / "metrics.json"
    before = metrics.stat().st_mtime_ns
    cfg["threshold"] = {"warning_risk": 0.02}
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert _stages_run(_run(DVC + ["repro"], root)) == ["config", "threshold", "evaluate", "register"]
    assert metrics.stat().st_mtime_ns > before


def test_a_retrained_project_is_up_to_date_for_dvc_then_only_downstream_reruns(trained_project, tmp_path):
    root = copy_trained_project(trained_project["root"], tmp_path / "proj")
    with_pipeline_code(root)
    cfg = _as_dvc_project(root)
    assert _stages_run(_run(DVC + ["repro", "config"], root)) == ["config"]
    _run(DVC + ["commit", "--force"], root)  # fails naming any output or dependency of dvc.yaml that the flow did not write
    _noop_then_only_downstream(root, cfg)


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_noop_then_only_downstream(tmp_path):
    root = make_tiny_project(tmp_path / "proj", with_code=True)
    cfg = _as_dvc_project(root)
    first = _run(DVC + ["repro"], root)
    assert _stages_run(first) == ["config", "ingest", "validate", "prepare", "train", "threshold", "evaluate", "register"]
    assert (root / "reports" / "metrics.json").exists() and (root / "dvc.lock").exists()
    trained = sorted(p.name for p in (root / "models").iterdir() if (p / "model.json").exists())
    assert trained == sorted(cfg["models"]) and sorted(p.stem for p in (root / "thresholds").glob("*.json")) == trained
    _noop_then_only_downstream(root, cfg)
