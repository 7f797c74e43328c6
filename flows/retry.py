"""When a failed task is worth retrying: not when its input is bad.

Retries are for I/O that can fail once and work the next time (a file share, the MLflow
or Grafana server). A bad export, a missing file or a request the model refuses fails
the same way every time, and a retry only repeats the error in the log.
"""

from __future__ import annotations

from prefect.states import State, get_state_exception


def is_bad_input(error: BaseException) -> bool:
    """``ValueError`` (unreadable exports, invalid config or requests), a missing file, or an
    MLflow error that blames the request's parameters."""
    if isinstance(error, (ValueError, FileNotFoundError)):
        return True
    return getattr(error, "error_code", None) == "INVALID_PARAMETER_VALUE"  # MlflowException from the served model


def retry_unless_bad_input(task, task_run, state: State) -> bool:
    """Prefect ``retry_condition_fn``: retry unless the task failed on bad input."""
    return not is_bad_input(get_state_exception(state))
