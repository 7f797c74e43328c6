"""Which assets train together, and each group's own view of the pipeline config: its own
folders, its own registered model, the same settings otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from components.config import PathsConfig, PipelineConfig
from components.fleet.config import PER_ASSET, FleetConfig
from components.frames import ASSET

GROUPS_DIR = "groups"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def group_name(value: object) -> str:
    """A group's name as it appears in folders and registered model names (characters
    other than letters, digits, ``_ . -`` become ``_``)."""
    name = _UNSAFE.sub("_", str(value)).strip("._")
    if not name:
        raise ValueError(f"group {value!r} has no usable name: use letters, digits, '_', '.' or '-'")
    return name


def assign_groups(assets: list[str], cfg: FleetConfig) -> dict[str, list[str]]:
    """{group: its assets (sorted)}, groups sorted by name. ``group_by: asset``: one group
    an asset; a column: the value of that column of ``asset_table`` for each asset (a
    ValueError names the assets the table lacks, or a missing column)."""
    if not cfg.grouped:
        return {"all": sorted(assets)}
    if cfg.group_by == PER_ASSET:
        groups = {group_name(a): [a] for a in assets}
        if len(groups) != len(assets):
            raise ValueError("two assets have the same group name once made safe for folders: rename one")
        return dict(sorted(groups.items()))
    if cfg.asset_table is None:
        raise ValueError(f"fleet.group_by: {cfg.group_by!r} needs fleet.asset_table, a CSV with columns asset and {cfg.group_by}")
    table = pd.read_csv(cfg.asset_table, dtype=str)
    for column in (ASSET, cfg.group_by):
        if column not in table.columns:
            raise ValueError(f"{cfg.asset_table}: no column {column!r} (it has {list(table.columns)})")
    of = dict(zip(table[ASSET], table[cfg.group_by]))
    missing = sorted(a for a in assets if a not in of or pd.isna(of[a]))
    if missing:
        raise ValueError(f"{cfg.asset_table}: no {cfg.group_by} for asset(s) {missing[:10]}: add a row for each")
    groups: dict[str, list[str]] = {}
    for asset in sorted(assets):
        groups.setdefault(group_name(of[asset]), []).append(asset)
    return dict(sorted(groups.items()))


def group_model_name(model_name: str, group: str) -> str:
    """The registered model of one group: ``<model_name>-<group>``."""
    return f"{model_name}-{group}"


def _absolute_uri(uri: str, root: Path) -> str:
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{(root / uri.removeprefix('sqlite:///')).resolve()}"
    return uri


def absolute(cfg: PipelineConfig, root: Path) -> PipelineConfig:
    """``cfg`` with its folders and a relative SQLite store made absolute against
    ``root``, so a Dask worker started anywhere reads and writes the project's files."""
    paths = PathsConfig(**{field: str((root / getattr(cfg.paths, field)).resolve()) for field in PathsConfig.model_fields})
    mlflow = cfg.mlflow.model_copy(update={
        "tracking_uri": _absolute_uri(cfg.mlflow.tracking_uri, root),
        "artifact_root": str((root / cfg.mlflow.artifact_root).resolve()),
    })
    return cfg.model_copy(update={"paths": paths, "mlflow": mlflow})


def group_config(cfg: PipelineConfig, group: str) -> PipelineConfig:
    """The config one group's models train with: folders under ``<folder>/groups/<group>``,
    registered model :func:`group_model_name`, one model for the group's rows."""
    paths = PathsConfig(**{field: str(Path(getattr(cfg.paths, field)) / GROUPS_DIR / group) for field in PathsConfig.model_fields})
    register = cfg.register_.model_copy(update={"model_name": group_model_name(cfg.register_.model_name, group)})
    fleet = cfg.fleet.model_copy(update={"group_by": "all"})
    return cfg.model_copy(update={"paths": paths, "register_": register, "fleet": fleet})
