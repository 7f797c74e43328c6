"""Errors raised by the source readers.

Every message names where the problem is: the file (or Grafana URL and refId) and, when
relevant, the 1-based line number and the column, so that a bad export can be fixed at
its origin.
"""

from __future__ import annotations


class SourceFormatError(ValueError):
    """A source file or response does not have the expected format."""


class GrafanaQueryError(SourceFormatError):
    """Grafana's ``/api/ds/query`` refused a request or reported a per-refId error."""
