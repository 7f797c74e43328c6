"""Column names and checks for the readings frame, the contract between stages.

A *readings frame* (docs/architecture.md §2) is a ``pandas.DataFrame`` with

- ``timestamp``: ``datetime64[ns, UTC]`` (tz-aware UTC),
- ``asset``: string, the machine the row belongs to,
- one ``float64`` column per sensor, in base SI-ish units (prefixes normalised:
  ``mA`` → A, ``GiB`` → bytes, ``%`` stays the number shown),
- ``label`` (optional): ``int8`` 0/1 ground truth when the source carries it,
- ``source_file`` (string) and ``source_row`` (int64, 1-based line number in that
  file, or position in an API response) so that every error and every quarantined row
  can be traced back to where it came from;
- ``normal_feedback`` (optional): ``int8`` 1 on rows of an alert an operator
  acknowledged as a false alarm in the live store (:mod:`components.sources.live_store`):
  the split puts them in ``train``, so the next model learns them as normal;
- ``also_from`` (string, only when an asset's files were joined): for a row joined from
  lines of several files (panels of one asset), the others, e.g. ``b.csv line 40``
  (``""`` for a row from one line).
"""

from __future__ import annotations

import pandas as pd

TIMESTAMP = "timestamp"
ASSET = "asset"
LABEL = "label"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
SESSION = "session"
ALSO_FROM = "also_from"
NORMAL_FEEDBACK = "normal_feedback"

META_COLUMNS = (TIMESTAMP, ASSET, LABEL, SOURCE_FILE, SOURCE_ROW, SESSION, ALSO_FROM, NORMAL_FEEDBACK)


def sensor_columns(frame: pd.DataFrame) -> list[str]:
    """Names of the sensor columns of ``frame``: every column that is not metadata."""
    return [c for c in frame.columns if c not in META_COLUMNS]
