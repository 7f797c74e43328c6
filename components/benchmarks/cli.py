"""``anomflow benchmark …``: every model on public datasets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from components.detectors.registry import KINDS as ALL_MODELS

benchmark_app = typer.Typer(
    help="Benchmark the teachers, the student and the baselines on public datasets; "
    "writes a JSON report and logs it to MLflow.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

_COLUMNS = ("vus_pr", "pr_auc", "roc_auc", "f1", "pa_f1", "rows_per_s", "train_s", "train_s_per_epoch", "epochs")
_SKAB_COLUMNS = ("f1", "far", "mar", "f1_best_threshold", "f1_best_threshold_far10", "vus_pr", "pr_auc", "roc_auc", "rows_per_s", "train_s")
_PEERS_HELP = (
    "python of the PyOD peers environment (`make peers` creates .venv-peers/bin/python): PyOD's detectors run on "
    "the same splits and join the report as pyod_<name>; default: no peers"
)
_PEER_MODELS_HELP = "comma-separated PyOD detectors with --peers: iforest, pca, ecod, copod, knn, autoencoder, lstm (default: all)"


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def _seeds(value: str) -> list[int]:
    try:
        return [int(v) for v in _split(value) or []]
    except ValueError:
        raise typer.BadParameter(f"--seeds takes comma-separated integers, got {value!r}") from None


@benchmark_app.command("msl")
def msl(
    data: Path = typer.Option(..., "--data", help="folder laid out like shared/datasets/msl: train/, test/, labeled_anomalies.csv"),
    profile: str = typer.Option("fast", "--profile", help="model profile: fast or paper"),
    out: Path = typer.Option(..., "--out", help="JSON report to write"),
    channels: str = typer.Option(None, "--channels", help="comma-separated channels (default: every labelled channel with data)"),
    models: str = typer.Option(
        ",".join(ALL_MODELS), "--models",
        help="comma-separated models: teachers (anomaly_transformer, omnianomaly) and the pipeline's (student, lstm_ae and the baselines pca, iforest, kmeans_ad, copod, ecod)",
    ),
    max_epochs: int = typer.Option(None, "--max-epochs", help="cap on each profile's max_epochs"),
    train_stride: int = typer.Option(1, "--train-stride", help="rows between training window starts, for every model (anomflow train itself uses conf/pipeline.yaml's train.train_stride)"),
    tracking_uri: str = typer.Option("sqlite:///mlruns/mlflow.db", "--tracking-uri", help="MLflow tracking URI"),
    peers: str = typer.Option(None, "--peers", help=_PEERS_HELP),
    peer_models: str = typer.Option(None, "--peer-models", help=_PEER_MODELS_HELP),
    seeds: str = typer.Option(
        "7", "--seeds",
        help="comma-separated seeds: our models are trained and scored once per seed and reported as means with a standard deviation",
    ),
) -> None:
    """NASA MSL (or SMAP, or any folder laid out the same way): train and score each
    model per channel, thresholds from validation only; see components/benchmarks/msl.py and protocol.py."""
    from components.benchmarks.msl import run_benchmark

    report = _run_report("msl", out, tracking_uri, lambda progress: run_benchmark(
        data, profile, models=_split(models), channels=_split(channels), max_epochs=max_epochs,
        train_stride=train_stride, progress=progress, peers=peers, peer_models=_split(peer_models), seeds=_seeds(seeds),
    ))
    print_aggregates(report)
    print_peers(report)


def _run_report(name: str, out: Path, tracking_uri: str, make: Callable) -> dict:
    """Run ``make(progress)``, write its report to ``out``, log it to MLflow; one-line errors."""
    from components.benchmarks.report_io import log_to_mlflow, write_report

    started = time.perf_counter()
    try:
        report = make(lambda message: console.print(message, highlight=False, soft_wrap=True))
        report["wall_s"] = time.perf_counter() - started
        path = write_report(report, out)
        runs = log_to_mlflow(report, path, tracking_uri)
    except (ValueError, OSError, KeyError) as err:
        console.print(f"[bold red]benchmark {name} failed:[/] {escape(str(err))}")
        raise typer.Exit(1) from None
    console.print(f"report: {path}   MLflow: {tracking_uri} (experiment benchmark-{report['dataset']['name']}, run {runs['parent']})", soft_wrap=True)
    console.print(f"wall time {report['wall_s']:.0f} s", highlight=False)
    return report


@benchmark_app.command("skab")
def skab(
    data: Path = typer.Option(..., "--data", help="folder laid out like SKAB's data/: <folder>/<n>.csv with an anomaly column"),
    out: Path = typer.Option(..., "--out", help="JSON report to write"),
    profile: str = typer.Option("fast", "--profile", help="teacher profile: fast or paper"),
    models: str = typer.Option(",".join(ALL_MODELS), "--models", help="comma-separated models"),
    max_epochs: int = typer.Option(None, "--max-epochs", help="cap on every network's max_epochs"),
    tracking_uri: str = typer.Option("sqlite:///mlruns/mlflow.db", "--tracking-uri", help="MLflow tracking URI"),
    peers: str = typer.Option(None, "--peers", help=_PEERS_HELP),
    peer_models: str = typer.Option(None, "--peer-models", help=_PEER_MODELS_HELP),
) -> None:
    """SKAB, public leaderboard protocol: per file fit on the first 400 rows, threshold
    from training rows only, score the rest; pooled F1, FAR, MAR (see components/benchmarks/skab.py)."""
    from components.benchmarks.skab import run_benchmark

    report = _run_report("skab", out, tracking_uri, lambda progress: run_benchmark(
        data, profile, models=_split(models), max_epochs=max_epochs, progress=progress,
        peers=peers, peer_models=_split(peer_models),
    ))
    print_aggregates(report, _SKAB_COLUMNS, "far/mar in %; f1, far, mar pooled over files; f1_best_threshold(_far10): thresholds chosen on test rows (upper bounds; _far10: each file's FAR <= 10 %); vus_pr, pr_auc, roc_auc file means")
    print_peers(report)


@benchmark_app.command("speed")
def speed(
    out: Path = typer.Option(..., "--out", help="JSON report to write"),
    rows: int = typer.Option(200_000, "--rows", help="rows of the synthetic series each model scores (at most)"),
    sensors: int = typer.Option(7, "--sensors", help="sensor columns"),
    budget_s: float = typer.Option(10.0, "--budget-s", help="seconds of scoring per model (slow models score fewer rows)"),
    profiles: str = typer.Option("fast,paper", "--profiles", help="teacher profiles to measure"),
    max_rows: int = typer.Option(10_000_000, "--max-rows", help="largest series of the student's growth curve (10^4 … this)"),
) -> None:
    """Scoring rows/s and training seconds per epoch of every model (teachers in each
    profile), the student's speed-up over each, and its scoring time vs rows."""
    import json

    from components.benchmarks.speed import run_speed

    growth = tuple(10**k for k in range(4, 12) if 10**k <= max_rows)
    report = run_speed(
        n_sensors=sensors, rows=rows, budget_s=budget_s, profiles=tuple(_split(profiles) or ()), growth=growth,
        progress=lambda message: console.print(message, highlight=False),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    table = Table(title="scoring and training speed (2 threads); speed-up = student rows/s ÷ model rows/s")
    for column in ("model", "rows/s", "student speed-up", "train s / 1000 windows"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for name, result in report["scoring"].items():
        training = report["training"].get(name)
        table.add_row(
            name, f"{result['rows_per_s']:,.0f}", "-" if name not in report["student_speedup"] else f"{report['student_speedup'][name]:,.1f}×",
            "-" if training is None else f"{training['s_per_1000_windows']:.2f}",
        )
    console.print(table)
    console.print(f"report: {out}")


def _ints(value: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in _split(value) or ())


@benchmark_app.command("scale")
def scale(
    out: Path = typer.Option(..., "--out", help="JSON report to write"),
    rows: str = typer.Option("1e4,1e5,1e6", "--rows", help="export rows of the training-vs-rows curve (at --base-sensors)"),
    sensors: str = typer.Option("7,25,55,100", "--sensors", help="sensor counts of the training-vs-sensors curve (at --sensor-rows)"),
    sensor_rows: int = typer.Option(100_000, "--sensor-rows", help="export rows of the training-vs-sensors curve"),
    base_sensors: int = typer.Option(7, "--base-sensors", help="sensors of the rows curves"),
    big_rows: int = typer.Option(5_000_000, "--big-rows", help="export rows of the student's large training run (0: skip)"),
    score_rows: str = typer.Option("1e4,1e5,1e6,1e7", "--score-rows", help="rows of the student's scoring curve"),
    max_steps: int = typer.Option(200, "--max-steps", help="training batches run per epoch at most; the epoch time is extrapolated above"),
    max_val_steps: int = typer.Option(50, "--max-val-steps", help="validation batches run at most (extrapolated above)"),
    models: str = typer.Option("student,lstm_ae", "--models", help="models whose training cost is measured"),
) -> None:
    """Training seconds per epoch and peak RSS vs rows and vs sensors (student, LSTM-AE),
    the student on a 5-million-row export, and the student's scoring time vs rows; each
    measurement in its own process (see components/benchmarks/scale.py)."""
    import json

    from components.benchmarks.scale import run_scale

    started = time.perf_counter()
    report = run_scale(
        rows=_ints(rows), sensors=_ints(sensors), sensor_rows=sensor_rows, base_sensors=base_sensors, big_rows=big_rows,
        score_rows=_ints(score_rows), max_steps=max_steps, max_val_steps=max_val_steps, models=tuple(_split(models) or ()),
        progress=lambda message: console.print(message, highlight=False, soft_wrap=True),
    )
    report["wall_s"] = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    table = Table(title="training cost, one epoch (extrapolated above --max-steps batches); peak RSS of the process")
    for column in ("model", "rows", "sensors", "train windows", "s / epoch", "s / 1000 windows", "prep + post s", "peak RSS MiB"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for result in report["training_vs_rows"] + report["training_vs_sensors"] + report["training_big"]:
        table.add_row(
            result["kind"], f"{result['rows']:,}", str(result["sensors"]), f"{result['train_windows']:,}",
            f"{result['epoch_s']:,.1f}{'*' if result['capped'] else ''}", f"{result['s_per_1000_windows']:.2f}",
            f"{result['prep_s'] + result['post_s']:.1f}", f"{result['peak_rss_mb']:,.0f}",
        )
    console.print(table)
    growth = ", ".join(f"{r['rows']:,} rows {r['seconds']:.2f} s ({r['peak_rss_mb']:,.0f} MiB)" for r in report["scoring_vs_rows"])
    console.print(f"student scoring: {growth}", highlight=False)
    console.print(f"report: {out}   wall time {report['wall_s']:.0f} s", highlight=False)


def print_peers(report: dict) -> None:
    """One line on the peers (versions, environment, failures) when the report has them."""
    peers = report.get("peers")
    if not peers:
        return
    versions = peers["versions"]
    line = ", ".join(f"{k} {versions[k]}" for k in ("pyod", "numpy", "scikit-learn", "scipy", "numba", "torch") if versions.get(k))
    console.print(f"peers (pyod_*): {line}; environment {peers['venv']}", highlight=False, soft_wrap=True)
    for model, series in peers.get("failed", {}).items():
        console.print(f"[yellow]{model} left out[/]: failed on {', '.join(series)}: {escape(next(iter(series.values()), ''))}", soft_wrap=True)


def print_aggregates(report: dict, columns: tuple[str, ...] = None, note: str = "pa_f1 = point-adjusted at a test-optimised threshold: for comparison with papers only") -> None:
    """The per-model aggregates as a rich table."""
    columns = columns or _COLUMNS
    if any("vus_pr_sd" in values for values in report["models"].values()):  # several seeds
        columns = tuple(c for column in columns for c in ((column, "vus_pr_sd") if column == "vus_pr" else (column,)))
    dataset = report["dataset"]
    table = Table(title=f"{dataset['name']} ({len(dataset['channels'])} series, profile {report['profile']}); {note}")
    table.add_column("model")
    for column in columns:
        table.add_column(column.replace("rows_per_s", "rows/s").replace("train_s_per_epoch", "s/epoch"), justify="right")
    for kind, values in report["models"].items():
        cells = [values.get(c) for c in columns]
        table.add_row(kind, *("-" if v is None else f"{v:,.0f}" if abs(v) >= 100 or isinstance(v, int) else f"{v:.3f}" for v in cells))
    wide = console if console.width >= 150 else Console(width=150, file=console.file)  # pipes default to 80 columns
    wide.print(table)
