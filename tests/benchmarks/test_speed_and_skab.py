"""`anomflow benchmark speed` and `anomflow benchmark skab` on tiny inputs (so the code
cannot rot); the full runs are measured by hand and kept in reports/benchmarks/."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.benchmarks.skab import best_threshold_pred, list_experiments, load_experiment, pooled_rates, run_benchmark
from components.cli import app

SKAB = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "skab"


def test_speed_command_measures_every_model(tmp_path):
    out = tmp_path / "speed.json"
    args = ["benchmark", "speed", "--out", str(out), "--rows", "3000", "--budget-s", "0.2", "--profiles", "fast", "--max-rows", "10000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads(out.read_text())
    baselines = {"pca", "iforest", "kmeans_ad", "copod", "ecod"}
    names = {"student", "lstm_ae", *baselines, "anomaly_transformer_fast", "omnianomaly_fast"}
    assert set(report["scoring"]) == names
    assert all(r["rows_per_s"] > 0 and r["rows"] >= 1 for r in report["scoring"].values())
    assert set(report["training"]) == names - baselines
    assert all(t["s_per_1000_windows"] > 0 for t in report["training"].values())
    assert set(report["student_speedup"]) == names - {"student"}
    ratio = report["scoring"]["student"]["rows_per_s"] / report["scoring"]["lstm_ae"]["rows_per_s"]
    assert report["student_speedup"]["lstm_ae"] == pytest.approx(ratio)
    assert list(report["growth"]) == ["10000"]
    assert report["git_commit"] and report["hardware"]["cpu_count"] >= 1
    assert {"cpu", "torch_cpu_capability", "load_average_1_5_15"} <= set(report["hardware"])  # timings mean little without the load


def _fake_skab(root: Path) -> Path:
    """Two experiments like SKAB's: 4 sensors, 400 normal rows, then a labelled fault."""
    rng = np.random.default_rng(1)
    for folder, name in (("valve9", "0"), ("other", "3")):
        n = 700
        t = np.arange(n)
        frame = pd.DataFrame({
            "datetime": pd.date_range("2020-03-09 10:00:00", periods=n, freq="s").strftime("%Y-%m-%d %H:%M:%S"),
            **{f"s{k}": np.sin(t / (6 + k)) + 0.05 * rng.standard_normal(n) for k in range(4)},
        })
        frame["anomaly"] = 0.0
        frame.loc[550:620, "anomaly"] = 1.0
        frame.loc[550:620, "s1"] += 3.0
        frame["changepoint"] = 0.0
        (root / folder).mkdir(parents=True, exist_ok=True)
        frame.to_csv(root / folder / f"{name}.csv", sep=";", index=False)
    (root / "anomaly-free").mkdir()
    frame.drop(columns=["anomaly", "changepoint"]).to_csv(root / "anomaly-free" / "anomaly-free.csv", sep=";", index=False)
    return root


