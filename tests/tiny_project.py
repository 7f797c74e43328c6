"""A tiny anomflow project: the real conf/pipeline.yaml shrunk to seconds, plus a small
demo plant, laid out like the repository so the real entry points run unchanged."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import yaml

from components.sources.demo_plant import write_demo_plant

REPO_ROOT = Path(__file__).resolve().parents[1]

_NETWORK = {"max_epochs": 3, "train_stride": 4, "batch_size": 128, "patience": 2}
_TEACHER = {"max_epochs": 1, "train_stride": 8}
TINY_MODELS = {
    "student": {"window": 20, **_NETWORK},
    "lstm_ae": {"window": 16, "hidden_size": 16, "latent_size": 8, **_NETWORK},
    "anomaly_transformer": _TEACHER,
    "omnianomaly": _TEACHER,
    "pca": {"window": 16, "train_stride": 4},
    "iforest": {"window": 16, "train_stride": 4, "n_estimators": 10},
    "kmeans_ad": {"window": 16, "train_stride": 4},
    "copod": {"window": 16, "train_stride": 4},
    "ecod": {"window": 16, "train_stride": 4},
}


def tiny_config() -> dict:
    cfg = yaml.safe_load((REPO_ROOT / "conf" / "pipeline.yaml").read_text())
    for kind, values in TINY_MODELS.items():
        cfg["models"][kind].update(values)
    return cfg


def make_tiny_project(root: Path, *, with_code: bool = False) -> Path:
    """Write ``conf/pipeline.yaml`` (tiny) and ``data/demo`` (2 pumps, 4 days) under
    ``root``; with ``with_code``, also copy what ``dvc.yaml`` depends on."""
    (root / "conf").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(tiny_config(), sort_keys=False))
    write_demo_plant(root / "data" / "demo", seed=7, days=4, assets=2)
    (root / "mlruns").mkdir(exist_ok=True)
    if with_code:
        with_pipeline_code(root)
    return root


def with_pipeline_code(root: Path) -> None:
    """Copy what ``dvc.yaml`` depends on (the file itself and ``components/``) into ``root``."""
    shutil.copy2(REPO_ROOT / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(REPO_ROOT / "components", root / "components", ignore=shutil.ignore_patterns("__pycache__"))


def copy_trained_project(src: Path, dst: Path) -> Path:
    """A copy of a trained project at ``dst`` whose MLflow store (``mlruns/mlflow.db``)
    points at the copy's own artifacts: MLflow keeps absolute artifact locations, so a
    plain copy would log into ``src``'s folders."""
    shutil.copytree(src, dst)
    old, new = str(src.resolve()), str(dst.resolve())  # also inside file:// URIs
    with sqlite3.connect(dst / "mlruns" / "mlflow.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for column in [row[1] for row in db.execute(f"PRAGMA table_info('{table}')") if "CHAR" in row[2].upper() or "TEXT" in row[2].upper()]:
                db.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) WHERE "{column}" LIKE ?', (old, new, f"%{old}%"))
    return dst


def retrained(root: Path) -> dict:
    """The result of one real `retrain` flow run on the project at ``root`` (run from there)."""
    import os

    from flows.retrain import retrain

    previous = Path.cwd()
    os.chdir(root)
    try:
        return retrain(config_path="conf/pipeline.yaml")
    finally:
        os.chdir(previous)
