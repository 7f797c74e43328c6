"""Validate stage: check a readings frame, quarantine bad rows, report, or stop the run.

:func:`validate_readings` works in three steps:

1. **Schema** (plain pandas, before GX): required columns present, every other sensor
   column listed in ``ignore_columns`` (so no column reaches the models unvalidated),
   sensors numeric, ``timestamp`` a tz-aware datetime, ``asset`` text. A violation raises
   :class:`SchemaError` naming the column and the source file(s) and line. Ignored
   columns are left out of the clean frame.
2. **Great Expectations** suite (:mod:`components.quality.suite`) on the readings'
   columns, and the time-axis rules beside it (:mod:`components.quality.time_axis`).
   Rows that break a row rule (value out of ``[min, max]``, duplicate / non-increasing
   timestamp within an asset, missing timestamp or asset) are moved to the quarantine
   Parquet file with ``reason`` and ``expectation`` columns; the rest is returned as the
   clean frame.
3. **Reports**: ``reports_dir/validation.json`` (summary), the same as one self-contained
   page, ``reports_dir/validation.html`` (readable offline), and GX Data Docs under
   ``reports_dir/data_docs/index.html``. They and the quarantine file are written
   before a :class:`DataQualityError` is raised (too many quarantined rows, too many
   nulls, wrong sampling interval, bad labels), so nothing is lost.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.frames import ALSO_FROM, ASSET, LABEL, SOURCE_FILE, SOURCE_ROW, TIMESTAMP, sensor_columns
from components.quality import suite as qs
from components.quality import time_axis as ta
from components.quality.config import ValidationConfig
from components.quality.summary_html import write_summary_page
from components.sources.ingest import DUPLICATES

SUMMARY_PAGE = "validation.html"
REASON = "reason"
EXPECTATION = "expectation"
_MAX_FILES_NAMED = 3


class SchemaError(ValueError):
    """The frame does not have the readings-frame shape (missing / mistyped column)."""


class DataQualityError(RuntimeError):
    """The data break a rule that stops the run; ``problems`` lists each one.

    The quarantine file and the reports are written before this is raised;
    ``outcome`` holds what validation produced (clean / quarantined / summary).
    """

    def __init__(self, problems: list[str], outcome: "ValidationOutcome | None" = None):
        self.problems = list(problems)
        self.outcome = outcome
        super().__init__("data quality check failed:\n- " + "\n- ".join(self.problems))


@dataclass
class ValidationOutcome:
    clean: pd.DataFrame
    quarantined: pd.DataFrame
    summary: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------------------


def _files_phrase(frame: pd.DataFrame) -> str:
    if SOURCE_FILE not in frame.columns:
        return "the readings frame"
    files = [str(f) for f in pd.unique(frame[SOURCE_FILE].dropna())]
    if not files:
        return "the readings frame"
    named = ", ".join(files[:_MAX_FILES_NAMED])
    if len(files) > _MAX_FILES_NAMED:
        named += f" and {len(files) - _MAX_FILES_NAMED} more files"
    return named


def _where(frame: pd.DataFrame, position: int) -> str:
    """'data/x.csv line 17' for the row at ``position`` (or 'row N of the frame')."""
    file = frame[SOURCE_FILE].iloc[position] if SOURCE_FILE in frame.columns else None
    row = frame[SOURCE_ROW].iloc[position] if SOURCE_ROW in frame.columns else None
    joined = frame[ALSO_FROM].iloc[position] if ALSO_FROM in frame.columns else ""
    if file is not None and not pd.isna(file):
        where = f"{file} line {int(row)}" if row is not None and not pd.isna(row) else str(file)
        return f"{where} (joined with {joined})" if isinstance(joined, str) and joined else where
    return f"row {position + 1} of the frame"


def _first_bad_value(frame: pd.DataFrame, column: str, parsed: pd.Series) -> str | None:
    raw = frame[column]
    bad = parsed.isna().to_numpy() & raw.notna().to_numpy()
    if not bad.any():
        return None
    pos = int(np.flatnonzero(bad)[0])
    return f"found text {str(raw.iloc[pos])!r} at {_where(frame, pos)}"


def _median_interval_phrase(frame: pd.DataFrame) -> str:
    """The readings' median sampling interval per asset, for the error that asks for it."""
    if TIMESTAMP not in frame.columns or ASSET not in frame.columns or not isinstance(frame[TIMESTAMP].dtype, pd.DatetimeTZDtype):
        return "set it to the sampling interval of the sensors, in seconds"
    ordered = frame[[ASSET, TIMESTAMP]].sort_values([ASSET, TIMESTAMP], kind="stable")
    steps = ordered.groupby(ASSET, sort=True)[TIMESTAMP].diff().dt.total_seconds()
    medians = steps[steps > 0].groupby(ordered[ASSET], sort=True).median()
    if medians.empty:
        return "no asset has two distinct time stamps to measure it from"
    per_asset = ", ".join(f"{asset!s}: {step:g} s" for asset, step in medians.head(5).items())
    more = f" and {len(medians) - 5} more" if len(medians) > 5 else ""
    return f"the readings' median sampling interval is {medians.median():g} s (per asset: {per_asset}{more})"


