"""`dvc repro` on a tiny config that leaves out every section it can (as a project's own
config does) runs every stage, then is a no-op; a comment-only edit reruns only the
config stage; a threshold param change reruns only threshold and what follows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.tiny_project import make_tiny_project


def _run(cmd: list[str], cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def _stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([\w@-]+)'", output)


DEFAULTED_SECTIONS = ("threshold", "evaluate", "register", "mlflow")


def test_dvc_repro_then_noop_then_only_downstream(tmp_path):
    root = make_tiny_project(tmp_path / "proj", with_code=True)
    cfg_path = root / "conf" / "pipeline.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    for section in DEFAULTED_SECTIONS:
        del cfg[section]
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    dvc = [sys.executable, "-m", "dvc"]
    _run(["git", "init", "-q"], root)
    _run(dvc + ["init", "-q"], root)
    _run(dvc + ["config", "core.analytics", "false"], root)
    _run(dvc + ["add", "-q", "data"], root)

    first = _run(dvc + ["repro"], root)
    trains = [f"train@{m}" for m in ("lstm_ae", "anomaly_transformer", "omnianomaly", "pca", "iforest")]
    assert _stages_run(first) == ["config", "ingest", "validate", "prepare", *trains, "distil", "threshold", "evaluate", "register"]
    assert (root / "reports" / "metrics.json").exists() and (root / "dvc.lock").exists()
    resolved = yaml.safe_load((root / "artifacts" / "params.yaml").read_text())
    assert set(DEFAULTED_SECTIONS) <= set(resolved) and cfg["prepare"].items() <= resolved["prepare"].items()

    second = _run(dvc + ["repro"], root)
    assert _stages_run(second) == []

    cfg_path.write_text("# the same settings\n" + cfg_path.read_text())
    assert _stages_run(_run(dvc + ["repro"], root)) == ["config"]

    cfg["threshold"] = {"warning_risk": 0.02}
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    third = _run(dvc + ["repro"], root)
    assert _stages_run(third) == ["config", "threshold", "evaluate", "register"]
