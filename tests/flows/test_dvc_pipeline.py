"""`dvc repro` on a tiny config that leaves out every section it can (as a project's own
config does).

Default suite: a project the Prefect `retrain` flow trained is, to DVC, exactly what
its stages produce: the flow's last task (``record_in_dvc``: `dvc commit` finds every
declared output and dependency) leaves `dvc status` up to date, so `dvc repro` then does
nothing; a comment-only edit of the config reruns nothing; a threshold param change
reruns, for real, only threshold and what follows; so does
`dvc exp run -S conf/pipeline.yaml:threshold.warning_risk=…`, which `dvc exp show` lists.
Slow: the same from an empty project, every stage run by `dvc repro` itself.
"""

from __future__ import annotations

import json
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
    assert _stages_run(_run(DVC + ["repro"], root)) == []

    metrics = root / "reports" / "metrics.json"
    before = metrics.stat().st_mtime_ns
    cfg["threshold"] = {"warning_risk": 0.02}
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert _stages_run(_run(DVC + ["repro"], root)) == ["config", "threshold", "evaluate", "register"]
    assert metrics.stat().st_mtime_ns > before


def _per_model_metrics_and_plots(root: Path, kinds: list[str]) -> None:
    """`dvc metrics show`: a row of numbers per model; `dvc plots show`: per model its ROC
    and PR curves, its score timeline image, and loss curves for the networks."""
    metrics = json.loads(_run(DVC + ["metrics", "show", "--json"], root))[""]["data"]
    assert sorted(metrics) == [f"reports/metrics/{kind}.json" for kind in kinds]
    for values in metrics.values():
        assert values["data"]["vus_pr"] >= 0 and all(isinstance(v, (int, float)) for v in values["data"].values())
    plots = json.loads(_run(DVC + ["plots", "show", "--json"], root))["data"]
    for kind in kinds:
        assert {f"reports/plots/roc/{kind}.csv", f"reports/plots/pr/{kind}.csv", f"reports/plots/timeline/{kind}.png"} <= set(plots), kind
    roc = plots["reports/plots/roc/student.csv"][0]["content"]
    assert roc["encoding"]["x"]["field"] == "fpr" and len(roc["data"]["values"]) > 10
    networks = {"student", "lstm_ae", "anomaly_transformer", "omnianomaly"} & set(kinds)
    assert {p for p in plots if p.startswith("reports/plots/loss/")} == {f"reports/plots/loss/{kind}.csv" for kind in networks}
    assert {"reports/plots/contributions.png", "reports/plots/leaderboard.png"} <= set(plots)


def _commit(root: Path) -> None:
    _run(["git", "-c", "user.name=anomflow tests", "-c", "user.email=tests@anomflow.invalid", "commit", "-qam", "state"], root)


@pytest.mark.timeout(1200)  # two downstream reruns (threshold → evaluate → register), each a few minutes on 2 busy cores
def test_a_retrained_project_is_recorded_in_dvc_then_only_downstream_reruns_and_exp_run_sets_a_param(trained_project, tmp_path, monkeypatch):
    from components.config import load_config
    from components.dvc_record import record_in_dvc

    root = copy_trained_project(trained_project["root"], tmp_path / "proj")
    with_pipeline_code(root)
    cfg = _as_dvc_project(root)
    monkeypatch.chdir(root)
    assert record_in_dvc(load_config("conf/pipeline.yaml"), "conf/pipeline.yaml") == (
        "DVC: this run's outputs recorded in dvc.lock; `dvc status` reports the pipeline up to date"
    )  # what the retrain flow's last task does; it fails naming any output or dependency the flow did not write
    assert "Data and pipelines are up to date" in _run(DVC + ["status"], root)
    _per_model_metrics_and_plots(root, sorted(cfg["models"]))
    _noop_then_only_downstream(root, cfg)

    with (root / ".gitignore").open("a") as ignored:  # beside the outputs `dvc add` / `dvc commit` listed
        ignored.write("mlruns/\n")  # MLflow's store is the run log, not versioned files
    _run(["git", "add", "-A"], root)
    _commit(root)
    warning = json.loads((root / "thresholds" / "student.json").read_text())["warning"]
    ran = _run(DVC + ["exp", "run", "-S", "conf/pipeline.yaml:threshold.warning_risk=0.005", "--name", "risk-0.005"], root)
    assert _stages_run(ran) == ["config", "threshold", "evaluate", "register"]
    assert yaml.safe_load((root / "conf" / "pipeline.yaml").read_text())["threshold"]["warning_risk"] == 0.005
    assert json.loads((root / "thresholds" / "student.json").read_text())["warning"] > warning  # rarer risk, higher level
    shown = json.loads(_run(DVC + ["exp", "show", "--json"], root))
    experiments = [e for rev in shown for e in (rev.get("experiments") or []) if e.get("name") == "risk-0.005"]
    assert experiments, shown
    params = experiments[0]["revs"][0]["data"]["params"]["conf/pipeline.yaml"]["data"]
    assert params["threshold"]["warning_risk"] == 0.005


def test_a_run_on_another_config_or_outside_a_dvc_project_records_nothing(tmp_path):
    from components.config import load_config
    from components.dvc_record import record_in_dvc

    root = make_tiny_project(tmp_path / "proj")
    cfg = load_config(root / "conf" / "pipeline.yaml")
    assert record_in_dvc(cfg, root / "conf" / "pipeline.yaml", root) == "DVC: not a DVC project here; nothing recorded"
    (root / ".dvc").mkdir()
    (root / "dvc.yaml").write_text((Path(__file__).parents[2] / "dvc.yaml").read_text())
    assert record_in_dvc(cfg, root / "conf" / "other.yaml", root).startswith("DVC: dvc.yaml describes conf/pipeline.yaml, not ")
    assert not (root / "dvc.lock").exists() and not (root / "artifacts" / "params.yaml").exists()


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