def check_schema(frame: pd.DataFrame, cfg: ValidationConfig) -> None:
    """Raise :class:`SchemaError` listing every schema violation of ``frame``."""
    problems: list[str] = []
    required = [TIMESTAMP, ASSET, *cfg.sensors]
    if cfg.require_label:
        required.append(LABEL)
    where = _files_phrase(frame)
    for column in required:
        if column not in frame.columns:
            problems.append(f"column {column!r} is missing in {where}")
    undeclared = [c for c in sensor_columns(frame) if c not in cfg.sensors and c not in cfg.ignore_columns]
    if undeclared:
        sources = _files_phrase(frame[frame[undeclared].notna().any(axis=1)])
        problems.append(
            f"column(s) {undeclared} in {sources} are not declared: add each sensor the models should learn under "
            f"validate.sensors (e.g. sensors: {{{', '.join(f'{c}: {{}}' for c in undeclared)}}} checks type and nulls; "
            "add min/max for ranges), or list it under validate.ignore_columns to leave it out"
        )
    elif not cfg.sensors:
        problems.append(f"validate.sensors declares no sensor, and no sensor column came from {where}")
    if cfg.expected_interval_s is None:
        problems.append(f"validate.expected_interval_s is not set: {_median_interval_phrase(frame)}")

    if TIMESTAMP in frame.columns:
        ts = frame[TIMESTAMP]
        if isinstance(ts.dtype, pd.DatetimeTZDtype):
            pass
        elif pd.api.types.is_datetime64_dtype(ts.dtype):
            problems.append(
                f"column {TIMESTAMP!r} has no time zone (dtype {ts.dtype}; expected tz-aware UTC) in {where}"
            )
        else:
            parsed = pd.to_datetime(ts, errors="coerce", utc=True, format="mixed")
            detail = _first_bad_value(frame, TIMESTAMP, parsed)
            detail = f"; {detail}" if detail else ""
            problems.append(
                f"column {TIMESTAMP!r} is not a datetime (dtype {ts.dtype}{detail}) in {where}"
            )

    if ASSET in frame.columns:
        dtype = frame[ASSET].dtype
        if not (
            pd.api.types.is_string_dtype(dtype)
            or pd.api.types.is_object_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
        ):
            problems.append(f"column {ASSET!r} is not text (dtype {dtype}) in {where}")

    for sensor in cfg.sensors:
        if sensor not in frame.columns:
            continue
        dtype = frame[sensor].dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            parsed = pd.to_numeric(frame[sensor], errors="coerce") if not pd.api.types.is_bool_dtype(dtype) else None
            detail = _first_bad_value(frame, sensor, parsed) if parsed is not None else None
            if detail is None:
                detail = f"dtype {dtype}" + (
                    "; the values are numbers stored as text" if parsed is not None else ""
                )
            problems.append(f"column {sensor!r} is not numeric ({detail})")
    if problems:
        raise SchemaError("; ".join(problems))


