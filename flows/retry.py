"""When a failed task is worth retrying, and its traceback worth logging: not when its
input is bad.

Retries are for I/O that can fail once and work the next time (a file share, the MLflow
or Grafana server). A bad export, a missing file or a request the model refuses fails
the same way every time, and a retry only repeats the error in the log.
"""

from __future__ import annotations

import logging

from prefect.states import State, get_state_exception

from components.shutdown import ChildStopped


def is_bad_input(error: BaseException) -> bool:
    """``ValueError`` (unreadable exports, invalid config or requests), a missing file, or an
    MLflow error that blames the request's parameters."""
    if isinstance(error, (ValueError, FileNotFoundError)):
        return True
    return getattr(error, "error_code", None) == "INVALID_PARAMETER_VALUE"  # MlflowException from the served model


def retry_unless_bad_input(task, task_run, state: State) -> bool:
    """Prefect ``retry_condition_fn``: retry unless the task failed on bad input."""
    return not is_bad_input(get_state_exception(state))


class _DropBadInputTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and (is_bad_input(error) or isinstance(error, ChildStopped)):
            record.exc_info, record.exc_text = None, None
        return True


def hide_bad_input_tracebacks() -> None:
    """Log a task or flow run that failed on bad input, or whose child process was
    stopped with the run, in its one line, without the traceback: the error names the
    file, row or column (or the child), and the trace only buries it. Other failures
    keep their traceback."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropBadInputTraceback) for f in logger.filters):
            logger.addFilter(_DropBadInputTraceback())
