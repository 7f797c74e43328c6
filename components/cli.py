"""``anomflow``: one command, one sub-command per pipeline stage.

Stage commands read ``--config`` (default ``conf/pipeline.yaml``) and the previous
stage's files, and write their own (docs/architecture.md §2); ``dvc repro`` calls them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Defaults a user can override in the environment: the ephemeral Prefect server sends no
# usage telemetry (plants are often offline, where each attempt logs an ERROR line), and
# MLflow draws no "Downloading artifacts" progress bars while registering models.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# Prefect's temporary server gets 20 s to start by default; on 2 busy cores it has taken longer
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

app = typer.Typer(help="anomflow: anomaly detection on industrial sensor time series, from export to served model.", no_args_is_help=True, add_completion=False)
console = Console()


@app.callback()
def _stop_cleanly() -> None:
    """SIGTERM stops a command as Ctrl-C does: cleanly, children and temporary servers included."""
    from components.shutdown import stop_on_signals

    stop_on_signals()
ConfigOption = typer.Option("conf/pipeline.yaml", "--config", "-c", help="pipeline YAML file")

from components.benchmarks.cli import benchmark_app  # noqa: E402

app.add_typer(benchmark_app, name="benchmark")

from components.live.cli import alerts_app, dashboard, db_app, replay, watch  # noqa: E402

app.add_typer(db_app, name="db")
app.add_typer(alerts_app, name="alerts")
app.command("replay")(replay)
app.command("watch")(watch)
app.command("dashboard")(dashboard)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors caused by input or configuration: reported in one line, no traceback."""
    from components.quality.validate import DataQualityError

    return (ValueError, OSError, DataQualityError)


def _prefect_unreachable(err: BaseException) -> bool:
    """Prefect's client could not connect to ``PREFECT_API_URL`` (httpx's error, or
    Prefect's RuntimeError over it)."""
    import httpx

    return isinstance(err, httpx.TransportError) or isinstance(err, RuntimeError) and isinstance(err.__cause__, httpx.TransportError)


def _unreachable_hint(err: Exception) -> str:
    from prefect.settings import PREFECT_API_URL

    return (
        f"cannot reach the Prefect server at PREFECT_API_URL={PREFECT_API_URL.value()} ({err}): "
        "start it, or unset PREFECT_API_URL to run on a temporary one"
    )


@contextmanager
def _failing_in_one_line(name: str, also: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Report a user error (or one of ``also``) or an unreachable Prefect server raised in
    the block as ``name failed: …`` (its text as is: brackets in it are not markup) and
    exit 1, a stop by Ctrl-C or SIGTERM in one line and exit 130; anything else keeps its
    traceback."""
    try:
        yield
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (components.shutdown)
        console.print(f"[bold red]{name} {str(err) or 'stopped by SIGINT'}[/]", soft_wrap=True)
        raise typer.Exit(130) from None
    except (*_user_errors(), *also) as err:
        message = str(err)
    except Exception as err:
        if not _prefect_unreachable(err):
            raise
        message = _unreachable_hint(err)
    else:
        return
    from components.sources.errors import bounded

    console.print(f"[bold red]{name} failed:[/] {escape(bounded(message))}", soft_wrap=True)
    raise typer.Exit(1)


def _run_stage(name: str, config: str, fn: Callable) -> dict:
    from components.config import load_config

    with _failing_in_one_line(name):
        cfg = load_config(config)
        with console.status(f"{name}…"):
            result = fn(cfg)
    brief = _brief(result)
    console.print(f"[green]{name} done[/] {escape(brief if isinstance(brief, str) else json.dumps(brief, default=str))}")
    return result


def _brief(result: dict | list) -> dict | str:
    """A stage result's scalars (its tables are printed as tables, or not at all)."""
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if not isinstance(v, (list, dict))}
    return f"{len(result)} rows"