def _normalise(frame: pd.DataFrame, cfg: ValidationConfig) -> pd.DataFrame:
    """Copy without the ignored columns, with a RangeIndex, UTC timestamps and float64
    sensors (after check_schema)."""
    work = frame.drop(columns=[c for c in cfg.ignore_columns if c in frame.columns]).reset_index(drop=True)
    if str(work[TIMESTAMP].dt.tz) != "UTC":
        work[TIMESTAMP] = work[TIMESTAMP].dt.tz_convert("UTC")
    for sensor in cfg.sensors:
        if work[sensor].dtype != np.float64:
            work[sensor] = work[sensor].astype("float64")
    return work


# ---------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _expectation_label(cfg_type: str, column: str | None) -> str:
    return f"{cfg_type}({column})" if column else cfg_type


def _summarise_result(r) -> dict:
    conf = r.expectation_config
    meta = conf.meta or {}
    kwargs = conf.kwargs
    res = r.result or {}
    entry = {
        "type": conf.type,
        "rule": meta.get("rule"),
        "column": kwargs.get("column"),
        "asset": meta.get("asset"),
        "success": bool(r.success),
        "observed_value": qs.finite_or_none(res.get("observed_value")),
        "unexpected_count": res.get("unexpected_count"),
        "unexpected_percent": qs.finite_or_none(res.get("unexpected_percent")),
        "element_count": res.get("element_count"),
    }
    for key in ("min_value", "max_value", "mostly", "type_", "type_list", "strict_min", "value_set"):
        if kwargs.get(key) is not None:
            entry[key] = kwargs[key]
    if r.exception_info and r.exception_info.get("raised_exception"):
        entry["exception"] = r.exception_info.get("exception_message")
    return {k: v for k, v in entry.items() if v is not None}


def _timestamp_text(value: Any) -> str:
    return "NaT" if pd.isna(value) else pd.Timestamp(value).isoformat()


def _row_reasons(
    work: pd.DataFrame, results, cfg: ValidationConfig
) -> tuple[dict[int, list[tuple[str, str]]], dict[str, int]]:
    """Map row position -> [(reason, expectation)] for every failed row rule."""
    reasons: dict[int, list[tuple[str, str]]] = {}
    counts: dict[str, int] = {}
    for r in results:
        conf = r.expectation_config
        rule = (conf.meta or {}).get("rule")
        if rule not in qs.ROW_RULES or r.success:
            continue
        column = conf.kwargs.get("column")
        label = _expectation_label(conf.type, column)
        index = [int(i) for i in (r.result or {}).get("unexpected_index_list") or []]
        if not index:
            continue
        if rule == qs.RULE_RANGE:
            rule_cfg = cfg.sensors[column]
            values = work[column].to_numpy()[index]
            key = f"{column} out of range [{_fmt(rule_cfg.min)}, {_fmt(rule_cfg.max)}]"
            for pos, value in zip(index, values):
                if rule_cfg.max is not None and value > rule_cfg.max:
                    text = f"{column}={_fmt(value)} above max {_fmt(rule_cfg.max)}"
                elif rule_cfg.min is not None and value < rule_cfg.min:
                    text = f"{column}={_fmt(value)} below min {_fmt(rule_cfg.min)}"
                else:  # pragma: no cover - GX and pandas disagree
                    text = f"{column}={_fmt(value)} outside [{_fmt(rule_cfg.min)}, {_fmt(rule_cfg.max)}]"
                reasons.setdefault(pos, []).append((text, label))
        else:  # RULE_REQUIRED
            key = f"{column} missing"
            for pos in index:
                reasons.setdefault(pos, []).append((f"{column} is missing", label))
        counts[key] = counts.get(key, 0) + len(index)
    return reasons, counts


def _add_order_reasons(
    work: pd.DataFrame, order: ta.OrderCheck, reasons: dict[int, list[tuple[str, str]]], counts: dict[str, int]
) -> None:
    """Quarantine reasons of the rows breaking the time-axis order rule."""
    stamps, assets = work[TIMESTAMP].to_numpy(), work[ASSET].to_numpy()
    for pos, step in zip(order.positions.tolist(), order.steps):
        kind = "duplicate timestamp" if step == 0 else f"timestamp {_fmt(-step)} s earlier than a previous row"
        text = f"{kind}: {_timestamp_text(stamps[pos])} of asset {assets[pos]} does not increase (rule: timestamps strictly increase per asset)"
        reasons.setdefault(pos, []).append((text, ta.ORDER_TYPE))
    if len(order.positions):
        counts["timestamp not strictly increasing within asset"] = len(order.positions)