def test_skab_protocol_on_a_tiny_folder(tmp_path):
    data = _fake_skab(tmp_path / "skab_like")
    files = list_experiments(data)
    assert [f.relative_to(data).as_posix() for f in files] == ["other/3.csv", "valve9/0.csv"]  # not anomaly-free
    experiment = load_experiment(files[0], data)
    assert experiment.train.shape == (400, 4) and experiment.test.shape == (300, 4) and experiment.labels.sum() == 71

    out = tmp_path / "skab.json"
    args = ["benchmark", "skab", "--data", str(data), "--out", str(out), "--max-epochs", "1", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads(out.read_text())
    assert set(report["models"]) == {"anomaly_transformer", "omnianomaly", "student", "lstm_ae", "pca", "iforest", "kmeans_ad", "copod", "ecod"}
    for name, values in report["models"].items():
        bounds = [f"{k}_best_threshold{far}" for k in ("f1", "far", "mar") for far in ("", "_far10")]
        for key in ("f1", "far", "mar", *bounds, "vus_pr", "pr_auc", "roc_auc", "rows_per_s", "train_s"):
            assert values[key] is not None and math.isfinite(values[key]), (name, key)
        assert 0 <= values["far"] <= 100 and 0 <= values["mar"] <= 100
        assert values["f1_best_threshold"] >= values["f1"] - 0.05, name  # per-file best F1, pooled: at least about the real one
        assert values["far_best_threshold_far10"] <= 10.0, name  # every file within 10 %, so the pool too
    assert report["models"]["pca"]["roc_auc"] > 0.9  # a 3-sigma offset on one sensor
    assert report["config"]["protocol"]["train_rows"] == 400


def test_pooled_rates_are_percentages():
    labels = np.array([0, 0, 0, 0, 1, 1])
    pred = np.array([1, 0, 0, 0, 1, 0])
    rates = pooled_rates(labels, pred)
    assert rates["far"] == pytest.approx(25.0) and rates["mar"] == pytest.approx(50.0)
    assert rates["f1"] == pytest.approx(0.5)


def test_best_threshold_is_each_files_best_f1_on_its_own_labels():
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    # thresholds 0.8 / 0.4 / 0.35 / 0.1 give F1 2/3, 1/2, 4/5, 2/3: the best flags score >= 0.35
    np.testing.assert_array_equal(best_threshold_pred(labels, scores), [False, True, True, True])
    # no false alarm allowed: only the top score (F1 2/3) qualifies
    np.testing.assert_array_equal(best_threshold_pred(labels, scores, max_far=0.0), [False, False, False, True])
    # ties share a threshold: equal scores are flagged together
    np.testing.assert_array_equal(best_threshold_pred(np.array([1, 0, 1]), np.array([0.5, 0.5, 0.9])), [True, True, True])
    assert not best_threshold_pred(np.zeros(3), np.array([0.1, 0.2, 0.3])).any()
    assert not best_threshold_pred(np.array([0, 1]), np.array([0.9, 0.1]), max_far=10.0).any()  # the top row is a false alarm


def test_skab_folder_errors(tmp_path):
    result = CliRunner().invoke(app, ["benchmark", "skab", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 1 and "not found" in result.output
    (tmp_path / "empty" / "x").mkdir(parents=True)
    with pytest.raises(ValueError, match="no experiment file"):
        list_experiments(tmp_path / "empty")


@pytest.mark.parametrize(
    ("column", "row", "cell", "message"),
    [
        ("s2", 450, "abc", "line 452, column 's2': 'abc' is not a number"),
        ("s0", 10, "", "line 12, column 's0': '' is not a number"),
        ("s3", 600, "inf", "line 602, column 's3': 'inf' is not a finite number"),
        ("anomaly", 500, "", "line 502, column 'anomaly': '' is not a number"),
        ("anomaly", 501, "2", "line 503, column 'anomaly': '2' is not 0 or 1"),
    ],
)
def test_bad_cells_name_the_file_line_and_column(tmp_path, column, row, cell, message):
    data = _fake_skab(tmp_path / "skab")
    path = data / "valve9" / "0.csv"
    frame = pd.read_csv(path, sep=";", dtype=str)
    frame.loc[row, column] = cell
    frame.to_csv(path, sep=";", index=False)
    with pytest.raises(ValueError) as failed:
        load_experiment(path, data)
    assert str(failed.value) == f"{path}: {message}"


@pytest.mark.skipif(not SKAB.is_dir(), reason=f"SKAB data not found at {SKAB}")
def test_real_skab_files_load():
    files = list_experiments(SKAB)
    assert len(files) == 16 and all(f.parent.name == "valve1" for f in files)
    experiment = load_experiment(files[0], SKAB)
    assert experiment.train.shape == (400, 8) and experiment.labels.sum() > 0


def test_single_sensor_ceiling_script(tmp_path):
    """benchmarks/skab_ceiling.py: told the faulty sensor and direction, the fixed rule finds
    the fault; told the wrong direction, it does not; an unknown sensor names the file."""
    ceiling = _load_script("skab_ceiling")
    data = _fake_skab(tmp_path / "skab")
    right = ceiling.ceiling(data, "s1", "high")
    wrong = ceiling.ceiling(data, "s1", "low")
    assert right["files"] == 2 and len(right["grid"]) == len(ceiling.SMOOTH_ROWS) * len(ceiling.QUANTILES) * len(ceiling.MULTIPLIERS)
    assert right["fixed"]["smooth"] == 1 and right["fixed"]["f1"] > 0.9 and right["fixed"]["far"] < 5
    assert right["test_optimised"]["f1"] == max(g["f1"] for g in right["grid"]) >= right["fixed"]["f1"]
    assert wrong["fixed"]["f1"] < 0.2 and wrong["fixed"]["mar"] > 80
    score = ceiling.deviation(np.r_[np.zeros(400), 1.0, 3.0], "both", smooth=2)
    assert score[-1] == pytest.approx(2.0)  # the training sd is 0: deviations in raw units, mean of |1| and |3|
    with pytest.raises(ValueError, match="no column 'nope'"):
        ceiling.ceiling(data, "nope", "low")
    untold = right["untold"]  # told nothing: every sensor, each on its forward-validation scale
    assert untold["fixed"]["f1"] > 0.9 and untold["fixed"]["far"] < 5
    n_points = len(ceiling.UNTOLD_SMOOTH_ROWS) * len(ceiling.UNTOLD_FIT_ROWS)
    assert len(untold["grid"]) == n_points * len(ceiling.UNTOLD_MULTIPLIERS) and len(untold["bounds"]) == n_points
    assert untold["best_threshold"]["f1_best_threshold"] >= untold["fixed"]["f1"] and untold["best_threshold"]["far_best_threshold_far10"] <= 10
    tracking = right["tracking"]  # told nothing, following drift: each file at settings the other file chose
    n_points = len(ceiling.TRACKING_DEPTHS) * len(ceiling.TRACKING_SMOOTH_ROWS) * len(ceiling.TRACKING_MULTIPLIERS)
    assert len(tracking["grid"]) == len(tracking["bounds"]) == n_points and len(tracking["leave_one_file_out"]["chosen"]) == 2
    assert tracking["test_optimised"]["f1"] == max(g["f1"] for g in tracking["grid"]) >= tracking["leave_one_file_out"]["f1"] > 0.5
    assert tracking["best_threshold"]["far_best_threshold_far10"] <= 10
    lines = ceiling.summary(right)
    assert len(lines) == 10 and lines[0].startswith("told fixed: F1 ") and lines[-1].endswith(")")


def test_drift_normalised_score_discounts_a_sensor_that_drifted_in_training():
    """Two sensors deviate equally on a test row; the one that already drifted during its
    training rows is scaled down by its larger forward-validation excursion."""
    ceiling = _load_script("skab_ceiling")
    rng = np.random.default_rng(0)
    steady = rng.standard_normal(401)
    drifting = np.r_[np.linspace(0.0, 3.0, 400) + 0.1 * rng.standard_normal(400), 0.0]
    for column in (steady, drifting):  # the test row: 4 training standard deviations above the training mean
        column[400] = column[:400].mean() + 4 * column[:400].std()
    values = np.c_[steady, drifting]
    per_sensor = [ceiling.drift_normalised_score(values[:, [j]], smooth=1, fit_rows=200)[400] for j in (0, 1)]
    assert per_sensor[0] > 1.3 * per_sensor[1]  # forward excursions: about 3.9 (noise) against 5.4 (trend)
    assert ceiling.drift_normalised_score(values, smooth=1, fit_rows=200)[400] == pytest.approx(max(per_sensor))
    with pytest.raises(ValueError, match="fit_rows"):
        ceiling.drift_normalised_score(values, smooth=1, fit_rows=400)


def test_drift_tracking_score_follows_a_slow_drift_and_holds_a_fault():
    """The tracking rule's reference follows a sensor that keeps drifting after training,
    and freezes at the level before a step fault, so the whole step stays flagged and the
    rows after it are not; the untold rule, scaled on training rows only, flags the drift."""
    ceiling = _load_script("skab_ceiling")
    rng = np.random.default_rng(0)
    rows = 1000
    drifting = 0.01 * np.arange(rows) + 0.1 * rng.standard_normal(rows)  # 6 units past its training range by the end
    stepped = 0.1 * rng.standard_normal(rows)
    stepped[600:800] -= 2.0  # a drop of 20 noise standard deviations, 200 rows long
    values = np.c_[drifting, stepped]
    tracked = ceiling.drift_tracking_score(values, depth=100, smooth=5, multiplier=1.5)
    assert tracked.shape == (rows - 400,)
    fault = np.zeros(rows - 400, bool)
    fault[200:400] = True
    assert (tracked[fault] > 1).mean() > 0.95 and (tracked[~fault] > 1).mean() < 0.05
    assert (ceiling.drift_tracking_score(values[:, [0]], depth=100, smooth=5, multiplier=1.5) > 1).mean() < 0.05
    assert (ceiling.drift_normalised_score(values[:, [0]], smooth=5, fit_rows=200)[-100:] > 1).all()
    with pytest.raises(ValueError, match="depth"):
        ceiling.drift_tracking_score(values, depth=400, smooth=1, multiplier=1.0)


def test_tracked_skab_script_discounts_a_drifting_sensor_and_keeps_the_fault(drifting_skab, tmp_path, monkeypatch, capsys):
    """benchmarks/skab_tracked.py on a SKAB-like folder with a slowly drifting extra sensor:
    PCA's false alarms fall once every sensor is a drift-tracking residual (the random
    walk wanders out of its training range but steps as it did in training), the fault is
    still found, and each file's record says how many test rows each reference rejected."""
    tracked = _load_script("skab_tracked")
    data, plain = drifting_skab
    out = tmp_path / "tracked.json"
    monkeypatch.setattr("sys.argv", ["skab_tracked.py", "--data", str(data), "--models", "pca", "--depth", "50", "--smooth", "1", "--out", str(out)])
    tracked.main()
    report = json.loads(out.read_text())
    assert "drift tracking" in report["config"]["protocol"]["preprocessing"]
    assert set(report["preprocessing"]) == {"other/3", "valve9/0"}
    assert report["preprocessing"]["other/3"]["rejected_rows"]["s1"] > 50  # the fault's rows, held out of s1's reference
    assert report["preprocessing"]["other/3"]["rejected_rows"]["drift"] == 0  # the walk steps as it did in training
    assert plain["models"]["pca"]["far"] > 40 and report["models"]["pca"]["far"] < 0.75 * plain["models"]["pca"]["far"]
    assert report["models"]["pca"]["mar"] < 20
    assert "pca" in capsys.readouterr().out
    with pytest.raises(ValueError, match="depth"):
        tracked.preprocessing(depth=400)
    from components.benchmarks.skab import sensor_columns
    from components.features.smoothing import spectral_smoothing

    experiment = load_experiment(data / "other" / "3.csv", data)  # auto: the file's own width, from its training rows alone
    _, record = tracked.preprocessing(depth=50, smooth="auto").apply(experiment, sensor_columns(data / "other" / "3.csv"))
    assert record["smoothing"] == spectral_smoothing({"other/3": np.asarray(experiment.train)}, 50) >= 1


def test_margin_script_chooses_its_margin_on_normal_recordings_only(tmp_path, monkeypatch):
    """benchmarks/skab_margin.py on a SKAB-like folder: the margin is the smallest whose
    FAR on the anomaly-free pieces is within the target, whatever the experiments' labels
    say, and the experiments' rates are reported at it and at every other margin."""
    margin = _load_script("skab_margin")
    data = _fake_skab(tmp_path / "skab")
    pieces = margin.normal_pieces(data, piece_rows=600)
    assert [p.name for p in pieces] == ["anomaly-free/anomaly-free@0"] and pieces[0].test.shape == (200, 4) and not pieces[0].labels.any()
    with pytest.raises(ValueError, match="piece-rows"):
        margin.normal_pieces(data, piece_rows=400)
    with pytest.raises(ValueError, match="no normal recording .* under .*skab"):
        margin.normal_pieces(data, piece_rows=800)  # the anomaly-free file has only 700 rows
    out = tmp_path / "margin.json"
    monkeypatch.setattr("sys.argv", ["skab_margin.py", "--data", str(data), "--piece-rows", "600", "--max-epochs", "1", "--out", str(out)])
    margin.main()
    table = _load_script("readme_tables").margin_table(json.loads(out.read_text())).splitlines()
    assert table[0].startswith("**SKAB, drift-tracked, threshold from normal recordings**") and "1 normal pieces of 600 rows" in table[0]
    assert len(table) == 5 and table[-1].startswith("| 7 | ")
    report = json.loads(out.read_text())["seeds"]["7"]
    assert len(report["grid"]) == len(margin.MARGINS)
    fars = [g["far_normal"] for g in report["grid"]]
    assert fars == sorted(fars, reverse=True)  # a higher margin never flags more
    assert report["margin"] == next(g["margin"] for g in report["grid"] if g["far_normal"] <= 10)
    assert report["chosen"]["margin"] == report["margin"] and 0 <= report["chosen"]["f1"] <= 1
    normal = [(0.0, np.array([0.5, 2.0])), (1.0, np.array([1.0, 1.2]))]
    chosen, normal_fars = margin.choose_margin(normal)
    assert normal_fars[:3] == [75.0, 50.0, 25.0] and chosen == 2.0  # 2.0 stays above 0 + margin until the margin is 2


def test_student_targets_script_runs_skab_s_variants_per_file(tmp_path, monkeypatch):
    """benchmarks/student_targets.py --dataset skab: SKAB's own variants (its strongest
    baselines, PCA and ECOD, as targets) on each file, with pooled FAR and MAR, and the
    table docs/benchmarks.md shows."""
    targets = _load_script("student_targets")
    data, out = _fake_skab(tmp_path / "skab"), tmp_path / "targets.json"
    monkeypatch.setattr("sys.argv", ["student_targets.py", "--dataset", "skab", "--data", str(data), "--variants", "teachers,pca",
                                      "--max-epochs", "1", "--out", str(out)])
    targets.main()
    report = json.loads(out.read_text())
    assert report["dataset"] == "skab" and report["channels"] == ["other/3", "valve9/0"]
    assert report["variants"] == {"teachers": targets.TEACHERS, "pca": {"pca": 1.0}}
    for values in report["mean"].values():
        assert set(values) == set(targets.METRICS) and 0 <= values["far"] <= 100 and 0 <= values["mar"] <= 100
    table = _load_script("readme_tables").student_targets_table(report).splitlines()
    assert table[0].startswith("**Student distillation targets, SKAB**") and "2 files" in table[0]
    assert table[2] == "| variant | targets | VUS-PR | PR-AUC | ROC-AUC | F1 | FAR % | MAR % |" and table[-1].startswith("| pca | pca 1 |")


def test_fleet_script_trains_one_model_per_kind_on_every_files_training_rows(tmp_path, monkeypatch, capsys):
    """benchmarks/skab_fleet.py on a SKAB-like folder: every file's inputs are tracked with
    the fleet's tolerances, each model is fitted once for both files, its one threshold
    comes from both files' 80 held-out training rows, the fault is found, and the README
    table renders; files with different sensors are refused, naming the file."""
    from benchmarks.research_lib.drift_tracking import fleet_tolerances

    fleet = _load_script("skab_fleet")
    data = _fake_skab(tmp_path / "skab")
    out = tmp_path / "fleet.json"
    monkeypatch.setattr("sys.argv", ["skab_fleet.py", "--data", str(data), "--seeds", "7", "--models", "omnianomaly,student,pca",
                                      "--max-epochs", "1", "--out", str(out)])
    fleet.main()
    report = json.loads(out.read_text())
    raw = [load_experiment(p, data) for p in list_experiments(data)]
    np.testing.assert_allclose(list(report["tolerances"].values()), fleet_tolerances(raw))
    assert list(report["tolerances"]) == ["s0", "s1", "s2", "s3"] and report["rejected_rows"]["other/3"]["s1"] > 50
    assert list(report["models"]) == ["omnianomaly", "student", "pca"] and list(report["seeds"]) == ["7"]
    for name, result in report["models"].items():
        assert result["held_out_rows"] == 2 * 80 and 0 <= result["f1"] <= 1 and result["epochs"] >= (name != "pca")
        assert result["mar"] < 20  # the fault's 71 rows, found in the tracked residual
        assert result["alarm_events_found"] == result["events"] >= 1 and result["raise_after"] >= 1 and 0 <= result["alarm_far"] <= 100
    assert "mean pca" in capsys.readouterr().out
    table = _load_script("readme_tables").fleet_table(report).splitlines()
    assert table[0].startswith("**SKAB, one model for all files**") and "means over seeds 7" in table[0]
    assert len(table) == 2 + 2 + 3 and table[-1].startswith("| pca | ") and "| alarm F1 | alarm FAR % |" in table[2]
    assert report["protocol"]["smoothing"] == {"setting": 20, "rows": 20}
    smoothing = _load_script("readme_tables").fleet_smoothing_table({"label-chosen": report}).splitlines()
    assert smoothing[2] == "| smoothing | rows | student F1 | FAR % | MAR % | VUS-PR | target met | best other F1 |"
    assert smoothing[-1].startswith("| label-chosen | 20 | ") and smoothing[-1].split(" | ")[6] in ("yes", "no")
    from components.features.smoothing import spectral_smoothing

    *_, smoothing = fleet.tracked_fleet(data, 100, "auto")  # from the training rows' spectra: no label read
    assert smoothing == spectral_smoothing({e.name: np.asarray(e.train) for e in raw}, 100) >= 1
    other = pd.read_csv(data / "other" / "3.csv", sep=";").rename(columns={"s3": "s9"})
    other.to_csv(data / "other" / "3.csv", sep=";", index=False)
    with pytest.raises(ValueError, match=r"valve9/0.csv: sensors .* differ from .*other/3.csv"):
        fleet.tracked_fleet(data, 100, 20)


def _load_script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def drifting_skab(tmp_path_factory) -> tuple[Path, dict]:
    """A SKAB-like folder whose extra sensor is a random walk that wanders out of its
    training range on normal rows, and PCA's plain benchmark report on it."""
    data = _fake_skab(tmp_path_factory.mktemp("drifting") / "skab")
    rng = np.random.default_rng(5)
    for path in list_experiments(data):
        frame = pd.read_csv(path, sep=";")
        frame.insert(5, "drift", np.cumsum(rng.standard_normal(len(frame))))
        frame.to_csv(path, sep=";", index=False)
    return data, run_benchmark(data, models=["pca"])


def test_adf_tells_a_random_walk_from_noise_and_differencing_is_causal():
    pytest.importorskip("statsmodels", reason="benchmarks/skab_differenced.py's own requirement, not anomflow's")
    differenced = _load_script("skab_differenced")
    rng = np.random.default_rng(3)
    walk, noise = np.cumsum(rng.standard_normal(400)), rng.standard_normal(400)
    p = differenced.adf_p_values(np.c_[walk, noise, np.ones(400)])
    assert p[0] > 0.05 and p[1] < 0.01 and np.isnan(p[2])  # a constant sensor is not tested
    values = np.c_[[1.0, 4.0, 9.0], [5.0, 6.0, 7.0]]
    np.testing.assert_array_equal(differenced.difference_columns(values, np.array([True, False])), np.c_[[0.0, 3.0, 5.0], [5.0, 6.0, 7.0]])


def test_differenced_skab_script_discounts_a_drifting_sensor(drifting_skab, tmp_path, monkeypatch, capsys):
    """benchmarks/skab_differenced.py on a SKAB-like folder whose extra sensor wanders far
    out of its training range on normal rows: the ADF test picks that sensor (and only it)
    in every file, and PCA's false alarms fall once it is differenced, while the fault on a
    stationary sensor stays found."""
    pytest.importorskip("statsmodels", reason="benchmarks/skab_differenced.py's own requirement, not anomflow's")
    differenced = _load_script("skab_differenced")
    data, plain = drifting_skab
    out = tmp_path / "differenced.json"
    monkeypatch.setattr("sys.argv", ["skab_differenced.py", "--data", str(data), "--models", "pca", "--out", str(out)])
    differenced.main()
    report = json.loads(out.read_text())
    assert {name: r["differenced"] for name, r in report["preprocessing"].items()} == {"other/3": ["drift"], "valve9/0": ["drift"]}
    assert report["preprocessing"]["other/3"]["adf_p"]["s1"] < 0.05
    assert "ADF" in report["config"]["protocol"]["preprocessing"] and plain["config"]["protocol"]["preprocessing"] is None
    assert plain["models"]["pca"]["far"] > 30 and report["models"]["pca"]["far"] < plain["models"]["pca"]["far"] / 2
    assert report["models"]["pca"]["mar"] <= plain["models"]["pca"]["mar"] < 5
    assert "other/3: differenced drift" in capsys.readouterr().out
    with pytest.raises(ValueError, match="alpha"):
        differenced.preprocessing(1.5)


def test_differenced_script_without_statsmodels_says_how_to_install(tmp_path, monkeypatch):
    """statsmodels is the study's own requirement: without it the script stops before any
    work with a message naming the pip command."""
    differenced = _load_script("skab_differenced")
    monkeypatch.setitem(__import__("sys").modules, "statsmodels.tsa.stattools", None)
    monkeypatch.setattr("sys.argv", ["skab_differenced.py", "--data", str(tmp_path), "--out", str(tmp_path / "out.json")])
    with pytest.raises(SystemExit, match=r"pip install 'statsmodels"):
        differenced.main()
    with pytest.raises(ImportError, match="statsmodels"):
        differenced.adf_p_values(np.ones((10, 1)))
    assert not (tmp_path / "out.json").exists()
