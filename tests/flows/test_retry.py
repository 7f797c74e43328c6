"""Tasks retry on I/O failures, not on bad input, which would fail the same way again."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from prefect.states import Failed

from components.sources.errors import SourceFormatError
from flows.retry import retry_unless_bad_input


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (SourceFormatError("export.csv: line 3, column 'flow': 'x' is not a number"), False),
        (FileNotFoundError("no file matches source glob"), False),
        (MlflowException("missing column(s) ['flow']", error_code=INVALID_PARAMETER_VALUE), False),
        (ConnectionError("MLflow server went away"), True),
        (TimeoutError("Grafana did not answer"), True),
        (MlflowException("model not found", error_code=RESOURCE_DOES_NOT_EXIST), True),
    ],
)
def test_retry_unless_bad_input(error, retried):
    assert retry_unless_bad_input(None, None, Failed(data=error)) is retried


@pytest.mark.filterwarnings("ignore:Logger 'prefect.flow_runs' attempted to send logs to the API")  # no flow run here
def test_runs_failed_on_bad_input_are_logged_without_their_traceback():
    import logging
    import sys

    from flows.retry import hide_bad_input_tracebacks

    hide_bad_input_tracebacks()
    hide_bad_input_tracebacks()  # idempotent: one filter per logger
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = logging.getLogger("prefect.flow_runs")
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        assert sum(type(f).__name__ == "_DropBadInputTraceback" for f in logging.getLogger(name).filters) == 1
    logger.addHandler(handler)
    try:
        for error in (SourceFormatError("export.csv: line 3: 'x' is not a number"), ConnectionError("MLflow server went away")):
            try:
                raise error
            except Exception:
                logger.error("Encountered exception during execution: %r", error, exc_info=sys.exc_info())
    finally:
        logger.removeHandler(handler)
    bad_input, io_failure = seen
    assert bad_input.exc_info is None and "export.csv: line 3" in bad_input.getMessage()
    assert io_failure.exc_info is not None and "Traceback" in logging.Formatter().format(io_failure)