def _interval_problems(intervals: list[dict], cfg: ValidationConfig) -> list[str]:
    """A message per asset whose median sampling interval breaks the rule."""
    return [
        f"asset {entry['asset']}: median sampling interval {entry['observed_value']:g} s, expected "
        f"{cfg.expected_interval_s:g} s ± {cfg.interval_tolerance:.0%} (allowed {entry['min_value']:g}–{entry['max_value']:g} s)"
        for entry in intervals if not entry["success"]
    ]


NON_FINITE = "finite_readings"


def _add_non_finite(
    work: pd.DataFrame, cfg: ValidationConfig, reasons: dict[int, list[tuple[str, str]]], counts: dict[str, int]
) -> None:
    """Quarantine rows with an infinite reading (a raw export's ``Infinity``, a number beyond
    float range): no model can learn from one, and a range rule is not always set."""
    for column in cfg.sensors:
        values = work[column].to_numpy()
        named = {int(p) for p, found in reasons.items() if any(text.startswith(f"{column}=") for text, _ in found)}
        positions = [int(p) for p in np.flatnonzero(np.isinf(values)) if int(p) not in named]  # not out of range already
        for pos in positions:
            reasons.setdefault(pos, []).append((f"{column}={_fmt(values[pos])} is not a finite reading", NON_FINITE))
        if len(positions):
            counts[f"{column} not finite"] = len(positions)


def _run_problems(
    work: pd.DataFrame, results, cfg: ValidationConfig
) -> list[str]:
    """Messages for failed GX rules that stop the run (nulls, labels, types)."""
    problems: list[str] = []
    for r in results:
        conf = r.expectation_config
        meta = conf.meta or {}
        rule = meta.get("rule")
        column = conf.kwargs.get("column")
        res = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            problems.append(
                f"{_expectation_label(conf.type, column)} could not run: "
                f"{r.exception_info.get('exception_message')}"
            )
            continue
        if r.success or rule in qs.ROW_RULES:
            continue
        if rule == qs.RULE_NULLS:
            n = int(res.get("element_count") or len(work))
            missing = int(res.get("unexpected_count") or 0)
            allowed = cfg.sensors[column].max_null_fraction
            per_asset = work[column].isna().groupby(work[ASSET], sort=False).mean()
            worst = per_asset.sort_values(ascending=False).head(3)
            worst_txt = ", ".join(f"asset {a!s}: {_pct(f)}" for a, f in worst.items() if f > 0)
            problems.append(
                f"column {column!r} has {_pct(missing / max(n, 1))} missing values "
                f"({missing:,} of {n:,} rows), allowed {_pct(allowed)}"
                + (f" ({worst_txt})" if worst_txt else "")
            )
        elif rule == qs.RULE_LABEL:
            bad = res.get("partial_unexpected_list") or []
            problems.append(
                f"column {LABEL!r} must hold 0/1; {res.get('unexpected_count')} rows do not "
                f"(e.g. {bad[:5]})"
            )
        else:  # column present / type: already guarded by check_schema
            problems.append(
                f"{_expectation_label(conf.type, column)} failed "
                f"(observed {qs.finite_or_none(res.get('observed_value'))!r})"
            )
    return problems