@app.command("demo-data")
def demo_data(
    out: Path = typer.Option(Path("data/demo"), help="folder for the Grafana exports and labels.csv"),
    seed: int = typer.Option(7, help="random seed: same seed, same bytes"),
    days: int = typer.Option(14, min=1, help="days of data per asset"),
    assets: int = typer.Option(3, min=1, help="number of pumps"),
) -> None:
    """Write the seeded demo plant: Grafana CSV exports (formatted and raw) + labels.csv."""
    from components.sources.demo_plant import write_demo_plant

    with _failing_in_one_line("demo-data"):
        manifest = write_demo_plant(out, seed=seed, days=days, assets=assets)
    console.print(f"[green]demo plant written[/] to {out}: {len(manifest.files)} files")


@app.command("config")
def show_config(
    config: str = ConfigOption,
    out: Path = typer.Option(None, help="write the YAML here (dvc.yaml's params file) instead of printing it"),
) -> None:
    """Every setting with the defaults filled in: what the stages will use."""
    from components.config import load_config, resolved_yaml

    with _failing_in_one_line("config"):
        text = resolved_yaml(load_config(config), config)
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"[green]config written[/] to {out}")


@app.command()
def ingest(config: str = ConfigOption) -> None:
    """Read every configured source (Grafana CSV, plain CSV, Grafana API) into artifacts/readings.parquet."""
    from components.stages import run_ingest

    _run_stage("ingest", config, run_ingest)


@app.command()
def validate(config: str = ConfigOption) -> None:
    """Great Expectations checks; bad rows to artifacts/quarantine.parquet; reports/validation/."""
    from components.stages import run_validate

    _run_stage("validate", config, run_validate)


@app.command()
def prepare(config: str = ConfigOption) -> None:
    """Resample, split sessions at gaps, impute short gaps, split train/val/test, fit the scaler."""
    from components.stages import run_prepare

    _run_stage("prepare", config, run_prepare)


@app.command()
def train(
    config: str = ConfigOption,
    model: str = typer.Option("student", help="a model of the config's `models:`: student (served; distils from the trained teachers), lstm_ae, a teacher (anomaly_transformer, omnianomaly) or a baseline (pca, iforest, kmeans_ad, copod, ecod)"),
    every: bool = typer.Option(False, "--all", help="train every model of the config, those others learn from first (dvc.yaml's train stage)"),
    models_dir: Path = typer.Option(None, help="write the model here and read the models it learns from here [default: the config's paths.models]; the retrain flow trains a set in a folder of its own and installs it when every model is trained"),
) -> None:
    """Train one model (early stopping on validation loss), logged to a nested MLflow run."""
    from components.stages import run_train, run_train_all

    def into(cfg):
        return cfg if models_dir is None else cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"models": str(models_dir)})})

    if every:
        _run_stage("train --all", config, lambda cfg: run_train_all(into(cfg)))
    else:
        _run_stage(f"train {model}", config, lambda cfg: run_train(into(cfg), model))


@app.command()
def ablate(config: str = ConfigOption) -> None:
    """Distillation ablations side by side: the student without distillation, from each teacher alone, from all."""
    from components.stages import run_ablation

    rows = _run_stage("ablate", config, run_ablation)
    columns = ("vus_pr", "pr_auc", "roc_auc", "f1", "events_detected", "rows_per_s", "train_s")
    title = "student distillation ablations (test split; reports/ablations.csv)"
    _wide().print(_metrics_table(title, "variant", {row["variant"]: row for row in rows}, columns))


def _wide() -> Console:
    """The console, or one 150 columns wide where it is narrower (a pipe's default is 80)."""
    return console if console.width >= 150 else Console(width=150, file=console.file)


_HEADERS = {
    "pa_f1_point_adjusted": "pa_f1", "rows_per_s": "rows/s", "alarm_events_found": "events alarmed",
    "alarm_false_events_per_asset_day": "false alarms/asset-day",
}


def _metrics_table(title: str, first: str, rows: dict[str, dict], columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    table.add_column(first)
    for column in columns:
        table.add_column(_HEADERS.get(column, column), justify="right")
    for name, values in rows.items():
        cells = [values.get(c) for c in columns]
        table.add_row(name, *(
            "-" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}" for v in cells
        ))
    return table


