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