def _write_quarantine(quarantined: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    quarantined.to_parquet(path, index=False)


# ---------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------


def validate_readings(
    frame: pd.DataFrame,
    cfg: ValidationConfig,
    *,
    reports_dir: str | Path,
    quarantine_path: str | Path,
) -> ValidationOutcome:
    """Validate a readings frame; return the clean rows, the quarantined rows, a summary.

    Raises :class:`SchemaError` before anything else when the frame lacks a column or
    has a mistyped one, and :class:`DataQualityError` (after writing the quarantine
    file and the reports) when a run-stopping rule fails.
    """
    started = time.perf_counter()
    reports_dir = Path(reports_dir)
    quarantine_path = Path(quarantine_path)

    check_schema(frame, cfg)
    work = _normalise(frame, cfg)
    steps = ta.time_steps(work)
    order, intervals = ta.check_order(steps), ta.check_intervals(work, steps, cfg)
    assets = [entry["asset"] for entry in intervals]
    suite = qs.build_suite(cfg)

    docs_dir = reports_dir / "data_docs"
    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    n_assets = work[ASSET].nunique()
    run_name = f"validate-{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%SZ}"
    result, docs_index = qs.run_suite(work, suite, data_docs_dir=docs_dir, run_name=run_name, asset_label=f"readings ({n_assets} asset{'s' * (n_assets != 1)}, {len(work):,} rows)")
    results = list(result.results)

    # --- quarantine ------------------------------------------------------------------
    reasons, counts = _row_reasons(work, results, cfg)
    _add_order_reasons(work, order, reasons, counts)
    _add_non_finite(work, cfg, reasons, counts)
    positions = np.array(sorted(reasons), dtype=np.int64)
    mask = np.zeros(len(work), dtype=bool)
    mask[positions] = True
    quarantined = work.loc[mask].copy()
    quarantined[REASON] = pd.Series(
        ["; ".join(t for t, _ in reasons[p]) for p in positions], index=quarantined.index, dtype="str"
    )
    quarantined[EXPECTATION] = pd.Series(
        ["; ".join(dict.fromkeys(e for _, e in reasons[p])) for p in positions],
        index=quarantined.index,
        dtype="str",
    )
    quarantined = quarantined.reset_index(drop=True)
    clean = work.loc[~mask].reset_index(drop=True)
    _write_quarantine(quarantined, quarantine_path)

    # --- run-stopping problems ---------------------------------------------------------
    n_in, n_q = len(work), int(mask.sum())
    fraction = n_q / n_in if n_in else 0.0
    problems: list[str] = []
    if n_in == 0:
        problems.append(f"the readings frame has no rows (sources: {_files_phrase(frame)})")
    if fraction > cfg.quarantine_tolerance:
        worst = sorted(counts.items(), key=lambda kv: -kv[1])
        problems.append(
            f"quarantined {n_q:,} of {n_in:,} rows ({_pct(fraction)}), above "
            f"quarantine_tolerance {_pct(cfg.quarantine_tolerance)}: "
            + "; ".join(f"{k}: {v:,} rows" for k, v in worst[:5])
            + f" (rows written to {quarantine_path})"
        )
    problems.extend(_run_problems(work, results, cfg))
    problems.extend(_interval_problems(intervals, cfg))

    # --- reports -----------------------------------------------------------------------
    stats = {k: qs.finite_or_none(v) for k, v in dict(result.statistics).items()}
    summary: dict[str, Any] = {
        "success": not problems,
        "gx_success": bool(result.success),
        "time_axis_success": bool(order.report()["success"] and all(e["success"] for e in intervals)),
        "run_name": run_name,
        "suite": suite.name,
        "great_expectations_version": result.meta.get("great_expectations_version"),
        "validated_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "n_rows_in": n_in,
        "n_quarantined": n_q,
        "n_rows_out": len(clean),
        "quarantined_fraction": fraction,
        "quarantine_tolerance": cfg.quarantine_tolerance,
        "quarantine_by_rule": counts,
        "duplicate_timestamps": frame.attrs.get(DUPLICATES),
        "ignored_columns": [c for c in cfg.ignore_columns if c in frame.columns],
        "assets": assets,
        "statistics": stats,
        "problems": problems,
        "expectations": [_summarise_result(r) for r in results] + [order.report(), *intervals],
        "quarantine_path": str(quarantine_path),
        "data_docs": str(docs_index) if docs_index else None,
        "duration_s": round(time.perf_counter() - started, 3),
    }
    reports_dir.mkdir(parents=True, exist_ok=True)
    summary["summary_page"] = str(reports_dir / SUMMARY_PAGE)
    (reports_dir / "validation.json").write_text(json.dumps(summary, indent=2, default=str))
    write_summary_page(json.loads((reports_dir / "validation.json").read_text()), reports_dir / SUMMARY_PAGE)

    outcome = ValidationOutcome(clean=clean, quarantined=quarantined, summary=summary)
    if problems:
        raise DataQualityError(problems, outcome)
    return outcome
