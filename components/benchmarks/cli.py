"""``anomflow benchmark …``: every model on public datasets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

benchmark_app = typer.Typer(
    help="Benchmark the teachers, the student and the baselines on public datasets; "
    "writes a JSON report and logs it to MLflow.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

_COLUMNS = ("vus_pr", "pr_auc", "roc_auc", "f1", "pa_f1", "rows_per_s", "train_s", "train_s_per_epoch", "epochs")
_SKAB_COLUMNS = ("f1", "far", "mar", "vus_pr", "pr_auc", "roc_auc", "rows_per_s", "train_s")
_ALL = ("anomaly_transformer", "omnianomaly", "student", "lstm_ae", "pca", "iforest")


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


@benchmark_app.command("msl")
def msl(
    data: Path = typer.Option(..., "--data", help="folder laid out like shared/datasets/msl: train/, test/, labeled_anomalies.csv"),
    profile: str = typer.Option("fast", "--profile", help="model profile: fast or paper"),
    out: Path = typer.Option(..., "--out", help="JSON report to write"),
    channels: str = typer.Option(None, "--channels", help="comma-separated channels (default: every labelled channel with data)"),
    models: str = typer.Option(
        ",".join(_ALL), "--models",
        help="comma-separated models: teachers (anomaly_transformer, omnianomaly) and the pipeline's (student, lstm_ae, pca, iforest)",
    ),
    max_epochs: int = typer.Option(None, "--max-epochs", help="cap on each profile's max_epochs"),
    train_stride: int = typer.Option(1, "--train-stride", help="rows between training window starts"),
    tracking_uri: str = typer.Option("sqlite:///mlruns/mlflow.db", "--tracking-uri", help="MLflow tracking URI"),
) -> None:
    """NASA MSL (or SMAP, or any folder laid out the same way): train and score each
    model per channel, thresholds from validation only; see components/benchmarks/msl.py."""
    from components.benchmarks.msl import run_benchmark

    report = _run_report("msl", out, tracking_uri, lambda progress: run_benchmark(
        data, profile, models=_split(models), channels=_split(channels), max_epochs=max_epochs,
        train_stride=train_stride, progress=progress,
    ))
    print_aggregates(report)


def _run_report(name: str, out: Path, tracking_uri: str, make: Callable) -> dict:
    """Run ``make(progress)``, write its report to ``out``, log it to MLflow; one-line errors."""
    from components.benchmarks.msl import log_to_mlflow, write_report

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
    models: str = typer.Option(",".join(_ALL), "--models", help="comma-separated models"),
    max_epochs: int = typer.Option(None, "--max-epochs", help="cap on every network's max_epochs"),
    tracking_uri: str = typer.Option("sqlite:///mlruns/mlflow.db", "--tracking-uri", help="MLflow tracking URI"),
) -> None:
    """SKAB, public leaderboard protocol: per file fit on the first 400 rows, threshold
    from training rows only, score the rest; pooled F1, FAR, MAR (see components/benchmarks/skab.py)."""
    from components.benchmarks.skab import run_benchmark

    report = _run_report("skab", out, tracking_uri, lambda progress: run_benchmark(
        data, profile, models=_split(models), max_epochs=max_epochs, progress=progress,
    ))
    print_aggregates(report, _SKAB_COLUMNS, "far/mar in %; f1, far, mar pooled over files; vus_pr, pr_auc, roc_auc file means")


@benchmark_app.command("speed")
def speed(
    out: Path = typer.Option(..., "--out", help="JSON report to write"),
    rows: int = typer.Option(200_000, "--rows", help="rows of the synthetic series each model scores (at most)"),
    sensors: int = typer.Option(7, "--sensors", help="sensor columns"),
    budget_s: float = typer.Option(10.0, "--budget-s", help="seconds of scoring per model (slow models score fewer rows)"),
    profiles: str = typer.Option("fast,paper", "--profiles", help="teacher profiles to measure"),
    max_rows: int = typer.Option(1_000_000, "--max-rows", help="largest series of the student's growth curve (10^4 … this)"),
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
            name, f"{result['rows_per_s']:,.0f}", "-" if name == "student" else f"{report['student_speedup'][name]:,.1f}×",
            "-" if training is None else f"{training['s_per_1000_windows']:.2f}",
        )
    console.print(table)
    console.print(f"report: {out}")


def print_aggregates(report: dict, columns: tuple[str, ...] = None, note: str = "pa_f1 = point-adjusted at a test-optimised threshold: for comparison with papers only") -> None:
    """The per-model aggregates as a rich table."""
    columns = columns or _COLUMNS
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
