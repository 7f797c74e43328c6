"""Regenerate the README's benchmark tables from reports/benchmarks/*.json.

Usage (from the project root): .venv/bin/python benchmarks/readme_tables.py [--write]
Prints the markdown; with --write, replaces what lies between the
``<!-- benchmarks:start -->`` and ``<!-- benchmarks:end -->`` markers of README.md.
Reports that are missing are left out. With scale.json, it also draws
reports/benchmarks/costs.png (training seconds per epoch and scoring seconds vs rows,
and training vs sensors); with msl_fast.json or skab.json, reports/benchmarks/quality.png
(MSL's VUS-PR against scoring speed; SKAB's F1 per model beside its bound and the target); both are
linked from the markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.benchmarks.skab import TARGET_F1, TARGET_FAR  # noqa: E402

REPORTS = Path("reports/benchmarks")
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
ORDER = ("student", "anomaly_transformer", "omnianomaly", "lstm_ae", "pca", "iforest")
PEER_PREFIX = "pyod_"  # PyOD's detectors (`--peers`), listed after ours


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _models(report: dict) -> list[str]:
    """Ours in ORDER, then anything else, then the peers (pyod_*)."""
    ours = [m for m in ORDER if m in report["models"]] + [m for m in report["models"] if m not in ORDER and not _is_peer(m)]
    return ours + [m for m in report["models"] if _is_peer(m)]


def _is_peer(model: str) -> bool:
    return model.startswith(PEER_PREFIX)


def peers_note(report: dict) -> str:
    """A sentence on the peer rows (versions, environment), or "" without peers."""
    peers = report.get("peers")
    if not peers or not any(_is_peer(m) for m in report["models"]):
        return ""
    v = peers["versions"]
    stack = ", ".join(f"{name} {v[key]}" for name, key in (("numpy", "numpy"), ("scikit-learn", "scikit-learn"), ("numba", "numba"), ("torch", "torch")) if v.get(key))
    failed = f"; left out (failed): {', '.join(peers['failed'])}" if peers.get("failed") else ""
    return (
        f"\n\n`pyod_*` rows: PyOD {v.get('pyod')} ({stack}; Python {v.get('python')}) in its own virtual environment "
        f"(`make peers`, pins in {peers.get('requirements', 'benchmarks/peers/requirements.txt')}), run in the same benchmark on the same "
        f"scaled splits and {peers.get('window')}-row windows as our models, thresholded and scored by our code{failed}."
    )


def _with_sd(values: dict, key: str) -> str:
    """``mean ± sd`` over seeds when the report has several, else the value."""
    sd = values.get(f"{key}_sd")
    return _fmt(values.get(key)) + (f" ± {sd:.3f}" if sd is not None else "")


def msl_table(report: dict) -> str:
    rows = [
        [m, _with_sd(report["models"][m], "vus_pr"), *(_fmt(report["models"][m].get(k)) for k in ("pr_auc", "roc_auc", "f1", "pa_f1", "rows_per_s", "train_s"))]
        for m in _models(report)
    ]
    seeds = report.get("config", {}).get("protocol", {}).get("seed")
    several = isinstance(seeds, list) and len(seeds) > 1
    title = (
        f"**{report['dataset']['name'].upper()}** ({len(report['dataset']['channels'])} channels, profile {report['profile']}, "
        f"commit {report['git_commit'][:8]}, {report.get('wall_s', 0) / 60:.0f} min wall; "
        + (f"our models: means over seeds {', '.join(map(str, seeds))} (VUS-PR ± standard deviation over seeds; train s per seed), peers: one run; " if several else "")
        + "VUS-PR/PR-AUC/ROC-AUC channel means, "
        "F1 pooled at the validation-set POT threshold, PA-F1 point-adjusted at a test-optimised threshold: papers only)"
    )
    return title + "\n\n" + _table(["model", "VUS-PR", "PR-AUC", "ROC-AUC", "F1", "PA-F1", "rows/s", "train s"], rows) + peers_note(report)


def skab_table(report: dict) -> str:
    rows = [
        [m, *(_fmt(report["models"][m].get(k)) for k in ("f1", "far", "mar", "f1_best_threshold", "f1_best_threshold_far10", "vus_pr", "pr_auc", "roc_auc", "rows_per_s", "train_s"))]
        for m in _models(report)
    ]
    preprocessing = report.get("config", {}).get("protocol", {}).get("preprocessing")
    differenced = report.get("preprocessing", {})
    title = (
        f"**SKAB{', preprocessed' if preprocessing else ''}** ({len(report['dataset']['channels'])} experiments, leaderboard protocol: "
        f"fit on each file's first 400 rows, threshold from training rows only; F1/FAR/MAR pooled, FAR and MAR in %; "
        f"commit {report['git_commit'][:8]}"
        + (f"; preprocessing: {preprocessing}" if preprocessing else "")
        + (f"; sensors differenced per file: {_differenced_counts(differenced)}" if any("differenced" in r for r in differenced.values()) else "")
        + "; best-threshold F1: each file's threshold chosen on its own test rows, at FAR ≤ 10 %: among thresholds keeping each "
        "file's FAR within the target's 10 %; upper bounds of what the scores allow, not results)"
    )
    header = ["model", "F1", "FAR %", "MAR %", "best-threshold F1", "at FAR ≤ 10 %", "VUS-PR", "PR-AUC", "ROC-AUC", "rows/s", "train s"]
    return title + "\n\n" + _table(header, rows) + peers_note(report)


def margin_table(report: dict) -> str:
    """``benchmarks/skab_margin.py``: per seed, the margin chosen on the normal recording and
    the student's rates at it."""
    rows = [
        [seed, _fmt(run["margin"], 2), *(_fmt((run["chosen"] or {}).get(k)) for k in ("far_normal", "f1", "far", "mar"))]
        for seed, run in report["seeds"].items()
    ]
    protocol = report["protocol"]
    target = protocol["target"]
    title = (
        f"**SKAB, drift-tracked, threshold from normal recordings** (`benchmarks/skab_margin.py`, the student only, commit "
        f"{report['git_commit'][:8]}; {protocol['preprocessing']}; threshold {protocol['threshold']}; "
        f"{len(report['dataset']['normal_pieces'])} normal pieces of {report['dataset']['piece_rows']:,} rows; "
        f"target F1 ≥ {target['f1']}, FAR ≤ {target['far']:g} %, MAR ≤ {target['mar']:g} %)"
    )
    return title + "\n\n" + _table(["seed", "margin", "FAR % on normal pieces", "F1", "FAR %", "MAR %"], rows)


