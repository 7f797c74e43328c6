"""The evaluate stage's per-model files for DVC (components/scoring/report_files.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.metrics import auc

from components.scoring.report_files import numeric_metrics, write_curve_files, write_loss_file, write_metric_file


def test_metric_files_hold_the_finite_numbers_only(tmp_path):
    metrics = {"model": "pca", "vus_pr": 0.4, "events": 6, "roc_auc": float("nan"), "labels": "synthetic", "flag": True, "run_id": "abc"}
    assert numeric_metrics(metrics) == {"vus_pr": 0.4, "events": 6}
    path = write_metric_file(tmp_path, "pca", metrics)
    assert path == tmp_path / "metrics" / "pca.json" and json.loads(path.read_text()) == {"vus_pr": 0.4, "events": 6}


def test_curves_are_the_test_split_curves_thinned_with_their_ends_kept(tmp_path):
    rng = np.random.default_rng(0)
    labels = (rng.random(5000) < 0.1).astype(int)
    scores = labels * 1.0 + rng.normal(size=5000)
    scores[:30] = np.nan  # rows without a full window
    roc_path, pr_path = write_curve_files(tmp_path, "student", labels, scores, points=100)
    roc, pr = pd.read_csv(roc_path), pd.read_csv(pr_path)
    assert len(roc) == 100 and (roc.iloc[0].tolist(), roc.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    from sklearn.metrics import roc_auc_score

    assert abs(auc(roc["fpr"], roc["tpr"]) - roc_auc_score(labels[30:], scores[30:])) < 0.01
    assert list(pr.columns) == ["recall", "precision"] and pr["recall"].is_monotonic_increasing
    assert write_curve_files(tmp_path / "none", "pca", np.zeros(100, dtype=int), rng.normal(size=100)) == []


def test_loss_file_per_epoch_only_for_a_network(tmp_path):
    history = [{"epoch": 0, "train_loss": -1.5, "val_loss": -1.2, "lr": 0.001}, {"epoch": 1, "train_loss": -2.0, "val_loss": -1.9}]
    frame = pd.read_csv(write_loss_file(tmp_path, "anomaly_transformer", history))
    assert list(frame.columns) == ["epoch", "train_loss", "val_loss"] and frame["train_loss"].tolist() == [-1.5, -2.0]
    assert write_loss_file(tmp_path, "pca", []) is None and not (tmp_path / "plots" / "loss" / "pca.csv").exists()