@app.command()
def threshold(config: str = ConfigOption) -> None:
    """Set every model's warning/critical levels from validation scores (POT, percentile or best F1)."""
    from components.stages import run_threshold

    _run_stage("threshold", config, run_threshold)


@app.command()
def evaluate(config: str = ConfigOption) -> None:
    """Score the test split with every model: metrics, leaderboard (reports/) and plots."""
    from components.stages import run_evaluate

    _run_stage("evaluate", config, run_evaluate)


@app.command()
def register(config: str = ConfigOption) -> None:
    """Log to MLflow, register anomflow-detector, promote to @champion only if it beats the champion."""
    from components.stages import run_register

    print_summary(_run_stage("register", config, run_register))


@app.command()
def retrain(config: str = ConfigOption) -> None:
    """Run the whole pipeline as the Prefect `retrain` flow (ephemeral API unless PREFECT_API_URL is set)."""
    from components.config import load_config
    from components.registry.tracking import ensure_reachable, tracking_uri
    from flows.retrain import retrain as retrain_flow
    from flows.retry import hide_bad_input_tracebacks

    hide_bad_input_tracebacks()
    with _failing_in_one_line("retrain"):
        cfg = load_config(config)  # a bad config or a store that is down fails here, before a Prefect server starts
        ensure_reachable(tracking_uri(cfg.mlflow))
        result = retrain_flow(config_path=config)
    if "groups" in result:
        print_fleet_summary(result["groups"])
        _print_next_steps(result["registration"])
    else:
        print_summary(result["registration"], result["metrics"])


@app.command()
def score(
    paths: list[Path] = typer.Argument(
        ..., metavar="EXPORT... OUTPUT",
        help="exports to score (Grafana or plain CSV, read as the config's first file source reads files; several, e.g. one per panel, are joined on time), then the scored output, .csv or .parquet",
    ),
    model_uri: str = typer.Option(None, help="MLflow model URI [default: the config's registered model @champion]"),
    asset: str = typer.Option(None, help="asset name for every row [default: the config's first file source's asset, if it names one]"),
    delimiter: str = typer.Option(None, help="plain CSV delimiter [default: as the config's first file source reads; Grafana exports without one]"),
    timestamp_column: str = typer.Option(None, help="plain CSV time column [default: the config's source's, else timestamp]"),
    timezone: str = typer.Option(None, help="zone of formatted time stamps (Grafana: the dashboard's), e.g. Europe/Berlin [default: the config's source's, else UTC]"),
    config: str = typer.Option(None, "--config", "-c", help="pipeline YAML file: its MLflow store, model name, duplicate_rule and how its sources read files [default: conf/pipeline.yaml if it exists]"),
) -> None:
    """Batch-score exports with the Prefect `score` flow, read as the project's training
    files are (MLflow store: $MLFLOW_TRACKING_URI, else the config's)."""
    from mlflow.exceptions import MlflowException

    from components.registry.tracking import ensure_reachable
    from components.scoring.score_settings import ScoreSettings
    from flows.retry import hide_bad_input_tracebacks
    from flows.score import score as score_flow

    if len(paths) < 2:
        console.print("[bold red]score needs at least one export and an output path[/] (anomflow score EXPORT... OUTPUT)", soft_wrap=True)
        raise typer.Exit(2)
    hide_bad_input_tracebacks()
    with _failing_in_one_line("score", also=(MlflowException,)):
        ensure_reachable(ScoreSettings.for_project(config).tracking_uri)
        summary = score_flow(
            [str(p) for p in paths[:-1]], str(paths[-1]), config, model_uri, asset, delimiter, timestamp_column, timezone
        )
    console.print(f"[green]scored[/] {summary['rows']:,} rows{escape(_of_assets(summary['assets']))} with {summary['model_uri']} → {summary['output']} (levels: {summary['levels']}; alarms raised: {summary['alarm_events']:,})", soft_wrap=True)
    if summary["sensor_faults"]:
        faults = ", ".join(f"{sensor}: {rows:,} rows" for sensor, rows in summary["sensor_faults"].items())
        console.print(f"[bold yellow]sensor faults[/] (rows at level sensor_fault, by sensor without a reading): {escape(faults)}", soft_wrap=True)
    if summary["ignored_columns"]:
        console.print(f"columns the model does not score, left out: {escape(str(summary['ignored_columns']))}", soft_wrap=True)


