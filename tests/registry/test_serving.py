"""A real `mlflow models serve` process answers good and bad requests over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests

from components.child_server import wait_until_answering


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def serve_dir(tmp_path_factory) -> Path:
    """Where the server runs (the model must load from any directory) and writes ``serve.log``."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def server(trained_project, serve_dir):
    port = _free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=trained_project["tracking_uri"])
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    cwd = serve_dir
    log = open(cwd / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/anomflow-detector@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with open(cwd / "serve.log") as output:
            wait_until_answering(proc, f"{url}/ping", output, 120, "mlflow models serve")
    except RuntimeError:
        proc.kill()
        raise
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def request_rows(trained_project) -> pd.DataFrame:
    example = json.loads((trained_project["root"] / "reports" / "request_example.json").read_text())
    split = example["dataframe_split"]
    return pd.DataFrame(split["data"], columns=split["columns"])


ECHO_BOUND = 15_000
"""MLflow's 400s quote the request as pandas prints it, up to twice: at most 60 rows, 50
characters a cell, the columns cut to the display width: kilobytes, never the request."""


def _post(url: str, frame: pd.DataFrame | None = None, body: str | None = None) -> requests.Response:
    if body is None:
        body = json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)})
    return requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=30)


def test_good_request_gets_score_level_and_top_sensors(server, request_rows, trained_project):
    assert len(request_rows) == 200
    response = _post(server, request_rows)
    assert response.status_code == 200, response.text

    def not_json(constant: str):
        raise ValueError(f"{constant} is not JSON (JavaScript's JSON.parse and most clients reject it)")

    predictions = pd.DataFrame(json.loads(response.text, parse_constant=not_json)["predictions"])
    assert list(predictions.columns) == ["timestamp", "asset", "score", "level", "alarm", "top_sensors", "missing_sensors"]
    assert len(predictions) == 200
    window = json.loads((trained_project["root"] / "models" / "student" / "model.json").read_text())["window"]
    assert (predictions["level"].iloc[: window - 1] == "insufficient_history").all()
    assert predictions["score"].iloc[: window - 1].isna().all()  # null: no score without a full window
    scored = predictions.iloc[window - 1 :]
    assert scored["score"].notna().all()
    assert set(scored["level"]) <= {"normal", "warning", "critical"}
    assert all(len(top) == 3 for top in scored["top_sensors"])


def test_a_reading_sent_with_the_window_before_it_scores_as_in_one_long_request(server, request_rows, trained_project):
    """Real time: the model keeps no state, so a client sends each new reading with the
    window − 1 rows before it (what the version's description says) and reads the last row."""
    window = json.loads((trained_project["root"] / "models" / "student" / "model.json").read_text())["window"]
    whole = pd.DataFrame(_post(server, request_rows).json()["predictions"])
    for newest in (window - 1, 120, 199):
        sliding = pd.DataFrame(_post(server, request_rows.iloc[newest - window + 1 : newest + 1]).json()["predictions"])
        assert len(sliding) == window and sliding["score"].iloc[:-1].isna().all()
        last, same_row = sliding.iloc[-1], whole.iloc[newest]
        assert last["score"] == pytest.approx(same_row["score"], rel=1e-5) and last["level"] == same_row["level"]


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda f: f.drop(columns=["flow"]), "Model is missing inputs ['flow']"),  # MLflow's check of the signature
        (lambda f: f.assign(current=["n/a"] + [1.0] * (len(f) - 1)), "column 'current' row 0: 'n/a' is not a number"),
        (lambda f: f.assign(timestamp=["not-a-time"] + list(f["timestamp"].iloc[1:])), "cannot parse 'not-a-time'"),
        (lambda f: f.iloc[::-1].reset_index(drop=True), "timestamps must increase strictly"),
        (lambda f: f.iloc[0:0], "the request holds no rows"),
        (lambda f: f.iloc[::5].reset_index(drop=True), "readings are 300 s apart (median), but the model scores readings every 60 s"),
    ],
)
def test_bad_requests_get_4xx_with_a_clear_message(server, request_rows, mutate, fragment):
    response = _post(server, mutate(request_rows.head(40)))
    assert 400 <= response.status_code < 500, response.text
    assert fragment in response.json()["message"] and len(response.text) < ECHO_BOUND


def test_a_column_the_model_does_not_score_is_ignored_and_logged(server, serve_dir, request_rows):
    plain = _post(server, request_rows.head(40))
    extra = _post(server, request_rows.head(40).assign(humidity=1.0))
    assert extra.status_code == 200 and extra.json() == plain.json()
    log = (serve_dir / "serve.log").read_text()
    assert "Found extra inputs in the model input that are not defined in the model signature: `['humidity']`" in log


def test_an_infinite_reading_is_answered_critical_not_unscored(server, request_rows, trained_project):
    request = request_rows.astype({"current": "object"})
    request.loc[100, "current"] = float("inf")  # json.dumps writes the token Infinity, which MLflow reads
    response = _post(server, request)
    assert response.status_code == 200, response.text
    predictions = pd.DataFrame(response.json()["predictions"])
    window = json.loads((trained_project["root"] / "models" / "student" / "model.json").read_text())["window"]
    assert predictions.loc[100, "level"] == "critical" and predictions.loc[100, "top_sensors"][0] == "current"
    assert predictions["score"].iloc[window - 1 :].notna().all()


