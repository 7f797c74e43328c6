# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PEERS_VENV ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed-stamp
export PREFECT_LOGGING_LEVEL ?= INFO

.PHONY: demo live test test-unit test-slow install peers system-deps clean

install: $(STAMP)

# torch first, from the pinned CPU wheel, so nothing pulls the CUDA build;
# constraints.txt pins every other package to the versions the tests ran with.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH, or run: make PYTHON=python3 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# PyOD's detectors for `anomflow benchmark msl|skab --peers .venv-peers/bin/python`, in a
# virtual environment of their own (numba, llvmlite, PyOD stay out of .venv); every
# version pinned in benchmarks/peers/requirements.txt, torch the CPU wheel as above.
peers: $(PEERS_STAMP)

$(PEERS_STAMP): benchmarks/peers/requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH, or run: make PYTHON=python3 ..."; exit 1; }
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(PEERS_VENV)/bin/python -m pip install --quiet -r benchmarks/peers/requirements.txt
	$(PEERS_VENV)/bin/python -c "import torch, pyod; assert torch.version.cuda is None, 'want the CPU torch wheel, got CUDA ' + str(torch.version.cuda); print('peers:', '$(PEERS_VENV)', 'pyod', pyod.__version__, 'torch', torch.__version__)"
	touch $(PEERS_STAMP)

# What the live path's tests start (PostgreSQL, Prometheus Alertmanager, Chromium), from
# Debian's packages, installed only where missing (as root, or with sudo).
system-deps:
	@.ci/system-deps

demo: $(STAMP)
	$(BIN)/anomflow demo-data --out data/demo
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/anomflow retrain --config conf/pipeline.yaml

# The demo plant live, after `make demo`: its test days replayed into a fresh SQLite store
# at LIVE_SPEED x real time, scored by the watcher, in the dashboard on http://localhost:8501
# (Ctrl-C stops all three).
LIVE_STORE ?= sqlite:///live/demo.db
LIVE_SPEED ?= 120
live: $(STAMP)
	@test -f artifacts/prepared/test.parquet || { echo "make live replays the demo's test days: run make demo first"; exit 1; }
	rm -f live/demo.db live/demo.db-wal live/demo.db-shm
	$(BIN)/anomflow db init --store $(LIVE_STORE)
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/anomflow watch --store $(LIVE_STORE) & \
	$(BIN)/anomflow replay data/demo/pump-*__*.csv --into $(LIVE_STORE) --speed $(LIVE_SPEED) --since test-split & \
	$(BIN)/anomflow dashboard --store $(LIVE_STORE)

test: $(STAMP) system-deps
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest

# The unit tier (tests/conftest.py marks the rest `integration`: servers, training, child
# processes): under a minute on 2 cores. Its -m states the whole selection, replacing
# addopts' -m 'not slow'.
test-unit: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m "not slow and not integration"

test-slow: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m slow

clean:
	rm -rf artifacts models thresholds reports mlruns/mlflow.db mlruns/artifacts
