"""benchmarks/demo_variants.py's settings merge and point-level false alarms, and its tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variant_settings_merge_section_by_section():
    variants = _script("demo_variants")
    base = {"prepare": {"interval_s": 60, "drift_tracking": {"depth": 50}}, "seed": 7}
    out = variants.merged(base, {"prepare": {"drift_tracking": {"enabled": True}}, "seed": 9})
    assert out == {"prepare": {"interval_s": 60, "drift_tracking": {"depth": 50, "enabled": True}}, "seed": 9}
    assert base["prepare"]["drift_tracking"] == {"depth": 50} and set(variants.VARIANTS) >= {"default", "drift_tracking"}


def test_point_false_events_count_each_excursion_on_normal_rows_per_asset_day():
    variants = _script("demo_variants")
    level = np.array(["normal"] * 1440, dtype=object)
    level[[10, 11, 500, 900]] = "warning"  # three excursions on normal rows: 10-11, 500, 900
    level[1000:1010] = "critical"  # inside the labelled fault
    label = np.zeros(1440, dtype=int)
    label[995:1020] = 1
    frame = pd.DataFrame({"asset": "pump-1", "label": label, "level_student": level})
    per_day = variants.point_false_events(frame, "student", 60.0)  # 1415 normal rows of one minute
    assert np.isclose(per_day, 3 / (1415 / 1440))


def test_demo_tables_show_every_seed_and_variant():
    tables = _script("readme_tables")

    def run(variant: str, seed: int, student: float) -> dict:
        model = {"vus_pr": student, "events": 6, "alarm_events_found": 4, "alarm_false_events_per_asset_day": 0.5,
                 "point_false_events_per_asset_day": 2.0, "alarm_mean_delay_rows": 3.0, "raise_after": 2}
        return {"variant": variant, "seed": seed, "models": {"student": model, "pca": {**model, "vus_pr": 0.3}}}

    report = {"variants": {"default": {}, "drift_tracking": {"prepare": {"drift_tracking": {"enabled": True}}}},
              "runs": {f"{v} seed {s}": run(v, s, 0.2 + 0.1 * (s - 7)) for v in ("default", "drift_tracking") for s in (7, 8, 9)}}
    seeds = tables.demo_seeds_table(report).splitlines()
    assert "VUS-PR seed 9" in seeds[2] and seeds[4].startswith("| student | 0.200 | 0.300 | 0.400 | 0.300 ± 0.100 | 2.000 | 0.500 | 4 | 3.000 |")
    ablation = tables.demo_variants_table(report).splitlines()
    assert ablation[4].startswith("| default | 7, 8, 9 | 0.300 ± 0.100 | 2/3 | pca 0.300 ± 0.000 | 2.000 | 0.500 | 4 |") and ablation[5].startswith("| drift_tracking |")


def test_student_weighting_table_lists_every_combination():
    tables = _script("readme_tables")
    metrics = {"vus_pr": 0.4, "pr_auc": 0.3, "roc_auc": 0.7, "f1": 0.2}
    report = {"tail": "ecod", "combinations": ["mix 0", "gated"], "seeds": [7], "demo_vus_pr": {"mix 0": 0.35, "gated": 0.351},
              "msl_mean": {"mix 0": metrics, "gated": {**metrics, "vus_pr": 0.45}}}
    table = tables.student_weighting_table(report).splitlines()
    assert "ECOD" in table[0] and "seed 7" in table[0]
    assert table[4] == "| mix 0 | 0.350 | 0.400 | 0.300 | 0.700 | 0.200 |" and table[5].startswith("| gated | 0.351 | 0.450 |")


def test_scores_in_warning_level_units_and_their_combinations():
    weighting = _script("student_weighting")
    metrics = {"threshold_floor": -1.0, "threshold": 3.0, "val_rows": 2}
    arrays = {"training_scores": np.array([9.0, 1.0, 3.0]), "scores": np.array([-1.0, 7.0])}
    val, test = weighting.in_units(metrics, arrays)
    np.testing.assert_allclose(val, [0.5, 1.0])  # the held-out rows only, the level maps to 1
    np.testing.assert_allclose(test, [0.0, 2.0])
    student, tail = np.array([0.5, 2.0]), np.array([3.0, 0.2])
    np.testing.assert_allclose(weighting.COMBINATIONS["mix 0.25"](student, tail), [1.125, 1.55])
    np.testing.assert_allclose(weighting.COMBINATIONS["gated"](student, tail), [2.5, 2.0])  # ECOD counts only above its level
    np.testing.assert_allclose(weighting.COMBINATIONS["mix 0"](student, tail), student)