def _split_body(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": frame.to_dict(orient="split", index=False)}


def test_malformed_requests_are_refused_in_short_messages(server, request_rows):
    body = _split_body(request_rows.head(40))
    body["dataframe_split"]["data"][5] = body["dataframe_split"]["data"][5][:-1]  # one value short
    short = _post(server, body=json.dumps(body))
    assert short.status_code == 400 and "mismatched lengths" in short.json()["message"]

    whole = _post(server, request_rows.drop(columns=["flow"]))  # 200 rows: MLflow quotes a few of them
    assert whole.status_code == 400 and "Model is missing inputs ['flow']" in whole.json()["message"] and len(whole.text) < ECHO_BOUND

    duplicated = _split_body(request_rows.head(40))
    last = duplicated["dataframe_split"]["columns"][-1]
    duplicated["dataframe_split"]["columns"][-1] = "current"
    answer = _post(server, body=json.dumps(duplicated))
    assert answer.status_code == 400 and f"Model is missing inputs ['{last}']" in answer.json()["message"] and len(answer.text) < ECHO_BOUND

    boolean = request_rows.head(40).astype({"flow": "object"})
    boolean.loc[3, "flow"] = True
    answer = _post(server, boolean)
    assert answer.status_code == 400 and "column 'flow' row 3: True is a boolean" in answer.json()["message"]

    huge = request_rows.head(40).astype({"flow": "object"})
    huge.loc[3, "flow"] = "9" * 5_000_000 + "x"
    answer = _post(server, huge)
    # MLflow prefixes the data frame's repr (pandas cuts each cell to 50 characters): kilobytes, not megabytes
    assert answer.status_code == 400 and len(answer.text) < 5000 and "(5,000,001 characters)" in answer.json()["message"]

    as_csv = requests.post(
        f"{server}/invocations", data=json.dumps(_split_body(request_rows.head(3))), headers={"Content-Type": "text/csv"}, timeout=30
    )
    assert as_csv.status_code == 400 and "Failed to parse input as a Pandas DataFrame" in as_csv.json()["message"] and len(as_csv.text) < ECHO_BOUND


def test_a_champion_with_changed_weights_does_not_start(trained_project, tmp_path):
    from tests.tiny_project import copy_trained_project

    root = copy_trained_project(trained_project["root"], tmp_path / "project")
    for path in (root / "mlruns").rglob("weights.pt"):
        content = bytearray(path.read_bytes())
        content[-100:-84] = bytes(16)
        path.write_bytes(bytes(content))
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{root}/mlruns/mlflow.db")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/anomflow-detector@champion", "--env-manager", "local",
         "--host", "127.0.0.1", "--port", str(_free_port()), "--workers", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode != 0
    assert "weights.pt: content differs from its checksum" in done.stdout + done.stderr


def test_empty_body_is_a_4xx(server):
    response = _post(server, body="")
    assert 400 <= response.status_code < 500


def test_with_register_input_schema_off_the_model_refuses_unknown_columns_and_reads_csv(trained_project, request_rows):
    """``register.input_schema: false``: the signature names the outputs only, so MLflow
    passes the request as sent and the model's own checks answer (an unknown or repeated
    column named), and ``text/csv`` is read (MLflow's server parses CSV only by a schema
    of concrete types). The same bundle, logged with and without inputs."""
    from io import StringIO

    import mlflow
    from mlflow.pyfunc.scoring_server import parse_csv_input

    from components.registry.register import log_served_bundle, served_signature
    from components.registry.tracking import using_tracking_uri

    with using_tracking_uri(trained_project["tracking_uri"]):
        champion = Path(mlflow.artifacts.download_artifacts("models:/anomflow-detector@champion"))
        sensors = [c for c in request_rows.columns if c not in ("timestamp", "asset")]
        with mlflow.start_run() as run:
            pass
        logged = {
            declared: mlflow.pyfunc.load_model(log_served_bundle(
                champion / "artifacts" / "bundle", f"student_{declared}", run.info.run_id, served_signature(sensors if declared else None),
                request_rows.head(40), None,
            ).model_uri)
            for declared in (True, False)
        }
    plain = logged[True].predict(request_rows.head(40))
    assert logged[False].metadata.get_input_schema() is None
    pd.testing.assert_frame_equal(logged[False].predict(request_rows.head(40)), plain)
    with pytest.raises(Exception, match=r"unexpected column\(s\) \['humidity'\]"):
        logged[False].predict(request_rows.head(40).assign(humidity=1.0))
    pd.testing.assert_frame_equal(logged[True].predict(request_rows.head(40).assign(humidity=1.0)), plain)  # ignored, logged by MLflow
    csv = request_rows.head(40).to_csv(index=False)
    pd.testing.assert_frame_equal(logged[False].predict(parse_csv_input(StringIO(csv), schema=None)), plain)
    with pytest.raises(Exception, match="Failed to get pandas types"):
        parse_csv_input(StringIO(csv), schema=logged[True].metadata.get_input_schema())