@app.command()
def schedule(
    cron: str = typer.Option("0 3 * * *", help="cron expression for retraining"),
    config: str = ConfigOption,
) -> None:
    """Serve the `retrain` flow on a cron schedule (blocks; Ctrl-C stops)."""
    from components.config import load_config
    from flows.schedule import retrain_deployment, serve_deployments

    with _failing_in_one_line("schedule"):
        load_config(config)  # not first at 03:00
        serve_deployments(retrain_deployment(cron, config))


def _of_assets(assets: list[str]) -> str:
    return f" of {', '.join(assets)}" if assets else ""


def print_summary(registration: dict, metrics: dict | None = None) -> None:
    """What was registered, how every model did, and the commands to look at it."""
    if metrics is None:
        metrics_path = Path("reports/metrics.json")
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    columns = (
        "vus_pr", "pr_auc", "roc_auc", "precision", "recall", "f1", "pa_f1_point_adjusted", "alarm_events_found",
        "alarm_false_events_per_asset_day", "rows_per_s", "train_s",
    )
    first = next(iter(metrics.values()), {})
    labels, events = first.get("labels", "labelled"), first.get("events")
    title = (
        f"test split, {labels} anomalies{f' ({events} events)' if events is not None else ''}; alarms at the "
        f"{first.get('alarm_level', 'warning')} level (pa_f1 = point-adjusted, for comparison with papers only)"
    )
    _wide().print(_metrics_table(title, "model", metrics, columns))
    _print_next_steps(registration)


def print_fleet_summary(groups: dict[str, dict]) -> None:
    """Each group's model: its assets, registered version and alias, served model's
    test VUS-PR, wall time and the worker's peak memory."""
    table = Table(title="fleet: a model per group (each promoted on its own)")
    for column in ("group", "assets", "model", "alias", "vus_pr", "rows", "seconds", "peak MiB"):
        table.add_column(column)
    for group, r in groups.items():
        vus = "—" if r["vus_pr"] is None else f"{r['vus_pr']:.3f}"
        table.add_row(group, ", ".join(r["assets"]) if len(r["assets"]) <= 3 else f"{len(r['assets'])} assets",
                      f"{r['model_name']}/{r['version']}", r["alias"], vus, str(r["rows"]), f"{r['seconds']:.1f}", f"{r['peak_rss_mib']:.0f}")
    _wide().print(table)


def _print_next_steps(registration: dict) -> None:
    """What was registered and the commands to look at it, serve it and watch a feed."""
    uri = registration["tracking_uri"]
    venv_bin = Path(sys.prefix) / "bin"
    path_prefix = f"PATH={os.path.relpath(venv_bin)}:$PATH " if Path(sys.prefix) != Path(sys.base_prefix) else ""
    console.print(
        f"[bold]Registered[/] {registration['model_name']} version {registration['version']} as "
        f"[bold]@{registration['alias']}[/] ({registration['reason']})\n"
        f"Look at the runs:   {path_prefix}mlflow ui --backend-store-uri {uri} --port 5000\n"
        f"Serve the champion: {path_prefix}MLFLOW_TRACKING_URI={uri} mlflow models serve "
        f"-m models:/{registration['model_name']}@champion --env-manager local --port 5001\n"
        f"Then:               curl -s localhost:5001/invocations -H 'Content-Type: application/json' "
        f"-d @reports/request_example.json\n"
        f"Score a live feed:  {os.path.relpath(venv_bin / 'anomflow') if path_prefix else 'anomflow'} watch "
        "(readings in the config's watch.store; docs/live.md)",
        soft_wrap=True,
    )


if __name__ == "__main__":
    app()
