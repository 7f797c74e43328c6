"""A flow that leaves a mark, for the test that a served schedule really runs."""

from pathlib import Path

from prefect import flow


@flow(name="scheduled-probe")
def leave_mark(path: str) -> None:
    Path(path).write_text("ran")
