"""The Great Expectations suite for a readings frame, built from ``ValidationConfig``.

GX 1.x workflow: an ephemeral data context, the pandas data source with one dataframe
asset and a whole-dataframe batch definition, an ``ExpectationSuite`` and a
``ValidationDefinition`` that ties them together; the frame is passed at run time as
``batch_parameters={"dataframe": frame}``.

Rules that GX cannot express directly on the raw frame run on derived columns that
:func:`add_derived_columns` adds to the batch:

- ``_ts_step_s``: seconds between a row's timestamp and the latest earlier timestamp of
  the same asset (in frame order). Timestamps strictly increase per asset exactly when
  every step is > 0; a step <= 0 marks a duplicate or out-of-order row.
- ``_interval_s``: the positive steps only; its per-asset median is the sampling interval.

Every expectation carries ``meta={"rule": ..., ...}`` so results can be mapped back to
the rule (and sensor / asset) that produced them.

``great_expectations`` takes seconds to import, so it is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

from components.frames import ASSET, LABEL, TIMESTAMP
from components.quality.config import ValidationConfig

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations.core import ExpectationSuite, ExpectationSuiteValidationResult

SUITE_NAME = "anomflow_readings"
DATA_DOCS_SITE = "anomflow"

STEP_COLUMN = "_ts_step_s"
INTERVAL_COLUMN = "_interval_s"
DERIVED_COLUMNS = (STEP_COLUMN, INTERVAL_COLUMN)

# rule tags (expectation meta["rule"])
RULE_COLUMN = "column_present"
RULE_TYPE = "column_type"
RULE_REQUIRED = "value_present"  # timestamp / asset must not be null (rows quarantined)
RULE_RANGE = "value_range"  # rows quarantined
RULE_NULLS = "null_fraction"  # run stops
RULE_ORDER = "timestamp_order"  # rows quarantined
RULE_INTERVAL = "sampling_interval"  # run stops
RULE_LABEL = "label_values"  # run stops

#: rules whose failing rows are moved to quarantine (the others fail the run)
ROW_RULES = (RULE_REQUIRED, RULE_RANGE, RULE_ORDER)


def add_derived_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``_ts_step_s`` and ``_interval_s`` added (frame order kept).

    ``frame`` must have a tz-aware ``timestamp`` and an ``asset`` column.
    """
    out = frame.copy(deep=False)
    ts = out[TIMESTAMP]
    seconds = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype="float64")
    seconds = pd.Series(seconds, index=out.index)
    keys = out[ASSET]
    # latest earlier timestamp of the same asset (NaT rows are skipped by cummax)
    prev_max = seconds.groupby(keys, sort=False, dropna=False).cummax()
    prev_max = prev_max.groupby(keys, sort=False, dropna=False).shift(1)
    # a NaT row yields NaN in cummax; carry the last valid maximum forward per asset
    prev_max = prev_max.groupby(keys, sort=False, dropna=False).ffill()
    step = seconds - prev_max
    out[STEP_COLUMN] = step.astype("float64")
    out[INTERVAL_COLUMN] = step.where(step > 0).astype("float64")
    return out


def _meta(rule: str, **extra: Any) -> dict:
    return {"rule": rule, **{k: v for k, v in extra.items() if v is not None}}


def build_suite(
    cfg: ValidationConfig,
    assets: Iterable[str] = (),
    *,
    name: str = SUITE_NAME,
) -> "ExpectationSuite":
    """Build (but do not register) the expectation suite for ``cfg``.

    ``assets`` lists the assets whose median sampling interval is checked (one
    expectation each, restricted with a row condition on ``asset``).
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    expectations: list = []
    add = expectations.append

    # --- structure -----------------------------------------------------------------
    required = [TIMESTAMP, ASSET, *cfg.sensors]
    if cfg.require_label:
        required.append(LABEL)
    for column in required:
        add(gxe.ExpectColumnToExist(column=column, meta=_meta(RULE_COLUMN, column=column)))

    # DatetimeTZDtype.type is pandas.Timestamp: this passes only for tz-aware columns
    add(
        gxe.ExpectColumnValuesToBeOfType(
            column=TIMESTAMP, type_="Timestamp", meta=_meta(RULE_TYPE, column=TIMESTAMP)
        )
    )
    for column in (TIMESTAMP, ASSET):
        add(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                result_format="COMPLETE",
                meta=_meta(RULE_REQUIRED, column=column),
            )
        )

    # --- per sensor ----------------------------------------------------------------
    for sensor, rule in cfg.sensors.items():
        add(
            gxe.ExpectColumnValuesToBeInTypeList(
                column=sensor, type_list=["float64", "float32"], meta=_meta(RULE_TYPE, column=sensor)
            )
        )
        if rule.min is not None or rule.max is not None:
            add(
                gxe.ExpectColumnValuesToBeBetween(
                    column=sensor,
                    min_value=rule.min,
                    max_value=rule.max,
                    result_format="COMPLETE",
                    meta=_meta(RULE_RANGE, column=sensor),
                )
            )
        add(
            gxe.ExpectColumnValuesToNotBeNull(
                column=sensor,
                mostly=1.0 - rule.max_null_fraction,
                meta=_meta(RULE_NULLS, column=sensor),
            )
        )

    # --- time axis -----------------------------------------------------------------
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column=STEP_COLUMN,
            min_value=0,
            strict_min=True,
            result_format="COMPLETE",
            meta=_meta(RULE_ORDER, column=TIMESTAMP),
            description="timestamps strictly increase within each asset",
        )
    )
    low, high = cfg.interval_bounds()
    for asset in assets:
        add(
            gxe.ExpectColumnMedianToBeBetween(
                column=INTERVAL_COLUMN,
                min_value=low,
                max_value=high,
                row_condition=Column(ASSET) == str(asset),
                meta=_meta(RULE_INTERVAL, column=TIMESTAMP, asset=str(asset)),
                description=f"median sampling interval of asset {asset}",
            )
        )

    if cfg.require_label:
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column=LABEL, value_set=[0, 1], meta=_meta(RULE_LABEL, column=LABEL)
            )
        )
    # built in one go: adding expectations one by one needs a registered suite
    return gx.ExpectationSuite(
        name=name,
        expectations=expectations,
        meta={"notes": "anomflow validate stage: readings-frame contract (docs/architecture.md §2)"},
    )


def make_context(data_docs_dir: str | Path | None = None):
    """An ephemeral GX context, progress bars off, with a filesystem Data Docs site."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if data_docs_dir is not None:
        context.add_data_docs_site(
            DATA_DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(data_docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


def run_suite(
    batch: pd.DataFrame,
    suite: "ExpectationSuite",
    *,
    data_docs_dir: str | Path | None = None,
) -> tuple["ExpectationSuiteValidationResult", Path | None]:
    """Validate ``batch`` (with derived columns) against ``suite`` in a fresh context.

    Returns the validation result and, when ``data_docs_dir`` is given, the path of the
    Data Docs ``index.html`` built there.
    """
    import great_expectations as gx

    context = make_context(data_docs_dir)
    batch_definition = (
        context.data_sources.add_pandas("readings")
        .add_dataframe_asset("readings_frame")
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="validate_readings", data=batch_definition, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": batch}, result_format="COMPLETE")
    index = None
    if data_docs_dir is not None:
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
        index = Path(data_docs_dir) / "index.html"
    return result, index


def finite_or_none(value: Any) -> Any:
    """JSON-friendly scalar: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return value
