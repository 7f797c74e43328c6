"""The `models:` section: one section per model (its window included), the models trained
are those written, teacher profiles read relative to the config file, an old-layout file
names what to move where, and the resolved file reloads equal."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.config import PipelineConfig, load_config, resolved_settings, resolved_yaml
from components.detectors.anomaly_transformer import AnomalyTransformerSettings
from components.detectors.iforest import IsolationForestSettings
from components.detectors.pca import PcaSettings
from components.detectors.registry import KINDS
from components.detectors.student import StudentSettings

REPO = Path(__file__).resolve().parents[2]
OLD_LAYOUT = Path(__file__).parent / "old_layout_pipeline.yaml"  # conf/pipeline.yaml before the models: section (8e284ec)
INGEST = {"sources": [{"kind": "csv", "glob": "data/*.csv"}]}

CUSTOM_PROFILE = {
    "fast": {"window": 12, "d_model": 8, "n_heads": 2, "e_layers": 1, "d_ff": 16, "dropout": 0.0, "k": 3.0,
             "lr": 1e-3, "temperature": 50.0, "max_epochs": 1, "batch_size": 16},
}


def _write(path: Path, raw: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_an_old_layout_file_fails_naming_every_move(tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text(OLD_LAYOUT.read_text())
    with pytest.raises(ValueError) as raised:
        load_config(config)
    message = str(raised.value)
    assert message.startswith(f"config {config} has the layout from before every model's settings moved under `models:`")
    lines = message.splitlines()
    for move in (
        "- model.hidden_size → models.lstm_ae.hidden_size",
        "- model.latent_size → models.lstm_ae.latent_size",
        "- train.seed → seed (top level)",
        "- train.max_epochs → models.student.max_epochs and models.lstm_ae.max_epochs",
        "- teachers.models → a section per teacher trained: models.anomaly_transformer: {}, models.omnianomaly: {}",
        "- teachers.profile → models.anomaly_transformer.profile and models.omnianomaly.profile",
        "- student.window → models.student.window",
        "- student.distillation → models.student.distillation",
        "- baselines.models → a section per baseline trained: models.pca: {}, models.iforest: {}",
        "- baselines.pca_variance → models.pca.variance",
        "- baselines.iforest_estimators → models.iforest.n_estimators",
    ):
        assert move in lines, move
    window = [line for line in lines if line.startswith("- prepare.window → ")]
    assert len(window) == 1 and "models.lstm_ae.window" in window[0] and "models.student.window" in window[0]
    old = yaml.safe_load(OLD_LAYOUT.read_text())
    moved = [line for line in lines if line.startswith("- ")]
    expected = sum(len(old[s]) for s in ("model", "train", "teachers", "student", "baselines")) + 1  # + prepare.window
    assert len(moved) == expected  # one line per key of the old layout, none left unnamed


def test_one_old_key_alone_is_named_too(tmp_path):
    config = _write(tmp_path / "pipeline.yaml", {"ingest": INGEST, "prepare": {"window": 40}})
    with pytest.raises(ValueError, match=r"- prepare\.window → models\.lstm_ae\.window"):
        load_config(config)


def test_the_repository_config_is_in_the_new_layout_and_trains_every_model():
    cfg = load_config(REPO / "conf" / "pipeline.yaml")
    assert cfg.model_kinds() == list(KINDS)
    assert cfg.seed == 7
    first, then = cfg.training_rounds()
    assert then == ["student"] and cfg.learns_from("student") == ["anomaly_transformer", "omnianomaly"]
    assert set(first) == set(KINDS) - {"student"}


def test_only_the_models_written_are_trained(tmp_path):
    cfg = load_config(_write(tmp_path / "pipeline.yaml", {"ingest": INGEST, "models": {"pca": {"window": 20}, "student": {}}}))
    assert cfg.model_kinds() == ["student", "pca"]  # the registry's order, not the file's
    assert cfg.training_rounds() == (["student", "pca"], [])  # no teacher trained: nothing to distil from
    assert cfg.learns_from("student") == []
    assert cfg.settings_of("pca").window == 20 and cfg.longest_window() == max(20, StudentSettings().window)
    with pytest.raises(ValueError, match=r"trains no iforest \(add a `iforest:` section under `models:`\)"):
        cfg.settings_of("iforest")


def test_a_section_written_empty_trains_that_model_with_defaults(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("ingest:\n  sources: [{kind: csv, glob: 'data/*.csv'}]\nmodels:\n  pca:\n  iforest: {}\n")
    cfg = load_config(path)
    assert cfg.model_kinds() == ["student", "pca", "iforest"]  # the served model always
    assert cfg.settings_of("pca") == PcaSettings() and cfg.settings_of("iforest") == IsolationForestSettings()
    assert cfg.settings_of("student") == StudentSettings()


def test_without_a_models_section_every_model_is_trained_with_defaults():
    cfg = PipelineConfig.model_validate({"ingest": INGEST})
    assert cfg.model_kinds() == list(KINDS)
    assert cfg.settings_of("anomaly_transformer") == AnomalyTransformerSettings(profile="fast")


def test_a_model_s_unknown_setting_is_named_with_its_section(tmp_path):
    config = _write(tmp_path / "pipeline.yaml", {"ingest": INGEST, "models": {"pca": {"variance": 0.9, "n_estimators": 5}}})
    with pytest.raises(ValueError, match=r"models\.pca\.n_estimators: unknown key"):
        load_config(config)
    config = _write(tmp_path / "pipeline.yaml", {"ingest": INGEST, "models": {"lof": {}}})
    with pytest.raises(ValueError, match=r"models\.lof: unknown key"):
        load_config(config)


def test_with_settings_changes_one_model_only():
    cfg = PipelineConfig.model_validate({"ingest": INGEST})
    changed = cfg.with_settings("pca", window=44)
    assert changed.settings_of("pca").window == 44 and cfg.settings_of("pca").window == PcaSettings().window
    assert changed.settings_of("iforest") == cfg.settings_of("iforest")


def test_a_teacher_profile_file_is_read_relative_to_the_config_file(tmp_path, monkeypatch):
    conf = tmp_path / "project" / "conf"
    _write(conf / "my_profiles.yaml", CUSTOM_PROFILE)
    raw = {"ingest": INGEST, "models": {"student": {}, "anomaly_transformer": {"profile_file": "my_profiles.yaml", "d_ff": 24}}}
    config = _write(conf / "pipeline.yaml", raw)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not the config's folder
    settings = load_config(config).settings_of("anomaly_transformer")
    assert (settings.window, settings.d_model, settings.n_heads, settings.e_layers) == (12, 8, 2, 1)  # from the custom profile
    assert settings.d_ff == 24  # the section overrides its profile
    assert settings.window != AnomalyTransformerSettings(profile="fast").window  # not the package's profile


def test_a_missing_profile_file_is_a_clear_error(tmp_path):
    config = _write(tmp_path / "pipeline.yaml", {"ingest": INGEST, "models": {"omnianomaly": {"profile_file": "missing.yaml"}}})
    with pytest.raises(ValueError) as raised:
        load_config(config)
    message = str(raised.value)
    assert f"invalid config {config}" in message and "models.omnianomaly" in message
    assert f"profile_file {tmp_path / 'missing.yaml'} not found (a relative path is read from the config file's folder)" in message


def test_a_profile_missing_from_the_profile_file_is_named(tmp_path):
    _write(tmp_path / "my_profiles.yaml", CUSTOM_PROFILE)
    config = _write(tmp_path / "pipeline.yaml", {
        "ingest": INGEST, "models": {"anomaly_transformer": {"profile_file": "my_profiles.yaml", "profile": "paper"}},
    })
    with pytest.raises(ValueError, match=r"no anomaly_transformer profile 'paper' in .*my_profiles\.yaml; have \['fast'\]"):
        load_config(config)


def test_resolved_yaml_reloads_to_an_equal_config(tmp_path):
    cfg = load_config(REPO / "conf" / "pipeline.yaml")
    out = tmp_path / "artifacts" / "params.yaml"
    out.parent.mkdir()
    out.write_text(resolved_yaml(cfg, REPO / "conf" / "pipeline.yaml"))
    again = load_config(out)
    assert again == cfg
    assert resolved_settings(again) == resolved_settings(cfg)
    written = yaml.safe_load(out.read_text())
    assert list(written["models"]) == list(KINDS) and written["seed"] == 7
    for kind in KINDS:  # every setting of every model written out, defaults included
        assert set(written["models"][kind]) == set(type(cfg.settings_of(kind)).model_fields)


def test_resolved_yaml_leaves_out_the_models_not_trained(tmp_path):
    cfg = load_config(_write(tmp_path / "pipeline.yaml", {"ingest": INGEST, "models": {"pca": None}}))
    out = _write(tmp_path / "resolved.yaml", yaml.safe_load(resolved_yaml(cfg)))
    assert list(yaml.safe_load(out.read_text())["models"]) == ["student", "pca"]
    assert load_config(out) == cfg


def test_resolved_yaml_with_a_custom_profile_file_reloads_from_another_folder(tmp_path):
    conf = tmp_path / "conf"
    _write(conf / "my_profiles.yaml", CUSTOM_PROFILE)
    cfg = load_config(_write(conf / "pipeline.yaml", {
        "ingest": INGEST, "models": {"student": {}, "anomaly_transformer": {"profile_file": "my_profiles.yaml"}},
    }))
    out = tmp_path / "artifacts" / "params.yaml"  # where `anomflow config --out` writes it for DVC
    out.parent.mkdir()
    out.write_text(resolved_yaml(cfg))
    assert load_config(out).settings_of("anomaly_transformer") == cfg.settings_of("anomaly_transformer")