def fleet_table(report: dict) -> str:
    """``benchmarks/skab_fleet.py``: each model's rates (means over seeds, F1 ± standard
    deviation) with one model per kind for all files."""
    columns = ("far", "mar", "f1_best_threshold", "f1_best_threshold_far10", "vus_pr", "roc_auc", "rows_per_s", "train_s")
    rows = [[m, _with_sd(report["models"][m], "f1"), *(_fmt(report["models"][m].get(k)) for k in columns)] for m in _models(report)]
    protocol = report["protocol"]
    target = protocol["target"]
    seeds = list(report["seeds"])
    title = (
        f"**SKAB, one model for all files** (`benchmarks/skab_fleet.py`, {len(report['dataset']['channels'])} experiments, commit "
        f"{report['git_commit'][:8]}, {report.get('wall_s', 0) / 60:.0f} min wall; models: {protocol['models']}; threshold: "
        f"{protocol['threshold']}; preprocessing: {protocol['preprocessing']}; our models: means over seeds {', '.join(seeds)}, train s per seed"
        + ("; peers: one run, one fit per detector for all files" if report.get("peers") else "") + "; "
        f"best-threshold columns as in the SKAB table; target F1 ≥ {target['f1']}, FAR ≤ {target['far']:g} %, MAR ≤ {target['mar']:g} %)"
    )
    header = ["model", "F1", "FAR %", "MAR %", "best-threshold F1", "at FAR ≤ 10 %", "VUS-PR", "ROC-AUC", "rows/s", "train s"]
    return title + "\n\n" + _table(header, rows) + peers_note(report)


