"""Errors raised by the source readers.

Every message names where the problem is: the file (or Grafana URL and refId) and, when
relevant, the 1-based line number and the column, so that a bad export can be fixed at
its origin.
"""

from __future__ import annotations

SHOWN_CHARACTERS = 60


def shown(text: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr`` of ``text`` for an error message, cut to about ``limit`` characters (and
    saying how long it was), so a damaged cell of megabytes never becomes a message of
    megabytes."""
    value = str(text)
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value):,} characters)"


MAX_MESSAGE_CHARACTERS = 2000


def bounded(message: str, limit: int = MAX_MESSAGE_CHARACTERS) -> str:
    """``message`` cut to ``limit`` characters (saying so): a header of megabytes named in
    an error stays a readable line."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}… (message cut at {limit:,} of {len(message):,} characters)"


class SourceFormatError(ValueError):
    """A source file or response does not have the expected format (the message at most
    :data:`MAX_MESSAGE_CHARACTERS` long)."""

    def __init__(self, message: str) -> None:
        super().__init__(bounded(str(message)))


class GrafanaQueryError(SourceFormatError):
    """Grafana's ``/api/ds/query`` refused a request or reported a per-refId error."""
