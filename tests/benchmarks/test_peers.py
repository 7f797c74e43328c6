"""PyOD peers in the benchmarks (components/benchmarks/peers.py).

Without the peers environment: the splits the peers get (the pipeline models' cut and
scaling), the worker's input and output files, and the evaluation of scores computed here
directly (no stand-in for PyOD). With it (``make peers`` → .venv-peers; skipped when
absent, as in CI): the real worker with every PyOD detector, and the CLI with --peers."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmarks.research_lib.fleet import fleet_splits, score_peers_fleet
from components.benchmarks import peers
from components.benchmarks.protocol import arrays_as_prepared
from components.benchmarks.series import Channel, validation_rows
from components.benchmarks.series_metrics import aggregate, evaluate_scores
from components.benchmarks.pyod_worker import DETECTORS, flat_windows
from components.benchmarks.skab import pooled_rates
from components.cli import app
from components.features.scaling import StandardScaler
from components.features.windows import gather_windows, window_starts
from components.scoring.metrics import roc_auc

ROOT = Path(__file__).resolve().parents[2]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
needs_peers = pytest.mark.skipif(
    not PEERS_PYTHON.is_file(), reason=f"no PyOD peers environment at {PEERS_PYTHON} (create it with `make peers`)"
)
WINDOW = 6


def _channel(name: str = "c1", n_train: int = 120, n_test: int = 90, features: int = 3, seed: int = 0) -> Channel:
    """A noisy sine per feature; the test array has a labelled level shift on feature 1."""
    rng = np.random.default_rng(seed)

    def series(n: int, offset: int) -> np.ndarray:
        t = np.arange(offset, offset + n)[:, None]
        return 5.0 + 2.0 * np.sin(t / (4.0 + np.arange(features))) + 0.1 * rng.standard_normal((n, features))

    train, test = series(n_train, 0), series(n_test, n_train)
    labels = np.zeros(n_test, dtype=np.int8)
    labels[50:65] = 1
    test[50:65, 1] += 4.0
    return Channel(name, train, test, labels)


def _direct_window_scores(splits: peers.SeriesSplits) -> dict[str, np.ndarray]:
    """Scores computed here, not by PyOD: distance of each flattened window to the mean
    training window (one per window ending at each row from row WINDOW − 1 on)."""
    centre = flat_windows(splits.train, WINDOW).mean(axis=0)
    return {split: np.linalg.norm(flat_windows(getattr(splits, split), WINDOW) - centre, axis=1) for split in ("val", "test")}


def _worker_output(path: Path, splits: list[peers.SeriesSplits], scores: dict, *, errors: dict | None = None) -> Path:
    """An output file in the worker's format (pyod_worker.py's docstring)."""
    arrays, results = {}, {}
    for name, per_series in scores.items():
        results[name] = {}
        for i, s in enumerate(splits):
            if (errors or {}).get(name) == s.name:
                results[name][s.name] = {"error": "ValueError: boom"}
                continue
            arrays[f"val_{i}_{name}"], arrays[f"test_{i}_{name}"] = per_series[s.name]
            results[name][s.name] = {"fit_s": 0.5, "val_score_s": 0.1, "test_score_s": 0.2, "train_windows": len(s.train) - WINDOW + 1}
    meta = {
        "versions": {"pyod": "0.0-test", "numpy": np.__version__},
        "detectors": {name: {"class": f"pyod.models.x.{name}", "kind": "windows", "params": {}} for name in scores},
        "results": results, "wall_s": 1.0,
    }
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return path


# ------------------------------------------------------------------ without the peers venv


def test_splits_are_the_pipeline_models_splits():
    channel = _channel()
    splits = peers.series_splits(channel, WINDOW)
    n_val = validation_rows(len(channel.train), WINDOW)
    cut = len(channel.train) - n_val
    assert (len(splits.train), len(splits.val), len(splits.test)) == (cut, n_val, len(channel.test))
    assert splits.train.dtype == np.float32 and splits.labels is channel.labels
    # exactly what protocol.run_channel hands the pipeline's PCA / Isolation Forest / LSTM-AE / student
    sensors = [f"x{i}" for i in range(channel.train.shape[1])]
    scaler = StandardScaler.fit(pd.DataFrame(channel.train, columns=sensors), sensors)
    prepared = arrays_as_prepared(channel.train[:cut], channel.train[cut:], channel.test, channel.labels, scaler)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(splits, split), prepared.scaler.transform(prepared.splits[split]))
    # the scaler is fitted on the whole train array (train + validation rows)
    np.testing.assert_allclose(np.concatenate([splits.train, splits.val]).mean(axis=0), 0.0, atol=1e-5)


def test_fleet_splits_share_one_scaler_and_give_held_out_and_test_rows_their_history():
    """Fleet mode (benchmarks/research_lib/fleet.py): one scaler over both channels' training rows; each held-out and test
    split starts WINDOW − 1 rows early, so one score per full window is one per row."""
    channels = [_channel("a", seed=0), _channel("b", n_train=100, n_test=70, seed=1)]
    splits = fleet_splits(channels, WINDOW)
    sensors = [f"x{i}" for i in range(3)]
    scaler = StandardScaler.fit(pd.DataFrame(np.concatenate([c.train for c in channels]), columns=sensors), sensors)
    for c, split in zip(channels, splits):
        rows = scaler.transform(pd.DataFrame(np.concatenate([c.train, c.test]), columns=sensors))
        cut = len(c.train) - validation_rows(len(c.train), WINDOW)
        np.testing.assert_array_equal(split.train, rows[:cut])
        assert len(split.val) - WINDOW + 1 == len(c.train) - cut and len(split.test) - WINDOW + 1 == len(c.test)
        np.testing.assert_array_equal(split.val[WINDOW - 1 :], rows[cut : len(c.train)])
        np.testing.assert_array_equal(split.test[: WINDOW - 1], rows[len(c.train) - WINDOW + 1 : len(c.train)])
        assert split.labels is c.labels
    pooled = np.concatenate([np.concatenate([sp.train, sp.val[WINDOW - 1 :]]) for sp in splits])
    np.testing.assert_allclose(pooled.mean(axis=0), 0.0, atol=1e-5)


def test_too_short_series_is_refused():
    with pytest.raises(ValueError, match="fewer than one window"):
        peers.series_splits(_channel(n_train=8), WINDOW)


def test_flat_windows_are_the_baselines_windows():
    rows = np.arange(40, dtype=np.float32).reshape(10, 4)
    starts = window_starts(np.zeros(10), 3, 2)
    expected = gather_windows(rows, starts, 3).reshape(len(starts), 12)
    np.testing.assert_array_equal(flat_windows(rows, 3, 2), expected)
    assert flat_windows(rows, 3).shape == (8, 12)
    with pytest.raises(ValueError, match="fewer than one window"):
        flat_windows(rows[:2], 3)


def test_rows_before_the_first_window_take_its_score():
    assert peers.rows_from_windows(np.array([5.0, 6.0, 7.0]), 3).tolist() == [5.0, 5.0, 5.0, 6.0, 7.0]
    assert peers.rows_from_windows(np.array([2.0]), 1).tolist() == [2.0]


def test_input_file_round_trip(tmp_path):
    splits = [peers.series_splits(_channel(name, seed=i), WINDOW) for i, name in enumerate(("a", "b/1"))]
    path = peers.write_inputs(tmp_path / "in.npz", splits, window=WINDOW, train_stride=2, detectors=["iforest", "ecod"], epochs=3, batch_size=64)
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        assert meta == {
            "window": WINDOW, "train_stride": 2, "seed": 7, "threads": 2, "epochs": 3, "batch_size": 64,
            "detectors": ["iforest", "ecod"], "series": ["a", "b/1"], "fleet": False,
        }
        for i, s in enumerate(splits):
            for split in ("train", "val", "test"):
                assert npz[f"{split}_{i}"].dtype == np.float32
                np.testing.assert_array_equal(npz[f"{split}_{i}"], getattr(s, split))


def test_scores_are_thresholded_and_evaluated_like_ours(tmp_path):
    splits = [peers.series_splits(_channel(name, seed=i), WINDOW) for i, name in enumerate(("a", "b"))]
    direct = {s.name: _direct_window_scores(s) for s in splits}
    scores = {"knn": {name: (d["val"], d["test"]) for name, d in direct.items()}}
    path = _worker_output(tmp_path / "out.npz", splits, scores)
    meta, read = peers.read_outputs(path, splits, window=WINDOW, detectors=["knn"])
    assert meta["versions"]["pyod"] == "0.0-test"
    for s in splits:
        np.testing.assert_array_equal(read["knn"][s.name][1], direct[s.name]["test"])

    metrics, pooled = peers.evaluate_peer("knn", splits, read["knn"], meta["results"]["knn"], window=WINDOW)
    for s, arrays in zip(splits, pooled):
        val = np.concatenate([np.full(WINDOW - 1, direct[s.name]["val"][0]), direct[s.name]["val"]])
        test = np.concatenate([np.full(WINDOW - 1, direct[s.name]["test"][0]), direct[s.name]["test"]])
        expected, _ = evaluate_scores(val, test, s.labels)
        row = metrics[s.name]
        assert {k: row[k] for k in expected} == expected  # the same threshold and metrics as our models get
        np.testing.assert_array_equal(arrays["scores"], test)
        np.testing.assert_array_equal(arrays["pred"], (test > row["threshold"]).astype(np.int8))
        assert row["roc_auc"] == pytest.approx(roc_auc(s.labels, test)) and row["roc_auc"] > 0.9  # the level shift
        assert (row["train_s"], row["score_s"], row["epochs"], row["test_rows"]) == (0.5, 0.2, 0, len(s.test))
    # MSL and SKAB aggregate them like ours
    totals = aggregate(metrics, pooled)
    assert totals["channels"] == 2 and totals["test_rows"] == sum(len(s.test) for s in splits)
    assert totals["rows_per_s"] == pytest.approx(totals["test_rows"] / 0.4)
    rates = pooled_rates(np.concatenate([a["labels"] for a in pooled]), np.concatenate([a["pred"] for a in pooled]))
    assert 0 <= rates["far"] <= 100 and 0 <= rates["mar"] <= 100


def test_failed_or_bad_scores(tmp_path):
    splits = [peers.series_splits(_channel(name, seed=i), WINDOW) for i, name in enumerate(("a", "b"))]
    good = {s.name: tuple(_direct_window_scores(s).values()) for s in splits}
    nan = {name: (v, np.where(np.arange(len(t)) == 3, np.nan, t)) for name, (v, t) in good.items()}
    path = _worker_output(tmp_path / "out.npz", splits, {"ecod": good, "copod": good, "pca": nan}, errors={"copod": "b"})
    meta, read = peers.read_outputs(path, splits, window=WINDOW, detectors=["ecod", "copod", "pca"])
    assert set(read) == {"ecod"}  # copod failed on one series, pca gave NaN: both left out
    assert meta["results"]["copod"]["b"]["error"] == "ValueError: boom"
    assert meta["results"]["pca"]["a"]["error"] == "non-finite scores"

    short = {name: (v[:-1], t) for name, (v, t) in good.items()}
    path = _worker_output(tmp_path / "short.npz", splits, {"knn": short})
    with pytest.raises(peers.PeersError, match="expected"):
        peers.read_outputs(path, splits, window=WINDOW, detectors=["knn"])


def test_detector_names():
    assert peers.check_detectors(None) == list(DETECTORS)
    assert peers.check_detectors(["pyod_iforest", "lstm", "lstm"]) == ["iforest", "lstm"]
    with pytest.raises(ValueError, match="unknown peer detector"):
        peers.check_detectors(["hbos"])
    assert {"iforest", "pca", "ecod", "copod", "knn", "autoencoder", "lstm"} <= set(DETECTORS)


def _fake_skab(root: Path) -> Path:
    from tests.benchmarks.test_speed_and_skab import _fake_skab as fake

    return fake(root)


def test_missing_peers_python_says_make_peers(tmp_path):
    data = _fake_skab(tmp_path / "skab_like")
    missing = tmp_path / "nope" / "bin" / "python"
    for command in (["skab", "--data", str(data)], ["msl", "--data", str(_fake_msl(tmp_path / "msl_like"))]):
        args = ["benchmark", *command, "--out", str(tmp_path / "r.json"), "--models", "pca", "--peers", str(missing), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        text = " ".join(result.output.split())
        assert "peers python not found" in text and "make peers" in text
        assert not (tmp_path / "r.json").exists()


def _fake_msl(root: Path) -> Path:
    from tests.benchmarks.test_msl import _fake_smap

    return _fake_smap(root, n_features=5)


def _readme_tables():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_list_peers_with_versions():
    tables = _readme_tables()
    models = {name: {"f1": 0.5, "far": 1.0, "mar": 2.0, "vus_pr": 0.4, "pr_auc": 0.3, "roc_auc": 0.9, "rows_per_s": 1e4, "train_s": 1.0, "pa_f1": 0.6}
              for name in ("pyod_ecod", "pca", "student")}
    report = {
        "models": models, "dataset": {"name": "skab", "channels": ["valve1/0"]}, "git_commit": "abcdef123456", "profile": "fast",
        "peers": {"versions": {"pyod": "3.6.7", "numpy": "2.4.6", "scikit-learn": "1.9.1", "numba": "0.68.1", "python": "3.11.7"},
                  "requirements": "benchmarks/peers/requirements.txt", "window": 30, "failed": {}},
    }
    for render in (tables.skab_table, tables.msl_table):
        text = render(report)
        lines = [line.split(" | ")[0].strip("| ") for line in text.splitlines() if line.startswith("| ")]
        assert lines[1:] == ["student", "pca", "pyod_ecod"]  # ours first, peers after
        assert "PyOD 3.6.7" in text and "numpy 2.4.6" in text and "scikit-learn 1.9.1" in text
    del report["peers"]
    assert "PyOD" not in tables.skab_table(report) and "preprocess" not in tables.skab_table(report)
    report["config"] = {"protocol": {"preprocessing": "unit-root sensors differenced"}}
    report["preprocessing"] = {"valve1/0": {"differenced": ["Temperature", "Thermocouple"]}, "valve1/1": {"differenced": ["Thermocouple"]}}
    title = tables.skab_table(report).splitlines()[0]
    assert title.startswith("**SKAB, preprocessed**") and "preprocessing: unit-root sensors differenced" in title
    assert "sensors differenced per file: Thermocouple 2/2, Temperature 1/2" in title
    report["config"] = {"protocol": {"preprocessing": "drift tracking"}}
    report["preprocessing"] = {"valve1/0": {"rejected_rows": {"Temperature": 3}}}
    title = tables.skab_table(report).splitlines()[0]
    assert "preprocessing: drift tracking" in title and "differenced" not in title


def test_quality_plot_is_drawn_and_linked_below_the_skab_table(tmp_path, monkeypatch):
    tables = _readme_tables()
    models = {
        name: {"f1": f1, "far": far, "mar": 10.0, "f1_best_threshold_far10": f1 - 0.1, "far_best_threshold_far10": 8.0,
               "vus_pr": 0.4, "pr_auc": 0.3, "roc_auc": 0.9, "rows_per_s": rows, "train_s": 1.0}
        for name, f1, far, rows in (("student", 0.73, 66.0, 9e4), ("pca", 0.76, 61.0, 9e4), ("pyod_ecod", 0.2, 21.0, 3e4))
    }
    skab = {"models": models, "dataset": {"name": "skab", "channels": ["valve1/0", "valve1/1"]}, "git_commit": "abcdef123456"}
    msl = {**skab, "dataset": {"name": "msl", "channels": ["C-1"]}, "profile": "fast"}
    assert tables.plot_quality(msl, skab, tmp_path / "both.png").stat().st_size > 10_000
    assert tables.plot_quality(None, skab, tmp_path / "skab.png").stat().st_size > 5_000
    with pytest.raises(ValueError, match="MSL or a SKAB"):
        tables.plot_quality(None, None, tmp_path / "none.png")

    reports = tmp_path / "reports" / "benchmarks"
    reports.mkdir(parents=True)
    (reports / "skab.json").write_text(json.dumps(skab))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "benchmarks.md").write_text("STALE TABLE\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tables, "REPORTS", reports)
    monkeypatch.setattr("sys.argv", ["readme_tables.py", "--write"])
    tables.main()
    page = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert (reports / "quality.png").stat().st_size > 5_000
    assert "STALE TABLE" not in page and page.startswith(tables.HEADER) and "Generated by benchmarks/readme_tables.py" in page
    table_end = page.index("| pyod_ecod |")
    assert table_end < page.index("(../reports/benchmarks/quality.png)")  # linked relative to docs/


# --------------------------------------------------------------------- with the peers venv


@needs_peers
def test_worker_runs_every_pyod_detector(tmp_path):
    channels = [_channel("a", seed=0), _channel("b", n_train=100, n_test=70, seed=1)]
    run = peers.score_peers(channels, PEERS_PYTHON, window=WINDOW, max_epochs=1)
    assert set(run.metrics) == {f"pyod_{name}" for name in DETECTORS} and not run.section["failed"]
    versions = run.section["versions"]
    assert versions["pyod"] and versions["numpy"] and versions["scikit-learn"] and versions["numba"] and versions["torch"]
    pins = dict(line.split("==") for line in (ROOT / peers.REQUIREMENTS).read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert versions["pyod"] == pins["pyod"] and versions["numpy"] == pins["numpy"] and versions["numba"] == pins["numba"]
    assert "+cpu" in versions["torch"] or "cuda" not in versions["torch"]
    for model, per_series in run.metrics.items():
        for name, row in per_series.items():
            for key in ("vus_pr", "pr_auc", "roc_auc", "f1", "threshold", "train_s", "score_s"):
                assert row[key] is not None and math.isfinite(row[key]), (model, name, key)
    for model in ("pyod_iforest", "pyod_pca", "pyod_knn", "pyod_ecod"):
        assert run.metrics[model]["a"]["roc_auc"] > 0.8, model  # a 40-sigma level shift
    assert run.config["pyod_lstm"]["params"]["window_size"] == WINDOW - 1 and run.config["pyod_lstm"]["params"]["epochs"] == 1
    assert run.config["pyod_iforest"]["params"]["random_state"] == 7
    assert run.metrics["pyod_lstm"]["a"]["epochs"] == 1 and run.metrics["pyod_autoencoder"]["a"]["epochs"] == 10  # PyOD default

    again = peers.score_peers(channels[:1], PEERS_PYTHON, window=WINDOW, detectors=["iforest", "autoencoder", "lstm"], max_epochs=1)
    for model in ("pyod_iforest", "pyod_autoencoder", "pyod_lstm"):  # seeded
        assert again.metrics[model]["a"]["roc_auc"] == run.metrics[model]["a"]["roc_auc"], model


@needs_peers
def test_fleet_mode_fits_one_detector_for_all_series(tmp_path):
    """score_peers_fleet: each window detector is fitted once on both series' windows and
    scores every held-out and test row; LSTMAD, which fits one series, is listed as failed."""
    channels = [_channel("a", seed=0), _channel("b", n_train=100, n_test=70, seed=1)]
    scored, section = score_peers_fleet(channels, PEERS_PYTHON, detectors=["iforest", "pca", "lstm"], window=WINDOW, max_epochs=1)
    assert set(scored) == {"pyod_iforest", "pyod_pca"} and "fits one series" in section["failed"]["pyod_lstm"]["a"]
    held_out = sum(validation_rows(len(c.train), WINDOW) for c in channels)
    for name, result in scored.items():
        assert len(result.held_out) == held_out and [len(t) for t in result.tests] == [len(c.test) for c in channels]
        assert result.train_s > 0 and result.model is None and result.scored_rows == held_out + sum(len(c.test) for c in channels)
        labels = channels[0].labels
        assert roc_auc(labels, result.tests[0]) > 0.8, name  # a 40-sigma level shift
    assert section["window"] == WINDOW and "one detector per name" in section["protocol"]


@needs_peers
def test_fleet_script_with_peers(tmp_path, monkeypatch):
    fleet = importlib.util.module_from_spec(spec := importlib.util.spec_from_file_location("skab_fleet", ROOT / "benchmarks" / "skab_fleet.py"))
    spec.loader.exec_module(fleet)
    data = _fake_skab(tmp_path / "skab_like")
    out = tmp_path / "fleet.json"
    monkeypatch.setattr("sys.argv", ["skab_fleet.py", "--data", str(data), "--seeds", "7", "--models", "pca", "--peers", str(PEERS_PYTHON),
                                      "--peer-models", "iforest,ecod", "--max-epochs", "1", "--out", str(out)])
    fleet.main()
    report = json.loads(out.read_text())
    assert list(report["models"]) == ["pca", "pyod_iforest", "pyod_ecod"] and report["peers"]["versions"]["pyod"]
    for name, values in report["models"].items():
        assert values["held_out_rows"] == 2 * 80 and math.isfinite(values["f1"]) and values["roc_auc"] > 0.6, name
    table = _readme_tables().fleet_table(report)
    assert "peers: one run" in table and "| pyod_ecod | " in table and "PyOD" in table


@needs_peers
def test_skab_cli_with_peers(tmp_path):
    data = _fake_skab(tmp_path / "skab_like")
    out = tmp_path / "skab.json"
    args = [
        "benchmark", "skab", "--data", str(data), "--out", str(out), "--models", "pca", "--max-epochs", "1",
        "--peers", str(PEERS_PYTHON), "--peer-models", "iforest,ecod,lstm", "--tracking-uri", f"sqlite:///{tmp_path}/m.db",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "pyod_ecod" in result.output and "peers (pyod_*): pyod" in result.output
    report = json.loads(out.read_text())
    assert list(report["models"]) == ["pca", "pyod_iforest", "pyod_ecod", "pyod_lstm"]
    for name, values in report["models"].items():
        for key in ("f1", "far", "mar", "vus_pr", "roc_auc", "rows_per_s", "train_s"):
            assert values[key] is not None and math.isfinite(values[key]), (name, key)
        assert values["files"] == 2
    assert set(report["per_channel"]["pyod_ecod"]) == set(report["per_channel"]["pca"])
    assert report["models"]["pyod_ecod"]["roc_auc"] > 0.8  # a 3-sigma offset on one sensor (ECOD: 0.87)
    assert report["peers"]["versions"]["pyod"] and report["peers"]["window"] == 30
    assert report["config"]["pyod_ecod"]["class"] == "pyod.models.ecod.ECOD"
    assert "PyOD" in _readme_tables().skab_table(report)
