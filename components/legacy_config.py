"""What to move where in a pipeline config written before every model's settings moved
under ``models:`` (sections ``model``, ``train``, ``teachers``, ``student``,
``baselines`` and the key ``prepare.window``): one line per key found in the file."""

from __future__ import annotations

from typing import Any

LEGACY_SECTIONS = ("model", "train", "teachers", "student", "baselines")
_NETWORKS = ("student", "lstm_ae")
_TEACHERS = ("anomaly_transformer", "omnianomaly")
_BASELINES = ("pca", "iforest")
_RENAMED = {"pca_variance": "models.pca.variance", "iforest_estimators": "models.iforest.n_estimators"}


def _targets(kinds: tuple[str, ...], key: str) -> str:
    return " and ".join(f"models.{kind}.{key}" for kind in kinds)


def _train_move(key: str) -> str:
    if key == "seed":
        return "seed (top level)"
    if key == "train_stride":
        return _targets(_NETWORKS + _BASELINES, key)
    return _targets(_NETWORKS, key)


def _teachers_move(key: str, value: Any) -> str:
    if key == "models":
        listed = value if isinstance(value, list) else []
        return "a section per teacher trained: " + (", ".join(f"models.{t}: {{}}" for t in listed) or "none")
    return _targets(_TEACHERS, key)


def _baselines_move(key: str, value: Any) -> str:
    if key == "models":
        listed = value if isinstance(value, list) else []
        return "a section per baseline trained: " + (", ".join(f"models.{b}: {{}}" for b in listed) or "none")
    return _RENAMED.get(key, _targets(_BASELINES, key))


def legacy_layout_moves(raw: dict) -> list[str]:
    """``"old.key → new.key"`` for every key of the old layout in the raw YAML mapping
    ``raw``; empty for a file in today's layout."""
    moves = []
    movers = {
        "model": lambda key, value: f"models.lstm_ae.{key}",
        "train": lambda key, value: _train_move(key),
        "teachers": _teachers_move,
        "student": lambda key, value: f"models.student.{key}",
        "baselines": _baselines_move,
    }
    for section in LEGACY_SECTIONS:
        block = raw.get(section)
        if section in raw and not isinstance(block, dict):
            moves.append(f"{section}: → its keys under models: (see `anomflow config`)")
            continue
        for key, value in (block or {}).items():
            moves.append(f"{section}.{key} → {movers[section](key, value)}")
    prepare = raw.get("prepare")
    if isinstance(prepare, dict) and "window" in prepare:
        moves.append(f"prepare.window → {_targets(('lstm_ae',) + _BASELINES, 'window')} (the student's is models.student.window)")
    return moves
