"""The pipeline config: defaults that follow from other settings."""

import pytest

from components.config import PipelineConfig, load_config


def test_prepare_times_follow_the_sampling_interval_unless_set():
    """A 1-s plant is resampled at 1 s, not the 60 s of the demo, without a prepare section."""

    def prepare_of(validate: dict, prepare: dict | None = None):
        raw = {"ingest": {"sources": [{"kind": "csv", "glob": "*.csv"}]}, "validate": validate}
        return PipelineConfig.model_validate({**raw, **({"prepare": prepare} if prepare else {})}).prepare

    assert prepare_of({"expected_interval_s": 1}).times() == (1, 10, 5)
    assert prepare_of({"expected_interval_s": 15.0}, {"max_gap_s": 3600}).times() == (15, 3600, 75)
    assert prepare_of({"expected_interval_s": 1}, {"interval_s": 60, "impute_limit_s": 0}).times() == (60, 600, 0)
    with pytest.raises(ValueError, match="set prepare.interval_s"):
        prepare_of({"expected_interval_s": 0.1}).times()
    assert prepare_of({"expected_interval_s": 0.1}, {"interval_s": 1}).times() == (1, 10, 5)


def test_config_errors_name_each_key_as_written_in_the_file(tmp_path):
    """One line per problem, keyed as in the YAML (list items by index, a source's kind
    not mistaken for a key), with the allowed keys and the closest one for a typo."""
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "ingest:\n"
        "  sources:\n"
        "    - {kind: csv, path: a.csv, delimeter: ';'}\n"
        "    - {kind: grafana_csv, glob: '*.csv', asset: [a, b]}\n"
        "  duplicate_rule: median\n"
        "validate:\n"
        "  sensors: {pressure: {mn: 0}, flow: {min: 3, max: 1}}\n"
        "register: {model: x}\n"
    )
    with pytest.raises(ValueError) as raised:
        load_config(path)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"invalid config {path}:"
    assert "- ingest.sources[0].glob: required, missing" in lines
    assert any(line.startswith("- ingest.sources[0].path: unknown key; allowed here: kind, glob, delimiter,") for line in lines)
    assert any(line.startswith("- ingest.sources[0].delimeter: unknown key; did you mean `delimiter`?") for line in lines)
    assert "- ingest.sources[1].asset: Input should be a valid string (got ['a', 'b'])" in lines
    assert "- ingest.duplicate_rule: Input should be 'mean', 'first' or 'last' (got 'median')" in lines
    assert "- validate.sensors.pressure.mn: unknown key; did you mean `min`? allowed here: min, max, max_null_fraction" in lines
    assert "- validate.sensors.flow: min (3.0) is greater than max (1.0)" in lines
    assert any(line.startswith("- register.model: unknown key; did you mean `model_name`?") for line in lines)
    assert len(lines) == 9


def test_empty_and_malformed_config_files_say_what_is_wrong(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ValueError, match=r"- ingest: required, missing"):
        load_config(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("ingest:\n  sources: [\n")
    with pytest.raises(ValueError, match=rf"config {broken} is not valid YAML: line 3, column 1: "):
        load_config(broken)