def _differenced_counts(records: dict) -> str:
    """How many files had each sensor differenced, most often first: "Temperature 15/16, …"."""
    counts: dict[str, int] = {}
    for record in records.values():
        for sensor in record.get("differenced", []):
            counts[sensor] = counts.get(sensor, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{sensor} {n}/{len(records)}" for sensor, n in ranked) or "none"


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


def _load(report: dict) -> str:
    load = report.get("hardware", {}).get("load_average_1_5_15")
    return f"load average {load[0]:.1f} on {report.get('hardware', {}).get('cpu_count', '?')} cores at the start" if load else "load not recorded"


def _commit(report: dict) -> str:
    """The commit's first 8 hex digits; ``+dirty`` with uncommitted changes, or
    ``+reports`` when every changed file is an earlier report (no code changed)."""
    commit = str(report.get("git_commit", "unknown"))
    if not commit.endswith("+dirty"):
        return commit[:8]
    changed = report.get("changed_files") or []
    return commit[:8] + ("+reports" if changed and all(f.startswith("reports/") for f in changed) else "+dirty")


def _epoch(result: dict) -> str:
    return f"{_fmt(result['epoch_s'], 1)}{'*' if result.get('capped') else ''}"


def scale_table(report: dict) -> str:
    """Training cost vs rows and sensors, the 5M-row run, and scoring vs rows."""
    rows = []
    for section in ("training_vs_rows", "training_big", "training_vs_sensors"):
        for r in report.get(section, []):
            rows.append([
                r["kind"], f"{r['rows']:,}", str(r["sensors"]), f"{int(r['train_windows']):,}", _epoch(r), f"{r['s_per_1000_windows']:.2f}",
                _fmt(r["prep_s"] + r["post_s"], 1), _fmt(r["peak_rss_mb"]),
            ])
    config = report.get("config", {})
    title = (
        f"**Scale: training** (`anomflow benchmark scale`, one epoch of the pipeline's own `fit_model` with conf/pipeline.yaml, "
        f"2 threads; the student with its 2 injected copies but without teachers; * = extrapolated from {config.get('max_steps')} "
        f"training and {config.get('max_val_steps')} validation batches; prep + post = data preparation and the post-training "
        f"pass (calibration / error scale), run in full; peak RSS of the measuring process; commit {_commit(report)}, {_load(report)})"
    )
    table = _table(["model", "export rows", "sensors", "train windows", "s / epoch", "s / 1000 windows", "prep + post s", "peak RSS MiB"], rows)
    scoring = report.get("scoring_vs_rows", [])
    score_rows = [[f"{r['rows']:,}", _fmt(r["seconds"], 2), _fmt(r["rows_per_s"]), _fmt(r["peak_rss_mb"])] for r in scoring]
    growth = report.get("growth_exponents", {})
    exponents = ", ".join(f"`{k}` {v:.2f}" for k, v in growth.items() if v is not None)
    parts = [title, table]
    if score_rows:
        parts += [
            (
                "**Scale: scoring** (the student, 7 sensors, `score_series` on the whole series in memory, as evaluate does; "
                "`anomflow score` streams instead: see batch scoring below)"
            ),
            _table(["rows", "seconds", "rows/s", "peak RSS MiB"], score_rows),
        ]
    if exponents:
        parts.append(f"Growth exponents (log-log slope; 1 = linear): {exponents}.")
    if (REPORTS / "costs.png").exists():
        parts.append("![training and scoring cost vs rows and sensors](reports/benchmarks/costs.png)")
    return "\n\n".join(parts)


def score_memory_table(report: dict) -> str:
    """Peak RSS and speed of `anomflow score` on a long export."""
    rows = [[
        f"{report['rows']:,}", _fmt(report.get("export_mb")), _fmt(report["wall_s"]), _fmt(report.get("marginal_rows_per_s")),
        _fmt(report["peak_rss_mb"]), _fmt(report.get("peak_tree_rss_mb")), f"{_fmt(report['target_mb'])} ({'met' if report['within_target'] else 'MISSED'})",
    ]]
    title = (
        f"**Batch scoring a long export** (`benchmarks/score_memory.py`: the real `anomflow score` CLI, Prefect `score` flow, "
        f"export streamed in chunks of {report.get('config', {}).get('chunk_rows', 200_000):,} rows; rows/s without the fixed start-up cost; "
        f"peak RSS of the scoring process, and with the temporary Prefect server it starts; commit {_commit(report)}, {_load(report)})"
    )
    return title + "\n\n" + _table(["rows", "export MB", "wall s", "rows/s", "peak RSS MiB", "with Prefect server MiB", "target MiB"], rows)


def retrain_table(report: dict) -> str:
    """Wall time of the `retrain` flow per dataset, with its stages."""
    rows = []
    for name, run in report.get("runs", {}).items():
        stages: dict[str, float] = {}
        for stage in run.get("stages", []):
            task = stage["task"].rsplit("-", 1)[0]
            if stage.get("seconds") is not None:
                stages[task] = stages.get(task, 0.0) + stage["seconds"]
        train_span = [s for s in run.get("stages", []) if s["task"].startswith("train") and s.get("end_s") is not None]
        span = max(s["end_s"] for s in train_span) - min(s["start_s"] for s in train_span) if train_span else None
        rows.append([
            name, f"{run.get('validated_rows') or 0:,}", _fmt(run["wall_s"]), _fmt(run.get("flow_s")),
            *(_fmt(stages.get(k), 1) for k in ("ingest", "validate", "prepare")), _fmt(span, 1),
            *(_fmt(stages.get(k), 1) for k in ("threshold", "evaluate", "register")), _fmt(run.get("peak_tree_rss_mb")), _commit(run), _load(run),
        ])
    title = (
        "**Retrain wall time** (`benchmarks/retrain_time.py`: the real `anomflow retrain` in a fresh project, ephemeral Prefect API, "
        "fresh PREFECT_HOME; wall = the whole process, flow = the flow run; train = from the first model's start to the last one's end "
        "(they train concurrently); peak RSS summed over the process tree)"
    )
    header = ["data", "rows", "wall s", "flow s", "ingest s", "validate s", "prepare s", "train s", "threshold s", "evaluate s", "register s", "peak RSS MiB", "commit", "machine"]
    notes = []
    for name, run in report.get("runs", {}).items():
        fits = run.get("models", {})
        tasks = {s["task"].split("-", 1)[1]: s["seconds"] for s in run.get("stages", []) if s["task"].startswith("train-") and s.get("seconds") is not None}
        per_model = [f"{kind} {_fmt(tasks[kind], 1)} s ({_fmt(fits.get(kind, {}).get('train_s'), 1)} s fitting)" for kind in tasks if kind in fits]
        if per_model:
            notes.append(f"{name}, train tasks (process incl. start-up and data loading; of it fitting): " + ", ".join(per_model) + ".")
    return "\n\n".join([title, _table(header, rows), *notes])


_COLORS = {"student": "C0", "lstm_ae": "C2"}


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_costs(report: dict, path: Path) -> Path:
    """Log-log plots: seconds per epoch and scoring seconds vs rows; seconds per epoch vs sensors."""
    plt = _pyplot()
    fig, (by_rows, by_sensors) = plt.subplots(1, 2, figsize=(11, 4.2))
    training = report.get("training_vs_rows", []) + report.get("training_big", [])
    for kind in dict.fromkeys(r["kind"] for r in training):
        points = sorted((r["rows"], r["epoch_s"], r.get("capped")) for r in training if r["kind"] == kind)
        by_rows.plot([p[0] for p in points], [p[1] for p in points], "o-", color=_COLORS.get(kind), label=f"train {kind}, s / epoch")
        capped = [p for p in points if p[2]]
        if capped:
            by_rows.plot([p[0] for p in capped], [p[1] for p in capped], "o", mfc="none", mec="k", ms=10)
    scoring = sorted((r["rows"], r["seconds"]) for r in report.get("scoring_vs_rows", []))
    if scoring:
        by_rows.plot([p[0] for p in scoring], [p[1] for p in scoring], "s--", color=_COLORS["student"], alpha=0.6, label="score student, s")
    by_rows.set(xscale="log", yscale="log", xlabel="rows (export rows for training)", ylabel="seconds", title="cost vs rows (7 sensors; ringed: extrapolated)")
    by_rows.grid(True, which="both", alpha=0.3)
    by_rows.legend(fontsize=8)
    sensors = report.get("training_vs_sensors", [])
    for kind in dict.fromkeys(r["kind"] for r in sensors):
        points = sorted((r["sensors"], r["epoch_s"]) for r in sensors if r["kind"] == kind)
        by_sensors.plot([p[0] for p in points], [p[1] for p in points], "o-", color=_COLORS.get(kind), label=f"train {kind}, s / epoch")
    rows = {r["rows"] for r in sensors}
    by_sensors.set(xscale="log", yscale="log", xlabel="sensors", ylabel="seconds per epoch", title=f"training vs sensors ({', '.join(f'{n:,}' for n in rows)} rows)")
    by_sensors.grid(True, which="both", alpha=0.3)
    if sensors:
        by_sensors.legend(fontsize=8)
    return _save(plt, fig, path)


def _colour(model: str) -> str:
    return "C1" if _is_peer(model) else _COLORS.get(model, "C7")


def _msl_panel(ax, report: dict) -> None:
    """VUS-PR vs scoring rows/s, one labelled point per model: ours filled, peers hollow."""
    for model in _models(report):
        v = report["models"][model]
        if v.get("rows_per_s") is None or v.get("vus_pr") is None:
            continue
        ax.plot(v["rows_per_s"], v["vus_pr"], "o", mfc="none" if _is_peer(model) else _colour(model), mec=_colour(model), ms=7)
        below = (4, -9) if _is_peer(model) else (4, 3)  # a peer that matches ours (IForest) keeps its own label
        ax.annotate(model, (v["rows_per_s"], v["vus_pr"]), textcoords="offset points", xytext=below, fontsize=7)
    ax.set(xscale="log", xlabel="scoring rows/s (2 cores)", ylabel="VUS-PR (channel mean)", title="MSL: quality vs speed")
    ax.grid(True, which="both", alpha=0.3)


def _skab_panel(ax, report: dict) -> None:
    """Pooled F1 per model as bars (FAR written beside), the best-threshold F1 within FAR
    10 % as an outline (a bound), and the target F1 as a line."""
    models = _models(report)[::-1]  # first model on top
    y = range(len(models))
    f1 = [report["models"][m]["f1"] for m in models]
    bound = [report["models"][m].get("f1_best_threshold_far10") or 0.0 for m in models]
    ax.barh(y, bound, color="none", edgecolor="0.5", ls=":", label=f"best threshold per file, FAR ≤ {TARGET_FAR:g} % (bound)")
    ax.barh(y, f1, height=0.5, color=[_colour(m) for m in models], alpha=0.8, label="training threshold (result)")
    for i, m in enumerate(models):
        ax.annotate(f"FAR {report['models'][m]['far']:.0f} %", (f1[i], i), textcoords="offset points", xytext=(3, -3), fontsize=7)
    ax.axvline(TARGET_F1, color="C2", lw=1.5, label=f"target F1 {TARGET_F1} (with FAR ≤ {TARGET_FAR:g} %)")
    ax.set_yticks(list(y), models, fontsize=8)
    ax.set(xlim=(0, 1), xlabel="F1 (pooled over files)", title="SKAB: F1 at the training threshold")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    ax.grid(True, axis="x", alpha=0.3)


def plot_quality(msl: dict | None, skab: dict | None, path: Path) -> Path:
    """MSL's VUS-PR against scoring speed (ours filled, PyOD's peers hollow), and SKAB's
    pooled F1 per model beside its best-threshold bound and the issue's target."""
    plt = _pyplot()
    panels = ([(_msl_panel, msl)] if msl else []) + ([(_skab_panel, skab)] if skab else [])
    if not panels:
        raise ValueError("plot_quality needs an MSL or a SKAB report")
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.4), squeeze=False)
    for ax, (draw, report) in zip(axes[0], panels):
        draw(ax, report)
    return _save(plt, fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    parts = []
    if (REPORTS / "scale.json").exists():
        plot_costs(json.loads((REPORTS / "scale.json").read_text()), REPORTS / "costs.png")
    quality = {name: json.loads((REPORTS / f"{name}.json").read_text()) for name in ("msl_fast", "skab") if (REPORTS / f"{name}.json").exists()}
    if quality:
        plot_quality(quality.get("msl_fast"), quality.get("skab"), REPORTS / "quality.png")
    renderers = (
        ("msl_fast.json", msl_table), ("skab.json", skab_table), ("skab_differenced.json", skab_table), ("skab_tracked.json", skab_table), ("skab_margin.json", margin_table),
        ("skab_fleet.json", fleet_table),
        ("speed.json", speed_table), ("scale.json", scale_table),
        ("score_memory.json", score_memory_table), ("retrain_time.json", retrain_table),
    )
    for name, render in renderers:
        path = REPORTS / name
        if path.exists():
            parts.append(render(json.loads(path.read_text())))
            if quality and name == ("skab.json" if "skab" in quality else "msl_fast.json"):  # below the last table it draws
                parts.append("![MSL: VUS-PR vs scoring speed; SKAB: F1 per model beside its best-threshold bound and the target](reports/benchmarks/quality.png)")
    markdown = "\n\n".join(parts)
    if args.write:
        readme = Path("README.md").read_text()
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        Path("README.md").write_text(f"{head}{START}\n{markdown}\n{END}{tail}")
    print(markdown)


if __name__ == "__main__":
    main()
