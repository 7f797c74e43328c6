"""Model folders replaced whole: a model (or a set of models) is written beside its
place and moved in only when complete, so a run that fails or is stopped never leaves a
half-written folder, nor new models beside old ones they do not belong with."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def replace_folder(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``, removing what was there (two renames: a reader
    sees the old folder or the new one)."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def written_whole(target: Path) -> Iterator[Path]:
    """An empty folder beside ``target`` to write into; it replaces ``target`` when the
    block ends normally and is deleted when the block raises (also on Ctrl-C / SIGTERM)."""
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    replace_folder(partial, target)


def staged_folder(models_dir: Path) -> Path:
    """The empty folder beside ``models_dir`` that a set of models trains into before
    :func:`install_models` moves it in (``.models.retrain``; an earlier one is removed)."""
    staged = models_dir.with_name(f".{models_dir.name}.retrain")
    shutil.rmtree(staged, ignore_errors=True)
    return staged


def install_models(staged: Path, models_dir: Path, kinds: Iterable[str]) -> None:
    """Move each of ``kinds`` from ``staged`` (a set trained together) into ``models_dir``
    and remove ``staged``."""
    for kind in kinds:
        replace_folder(staged / kind, models_dir / kind)
    shutil.rmtree(staged, ignore_errors=True)
