"""SHA-256 checksums of a saved model's files, recorded when they are written and checked
when they are loaded, so a damaged or altered file (a flipped byte in ``weights.pt``, a
truncated copy) stops the load with one line naming it instead of being served.

A directory's checksums live in ``checksums.json`` beside the files:
``{"algorithm": "sha256", "files": {"weights.pt": "<hex digest>", ...}}``. Files not
listed (a training run's ``history.json``) are not checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

CHECKSUM_FILE = "checksums.json"
_CHUNK_BYTES = 1 << 20


class ChecksumError(ValueError):
    """A file's content differs from the checksum recorded for it, or none was recorded."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 digest of the file at ``path``, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _recorded(directory: Path) -> dict[str, str]:
    manifest = directory / CHECKSUM_FILE
    if not manifest.exists():
        return {}
    try:
        return dict(json.loads(manifest.read_text())["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ChecksumError(f"{manifest}: not a checksum file ({exc})") from None


def record_checksums(directory: Path, names: Iterable[str]) -> None:
    """Add the checksums of ``directory``'s files ``names`` to its ``checksums.json``
    (those of files recorded before are kept)."""
    files = _recorded(directory) | {name: sha256_of(directory / name) for name in names}
    payload = {"algorithm": "sha256", "files": dict(sorted(files.items()))}
    (directory / CHECKSUM_FILE).write_text(json.dumps(payload, indent=2))


def verify_checksums(directory: Path, required: Iterable[str] = ()) -> None:
    """Raise :class:`ChecksumError` naming the first file of ``directory`` whose content
    does not match its recorded checksum, that is recorded but missing, or that is in
    ``required`` but has no checksum (a directory saved before checksums were recorded)."""
    files = _recorded(directory)
    for name in required:
        if name not in files:
            raise ChecksumError(
                f"{directory / name}: no checksum recorded in {directory / CHECKSUM_FILE} (saved by an older anomflow, "
                "or the checksum file was removed): retrain the model to load it"
            )
    for name, expected in files.items():
        path = directory / name
        if not path.exists():
            raise ChecksumError(f"{path}: missing, but {directory / CHECKSUM_FILE} records it")
        actual = sha256_of(path)
        if actual != expected:
            raise ChecksumError(
                f"{path}: content differs from its checksum in {CHECKSUM_FILE} (sha256 {actual[:12]}…, recorded "
                f"{expected[:12]}…): the file was damaged or changed after it was saved; retrain or re-register the model"
            )
