"""Regenerate the README's benchmark tables from reports/benchmarks/*.json.

Usage (from the project root): .venv/bin/python benchmarks/readme_tables.py [--write]
Prints the markdown; with --write, replaces what lies between the
``<!-- benchmarks:start -->`` and ``<!-- benchmarks:end -->`` markers of README.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPORTS = Path("reports/benchmarks")
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
ORDER = ("student", "anomaly_transformer", "omnianomaly", "lstm_ae", "pca", "iforest")


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _models(report: dict) -> list[str]:
    return [m for m in ORDER if m in report["models"]] + [m for m in report["models"] if m not in ORDER]


def msl_table(report: dict) -> str:
    rows = [
        [m, *(_fmt(report["models"][m].get(k)) for k in ("vus_pr", "pr_auc", "roc_auc", "f1", "pa_f1", "rows_per_s", "train_s"))]
        for m in _models(report)
    ]
    title = (
        f"**{report['dataset']['name'].upper()}** ({len(report['dataset']['channels'])} channels, profile {report['profile']}, "
        f"commit {report['git_commit'][:8]}, {report.get('wall_s', 0) / 60:.0f} min wall; VUS-PR/PR-AUC/ROC-AUC channel means, "
        "F1 pooled at the validation-set POT threshold, PA-F1 point-adjusted at a test-optimised threshold: papers only)"
    )
    return title + "\n\n" + _table(["model", "VUS-PR", "PR-AUC", "ROC-AUC", "F1", "PA-F1", "rows/s", "train s"], rows)


def skab_table(report: dict) -> str:
    rows = [
        [m, *(_fmt(report["models"][m].get(k)) for k in ("f1", "far", "mar", "vus_pr", "pr_auc", "roc_auc", "rows_per_s", "train_s"))]
        for m in _models(report)
    ]
    title = (
        f"**SKAB** ({len(report['dataset']['channels'])} experiments, leaderboard protocol: fit on each file's first 400 rows, "
        f"threshold from training rows only; F1/FAR/MAR pooled, FAR and MAR in %; commit {report['git_commit'][:8]})"
    )
    return title + "\n\n" + _table(["model", "F1", "FAR %", "MAR %", "VUS-PR", "PR-AUC", "ROC-AUC", "rows/s", "train s"], rows)


def speed_table(report: dict) -> str:
    rows = []
    for name, result in report["scoring"].items():
        training = report["training"].get(name)
        speedup = "–" if name == "student" else f"{report['student_speedup'][name]:,.1f}×"
        rows.append([name, _fmt(result["rows_per_s"]), speedup, "–" if training is None else f"{training['s_per_1000_windows']:.2f}"])
    growth = ", ".join(f"{int(n):,} rows {g['seconds']:.2f} s" for n, g in report["growth"].items())
    title = (
        f"**Speed** (`anomflow benchmark speed`, {report['config']['n_sensors']} sensors, {report['config']['torch_threads']} threads, "
        f"causal per-row scoring as served; commit {report['git_commit'][:8]})"
    )
    return title + "\n\n" + _table(["model", "scoring rows/s", "student speed-up", "train s / 1000 windows (1 epoch)"], rows) + f"\n\nStudent scoring time vs rows: {growth}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    parts = []
    for name, render in (("msl_fast.json", msl_table), ("skab.json", skab_table), ("speed.json", speed_table)):
        path = REPORTS / name
        if path.exists():
            parts.append(render(json.loads(path.read_text())))
    markdown = "\n\n".join(parts)
    if args.write:
        readme = Path("README.md").read_text()
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        Path("README.md").write_text(f"{head}{START}\n{markdown}\n{END}{tail}")
    print(markdown)


if __name__ == "__main__":
    main()
