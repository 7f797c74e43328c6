"""Shared fixtures: the real datasets beside the project, a Prefect test server, and a
tiny anomflow project (demo plant + tiny config) trained once per session by the real
`retrain` flow.

Two test tiers (marked in ``pytest_collection_modifyitems`` below):

* ``integration``: starts a server (Prefect, ``mlflow models serve``, an HTTP server such
  as tests/fake_grafana.py), runs training (Lightning fits, the ``retrain`` flow,
  ``dvc repro``, benchmark runs that train), or spawns processes;
* ``unit``: everything else. ``make test-unit`` runs these (not slow, not integration);
  ``make test`` runs both tiers.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import warnings
from pathlib import Path

import pytest

from tests.tiny_project import make_tiny_project, retrained

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS} (they live beside the project, not in it)")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def prefect_server() -> str:
    """One Prefect server for the whole session (it takes 15-30 s to start), in a child
    process; yields its API URL, which other processes (a worker, the CLI) can use too."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL cluster for the session (tests/servers.py)."""
    from tests.servers import Postgres

    server = Postgres().start()
    yield server
    server.remove()


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres) -> str:
    """A new empty database on the session's PostgreSQL."""
    return postgres.fresh_database(f"db_{next(_databases)}")


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory, prefect_server) -> dict:
    """A tiny project after one real `retrain` flow run: its root and the flow's result."""
    root = make_tiny_project(tmp_path_factory.mktemp("tiny"))
    return {"root": root, "result": retrained(root), "tracking_uri": f"sqlite:///{root}/mlruns/mlflow.db"}


# ----------------------------------------------------------------------- the two tiers
# Rules first, so that edits to test bodies keep their tier; the lists name modules, and
# node ids only inside modules whose other tests are unit tests.

# A test that uses (directly or through another fixture) one of these fixtures is an
# integration test.
INTEGRATION_FIXTURES = {
    "prefect_server",   # a Prefect server in a child process
    "trained_project",  # one real `retrain` flow run (Prefect server + training + MLflow)
    "shared_datasets",  # whole real datasets
    "postgres",         # a PostgreSQL cluster (tests/servers.py)
    "alertmanager",     # a Prometheus Alertmanager (tests/servers.py)
}

# Module-local fixtures that train (the same name may mean a cheap fixture elsewhere):
# a test of that module using one is an integration test.
TRAINING_FIXTURES = {
    "detectors/test_every_detector.py": {"fitted"},        # fits every detector kind, Lightning ones included
    "models/test_anomaly_transformer.py": {"sine_model"},  # a Lightning fit on a sine
    "models/test_omnianomaly.py": {"trained"},             # a Lightning fit of OmniAnomaly
}

# Every test in these modules (paths relative to tests/) is an integration test.
INTEGRATION_MODULES = {
    "benchmarks/test_msl.py",                    # MSL/SMAP benchmark runs train every model
    "benchmarks/test_scale_and_costs.py",        # scale runs: training in-process and in child processes
    "benchmarks/test_serve_latency.py",          # serves the champion with `mlflow models serve`
    "benchmarks/test_speed_and_skab.py",         # speed/SKAB/margin/fleet scripts train models
    "flows/test_dvc_pipeline.py",                # `dvc repro` of the whole pipeline
    "flows/test_retrain_flow.py",                # the `retrain` flow on a Prefect server
    "flows/test_schedule.py",                    # a Prefect schedule served in a child process
    "flows/test_score_flow.py",                  # the `score` flow on the trained project
    "flows/test_work_pool_deployments.py",       # Prefect deployments, a worker, the CLI in a subprocess
    "live/test_alerts.py",                       # local HTTP receivers and the watcher's HTTP endpoints
    "registry/test_promotion.py",                # registers models trained by `retrain`
    "registry/test_serving.py",                  # `mlflow models serve` of the champion
    "registry/test_serving_requirements.py",     # a venv built from logged requirements, then served
    "sources/test_grafana_api.py",               # the fake Grafana HTTP server
    "test_child_server.py",                      # child processes of the server helper
    "training/test_ablation.py",                 # retrains the student's distillation variants
    "training/test_train.py",                    # the train stage: Lightning fits of every model
}

# Node-id prefixes (relative to tests/) of the tests that train inside modules that are
# otherwise unit tests. One that matches nothing in a collected module is reported as a
# warning, so a renamed test is noticed rather than silently changing tier.
INTEGRATION_NODES = (
    "models/test_anomaly_transformer.py::test_module_overfits_a_tiny_batch",      # Lightning fit
    "models/test_anomaly_transformer.py::test_learning_rate_follows_the_official_schedule",  # Lightning fit
    "models/test_lstm_autoencoder.py::test_learns_a_sine",                        # 60 Adam steps
    "models/test_student.py::test_a_spike_raises_the_calibrated_score_of_a_trained_student",  # Lightning fit
)


def _integration_reason(item: pytest.Item, local_id: str, module_path: str) -> str | None:
    used = INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if used:
        return f"fixture {sorted(used)[0]}"
    used = TRAINING_FIXTURES.get(module_path, set()).intersection(getattr(item, "fixturenames", ()))
    if used:
        return f"training fixture {sorted(used)[0]}"
    if module_path in INTEGRATION_MODULES:
        return "module"
    if local_id.startswith(INTEGRATION_NODES):
        return "node"
    module = getattr(item, "module", None)
    if module is not None:
        names = vars(module)
        if names.get("subprocess") is subprocess:  # imported at the top: the module spawns processes
            return "imports subprocess"
        if any(getattr(value, "__module__", None) == "tests.fake_grafana" for value in names.values()):
            return "fake Grafana server"  # an HTTP server, wherever it is used
    # the PyOD peers run in their own interpreter (`make peers`) and train there
    if any(".venv-peers" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
        return "peers environment"
    return None


def pytest_collection_modifyitems(config, items):
    collected_modules = set()
    matched_nodes = set()
    for item in items:
        try:
            module_path = item.path.resolve().relative_to(TESTS_DIR).as_posix()
        except ValueError:  # not under tests/
            continue
        collected_modules.add(module_path)
        local_id = module_path + item.nodeid[item.nodeid.index("::"):] if "::" in item.nodeid else module_path
        matched_nodes.update(prefix for prefix in INTEGRATION_NODES if local_id.startswith(prefix))
        if _integration_reason(item, local_id, module_path):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
    for prefix in INTEGRATION_NODES:
        if prefix.split("::")[0] in collected_modules and prefix not in matched_nodes:
            warnings.warn(pytest.PytestWarning(f"tests/conftest.py INTEGRATION_NODES: {prefix!r} matches no test; "
                                               "renamed? it now runs in the unit tier"))
    for module_path in sorted(INTEGRATION_MODULES | set(TRAINING_FIXTURES)):
        if not (TESTS_DIR / module_path).is_file():
            warnings.warn(pytest.PytestWarning(f"tests/conftest.py INTEGRATION_MODULES: tests/{module_path} does not exist"))
