"""The Great Expectations suite for a readings frame, built from ``ValidationConfig``.

GX 1.x workflow: an ephemeral data context, the pandas data source with one dataframe
asset and a whole-dataframe batch definition, an ``ExpectationSuite`` and a
``ValidationDefinition`` that ties them together; the frame is passed at run time as
``batch_parameters={"dataframe": frame}``.

The suite holds the rules on the readings' own columns only; the time-axis rules (order
and sampling interval per asset) are checked beside it (:mod:`components.quality.time_axis`),
so Data Docs list the sensors and nothing else.

Every expectation carries ``meta={"rule": ..., ...}`` so results can be mapped back to
the rule (and sensor / asset) that produced them.

``great_expectations`` takes seconds to import, so it is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from components.frames import ASSET, LABEL, TIMESTAMP
from components.quality.config import ValidationConfig

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations.core import ExpectationSuite, ExpectationSuiteValidationResult

SUITE_NAME = "anomflow_readings"
DATA_DOCS_SITE = "anomflow"

DATA_ASSET = "readings"

# rule tags (expectation meta["rule"])
RULE_COLUMN = "column_present"
RULE_TYPE = "column_type"
RULE_REQUIRED = "value_present"  # timestamp / asset must not be null (rows quarantined)
RULE_RANGE = "value_range"  # rows quarantined
RULE_NULLS = "null_fraction"  # run stops
RULE_LABEL = "label_values"  # run stops

#: rules whose failing rows are moved to quarantine (the others fail the run)
ROW_RULES = (RULE_REQUIRED, RULE_RANGE)


def _meta(rule: str, **extra: Any) -> dict:
    return {"rule": rule, **{k: v for k, v in extra.items() if v is not None}}


def build_suite(cfg: ValidationConfig, *, name: str = SUITE_NAME) -> "ExpectationSuite":
    """Build (but do not register) the expectation suite for ``cfg``."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

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
    run_name: str | None = None,
    asset_label: str = DATA_ASSET,
) -> tuple["ExpectationSuiteValidationResult", Path | None]:
    """Validate ``batch`` against ``suite`` in a fresh context, as run ``run_name``
    (default: ``validate-<UTC time>``).

    Returns the validation result and, when ``data_docs_dir`` is given, the path of the
    Data Docs ``index.html`` built there, whose pages name the run and the data asset as
    ``asset_label`` (GX leaves a data frame's asset unnamed: "Data asset: None").
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = make_context(data_docs_dir)
    batch_definition = (
        context.data_sources.add_pandas("readings")
        .add_dataframe_asset(DATA_ASSET)
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="validate_readings", data=batch_definition, suite=suite)
    )
    run_name = run_name or f"validate-{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%SZ}"
    result = definition.run(batch_parameters={"dataframe": batch}, result_format="COMPLETE", run_id=RunIdentifier(run_name=run_name))
    index = None
    if data_docs_dir is not None:
        store = context.validation_results_store
        for key in store.list_keys():  # name the asset on the stored result the pages are rendered from
            stored = store.get(key)
            stored.meta["batch_spec"] = {**stored.meta.get("batch_spec", {}), "data_asset_name": asset_label}
            store.set(key, stored)
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
