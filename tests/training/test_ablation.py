"""`anomflow ablate` on a trained project: every distillation variant trained, thresholded
and evaluated on the same test split, side by side in a file, a table and MLflow."""

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.cli import app


@pytest.mark.slow  # 24 s of research retraining; the default suite keeps its 10 minutes (make test-slow runs it)
def test_ablate_compares_the_student_s_distillation_variants(trained_project, monkeypatch):
    root = trained_project["root"]
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["ablate"])
    assert result.exit_code == 0, result.output
    assert "ablate done 4 rows" in result.output
    table = pd.read_csv(root / "reports" / "ablations.csv")
    assert table["variant"].tolist() == ["no_distillation", "anomaly_transformer_only", "omnianomaly_only", "all_teachers"]
    assert table["teachers"].tolist() == ["none", "anomaly_transformer", "omnianomaly", "anomaly_transformer+omnianomaly"]
    assert table[["vus_pr", "pr_auc", "roc_auc", "f1"]].notna().all().all() and (table["roc_auc"] > 0.5).all()
    for variant in table["variant"]:  # each printed in full, not cut to a pipe's 80 columns
        assert f"│ {variant} " in result.output
        assert (root / "models" / "ablations" / variant / "thresholds.json").exists()

    client = mlflow.MlflowClient(trained_project["tracking_uri"])
    parent = client.search_runs(client.get_experiment_by_name("anomflow").experiment_id, "attributes.run_name = 'ablation'")
    assert len(parent) == 1 and parent[0].info.status == "FINISHED"
    children = client.search_runs(parent[0].info.experiment_id, f"tags.mlflow.parentRunId = '{parent[0].info.run_id}'")
    assert sorted(r.info.run_name for r in children) == sorted(f"student[{v}]" for v in table["variant"])
    assert {r.info.status for r in children} == {"FINISHED"}
    assert {a.path for a in client.list_artifacts(parent[0].info.run_id, "ablations")} == {"ablations/ablations.csv", "ablations/ablations.json"}
