"""The 8 real Grafana exports in ``shared/datasets/grafana`` parse exactly.

Expected row counts are the data lines of each file: all lines minus the ``sep=`` line
(01, 02), the header and the trailing blank line (07, 08).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.sources.grafana_csv import read_grafana_csv, resolve_duplicate_timestamps

GRAFANA = Path(__file__).parents[2].parent / "shared" / "datasets" / "grafana"
META = ["source_file", "source_row"]


@pytest.fixture(scope="module")
def sample():
    if not GRAFANA.is_dir():
        pytest.skip(f"real Grafana samples not found at {GRAFANA} (they live beside the project, not in it)")
    cache: dict[str, pd.DataFrame] = {}

    def load(number: str, **kwargs) -> pd.DataFrame:
        key = number + repr(sorted(kwargs.items()))
        if key not in cache:
            (path,) = GRAFANA.glob(f"{number}_*.csv")
            cache[key] = read_grafana_csv(path, **kwargs)
        return cache[key]

    return load


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def check_shape(frame: pd.DataFrame, columns: list[str], rows: int, first_line: int) -> None:
    assert list(frame.columns) == ["timestamp", *columns, *META]
    assert len(frame) == rows
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(frame[c].dtype == np.float64 for c in columns)
    assert frame["source_row"].dtype == np.int64
    assert frame["source_row"].iloc[0] == first_line
    assert frame["source_row"].is_monotonic_increasing
    assert frame["source_file"].str.contains("datasets/grafana/").all()


def test_01_excel_sep_line_label_set_name_and_milliseconds(sample):
    frame = sample("01")
    name = 'sensorReading {messageName="M165_Motor_Position_Info", rawCAN="165", signalName="INV_Motor_Speed"}'
    check_shape(frame, [name], rows=196, first_line=3)
    assert frame["timestamp"].iloc[0] == utc("2025-05-20 21:55:27.300")
    assert frame["timestamp"].iloc[-1] == utc("2025-05-20 21:55:46.769")
    assert frame[name].iloc[-1] == 963.0


def test_02_unit_words_and_repeated_timestamps(sample):
    frame = sample("02")
    check_shape(frame, ["INV_DC_Bus_Voltage", "INV_DC_Bus_Current"], rows=32981, first_line=3)
    assert frame["INV_DC_Bus_Voltage"].iloc[0] == 0.04
    assert frame["INV_DC_Bus_Voltage"].iloc[-1] == 0.0667
    assert (frame["timestamp"].iloc[:4] == utc("2025-06-03 18:56:10")).all()
    assert frame["timestamp"].duplicated().sum() > 0

    resolved = resolve_duplicate_timestamps(frame)
    assert len(resolved) == frame["timestamp"].nunique()
    assert resolved["timestamp"].is_unique and resolved["timestamp"].is_monotonic_increasing
    first = resolved.iloc[0]
    assert first["INV_DC_Bus_Voltage"] == pytest.approx((0.04 + 0 + 0.06 + 0.05) / 4)
    assert first["source_row"] == 3


def test_03_percent_keeps_the_number_shown(sample):
    frame = sample("03")
    columns = ["Busy System", "Busy User", "Busy Iowait", "Busy IRQs", "Busy Other", "Idle"]
    check_shape(frame, columns, rows=58, first_line=2)
    assert frame.loc[0, ["Busy System", "Idle", "Busy IRQs"]].tolist() == [0.703, 94.7, 0.0]
    assert frame["timestamp"].iloc[0] == utc("2024-03-05 15:38:00")


def test_03_formatted_time_is_in_the_dashboard_time_zone(sample):
    frame = sample("03", timezone="Europe/Berlin")
    assert frame["timestamp"].iloc[0] == utc("2024-03-05 14:38:00")


def test_04_iec_bytes(sample):
    frame = sample("04")
    check_shape(frame, ["RAM Total", "RAM Used", "RAM Cache + Buffer", "RAM Free", "SWAP Used"], rows=61, first_line=2)
    assert frame.loc[0, "RAM Total"] == 38.9 * 2**30
    assert frame.loc[0, "RAM Used"] == 1.27 * 2**30
    assert frame.loc[0, "SWAP Used"] == 0.0


def test_05_bit_rates_blank_cells_and_trailing_spaces(sample):
    frame = sample("05")
    ifaces = ["br-0d249a6fe5fb", "br-10cfd4613d3d", "br-ec97404de1ef", "br-free5gc", "br01", "docker0", "enp3s0",
              "oai-gnb", "ogstun", "virbr1"]
    check_shape(frame, [f"recv {i}" for i in ifaces] + [f"trans {i}" for i in ifaces], rows=57, first_line=2)
    assert frame.loc[0, "recv br01"] == 23500.0
    assert frame.loc[0, "trans enp3s0"] == 2820.0
    assert np.isnan(frame.loc[0, "recv br-0d249a6fe5fb"])
    assert frame.loc[len(frame) - 1, "recv br-0d249a6fe5fb"] == 0.0


def test_06_raw_export_epoch_ms(sample):
    frame = sample("06", timezone="Asia/Tokyo")  # epoch ms: the time zone does not apply
    check_shape(frame, ["Busy System", "Busy User", "Busy Iowait", "Busy IRQs", "Busy Other", "Idle"], rows=641, first_line=2)
    assert frame["timestamp"].iloc[0] == pd.Timestamp(1725561780000, unit="ms", tz="UTC") == utc("2024-09-05 18:43:00")
    assert frame["timestamp"].iloc[-1] == pd.Timestamp(1725580980000, unit="ms", tz="UTC")
    assert frame.loc[0, "Busy System"] == 0.0034000000000000015


def test_07_volts_trailing_blank_line_and_out_of_order_last_row(sample):
    frame = sample("07")
    columns = ["tlm_mb_ant_1_v", "tlm_mb_ant_2_v", "tlm_mb_solar_common_v", "tlm_mb_sat_bus_v", "tlm_mb_uc_v",
               "tlm_mb_battpack_0_voltage", "tlm_mb_battpack_1_voltage", "tlm_trx_cmn_rtc_vbat", "tlm_trx_vbus",
               "tlm_trx_pamp_voltage_tx", "beacon_vbus"]
    check_shape(frame, columns, rows=1302, first_line=2)
    assert frame.loc[1, ["tlm_mb_ant_1_v", "tlm_mb_sat_bus_v"]].tolist() == [0.007, 4.4]
    last = frame.iloc[-1]
    assert last["timestamp"] == utc("2023-05-20 03:00:00") and last["source_row"] == 1303
    assert np.isnan(last["tlm_mb_ant_1_v"]) and last["beacon_vbus"] == 4.5


def test_08_duplicate_column_names_are_suffixed(sample):
    frame = sample("08")
    names = ["DayAhead2.last"] + [f"DayAhead2.last__{i}" for i in range(2, 9)]
    names += ["HourAhead2.last"] + [f"HourAhead2.last__{i}" for i in range(2, 25)]
    check_shape(frame, names, rows=1272, first_line=2)
    row = frame[frame["source_row"] == 19].iloc[0]
    assert row["timestamp"] == utc("2022-06-24 17:00:00")
    assert np.isnan(row["DayAhead2.last__8"])
    assert row["HourAhead2.last"] == 23.0 and row["HourAhead2.last__17"] == 13.0 and row["HourAhead2.last__24"] == 23.0
