"""The code the served model carries: the modules that loading and scoring import, and
nothing else (no training, Lightning, benchmark, pipeline or CLI module), copied as a
``components`` package for MLflow's ``code_paths``."""

from __future__ import annotations

import shutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SERVING_CODE = (
    "__init__.py",
    "checksums.py",
    "frames.py",
    "detectors",
    "models",
    "features/__init__.py",
    "features/drift.py",
    "features/scaling.py",
    "features/smoothing.py",
    "features/windows.py",
    "scoring/__init__.py",
    "scoring/alarms.py",
    "scoring/thresholds.py",
    "quality/__init__.py",
    "quality/config.py",
    "registry/__init__.py",
    "registry/fleet_entry.py",
    "registry/fleet_router.py",
    "registry/pyfunc_entry.py",
    "registry/request.py",
    "registry/served_detector.py",
    "sources/__init__.py",
    "sources/errors.py",
)
"""Paths under ``components/``; a folder is copied whole (its ``.py`` and ``.yaml`` files)."""


def copy_serving_code(out: Path) -> Path:
    """Copy :data:`SERVING_CODE` to ``out/components``; returns that folder."""
    target = Path(out) / "components"
    for relative in SERVING_CODE:
        source = PACKAGE_DIR / relative
        if source.is_dir():
            shutil.copytree(source, target / relative, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    return target
