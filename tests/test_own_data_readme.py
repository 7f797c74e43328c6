"""The README's "Your own data" config works on the SKAB files it names, and the errors
it quotes are the ones a user gets on the way there."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from components import stages
from components.config import PipelineConfig

REPO = Path(__file__).parents[1]
SKAB_VALVE1 = REPO.parent / "shared" / "datasets" / "skab" / "valve1"


def readme_config() -> dict:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- own-data-config -->\n```yaml\n(.*?)```", text, re.S)
    assert block, "README lost its own-data config block"
    return yaml.safe_load(block.group(1))


def test_the_readme_s_skab_config_ingests_validates_and_prepares_valve1(tmp_path, monkeypatch):
    if not SKAB_VALVE1.is_dir():
        pytest.skip(f"SKAB not found at {SKAB_VALVE1} (it lives beside the project, not in it)")
    shutil.copytree(SKAB_VALVE1, tmp_path / "data" / "skab" / "valve1")
    monkeypatch.chdir(tmp_path)
    raw = readme_config()
    cfg = PipelineConfig.model_validate(raw)

    assert stages.run_ingest(cfg)["rows"] == 18_160
    declared_one = PipelineConfig.model_validate({**raw, "validate": {**raw["validate"], "sensors": {"current": None}}})
    with pytest.raises(ValueError, match=r"column\(s\) \['accelerometer1rms', .*'volume_flow_raterms'\] in data/skab/valve1/0.csv"):
        stages.run_validate(declared_one)
    assert stages.run_validate(cfg)["n_quarantined"] == 0

    default_split = PipelineConfig.model_validate({**raw, "prepare": {k: v for k, v in raw["prepare"].items() if not k.endswith("_fraction")}})
    assert default_split.longest_window() == 32  # prepare checks the longest window of the models trained: the teachers' (fast profile)
    with pytest.raises(ValueError, match=re.escape("the val split has no 32-row window free of labelled anomalies (3,721 rows in 17 sessions")):
        stages.run_prepare(default_split)
    summary = stages.run_prepare(cfg)
    assert summary["val"]["fit_windows"] > 16 * 40 and summary["train"]["fit_windows"] > 16 * 250
    assert summary["val"]["anomalous_rows"] == 0  # thresholds come from normal rows only


def test_the_readme_quotes_the_window_prepare_checks():
    text = " ".join((REPO / "README.md").read_text().split())
    window = PipelineConfig.model_validate(readme_config()).longest_window()
    assert f'"the val split has no {window}-row window free of labelled anomalies' in text
