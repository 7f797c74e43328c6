"""A seeded demo plant: realistic, physically coupled pump telemetry as Grafana CSV exports.

The plant has ``assets`` centrifugal pumps (``pump-1`` … ``pump-N``) on one 400 V bus,
each with seven sensors sampled every ``interval_s`` seconds:

============================  ===================  ========================================
sensor (snake_case)           display name         unit / model
============================  ===================  ========================================
``current``                   Current              A; electrical power / (√3 · V · PF)
``voltage``                   Voltage              V; 400 V line, bus sag with plant load
``power_factor``              Power factor         0..1; rises with motor load
``motor_temperature``         Motor temperature    °C; first-order lag on I² losses
``vibration_rms``             Vibration RMS        mm/s; grows off the best-efficiency point
``discharge_pressure``        Discharge pressure   bar; pump curve H0·(1 − a·(Q/Qr)²)
``flow``                      Flow                 m³/h; daily shift pattern × demand noise
============================  ===================  ========================================

Physics, in the order it is computed (all vectorised over the time grid):

1. **Load**: a weekday shift pattern (night 0.5, early shift 0.9 with a lunch dip, late
   shift 0.8), lower at weekends, smoothed over 20 min, times the asset's load share and a
   demand process (two AR(1) components, 20 min and 3 h). Every third pump (``pump-3``)
   is a booster that only runs on weekday shifts (06:00–22:00); when it is stopped its
   anti-condensation heater draws ~0.5 A at PF ≈ 1, which is why the formatted export
   switches to ``mA``.
2. **Flow** = rated flow × load; **pressure** from the pump curve; **shaft power** linear
   in flow (typical radial pump), so hydraulic efficiency peaks near the BEP;
   **electrical power** = shaft power / motor efficiency + fixed losses.
3. **Power factor** = PF_max − b·exp(−c·P/P_rated); **current** = P / (√3·V·PF).
4. **Motor temperature**: T_ss = ambient + ΔT_rated·(I/I_rated)² (+ heater rise when
   stopped), ambient a daily sine plus a slow weather term; T follows T_ss through an
   exact discretisation of dT/dt = (T_ss − T)/τ with τ = 20–40 min per asset.
5. **Vibration** = base·(1 + k·((Q − Q_bep)/Q_bep)²) with multiplicative noise.
6. Gaussian measurement noise per sensor, then the injected faults, then data gaps and a
   few blank cells.

Faults (seeded, labelled, never in the first 40 % of the range, only while the pump runs):

- ``spike``: 1–4 points within ≤ 12 min on one sensor (water hammer on pressure, glitch
  on current, dropout on flow, knock on vibration);
- ``level_shift``: sensor offset for 1–3 h (pressure ±0.5–0.9 bar, flow ±12–20 % of
  rated, vibration +1.2–2 mm/s);
- ``drift``: either a fouling bearing (extra heat ramping to +14–24 K at steady state
  over 2–5 h, through the thermal lag; the label runs on for 2τ while it cools down) or
  a pressure-transmitter drift ramping to ±0.6–1.0 bar over 2–5 h;
- ``stuck``: a sensor frozen at its last value for 1–2 h (placed where the true signal
  moves, so the freeze is visible);
- ``noise_burst``: noise ×5–10 for 30–90 min on vibration, flow or pressure;
- ``correlation_break``: mechanical rubbing — current ×1.18–1.30 at unchanged flow and
  pressure for 1–2 h (the motor heats up accordingly; label runs on for 2τ).

Files written by :func:`write_demo_plant` (``T`` = end of range + 8 h, e.g.
``2026-01-15 08_00_00`` for the default 10 days from 2026-01-05):

- ``<asset>__Electrical-data-as-joinbyfield-<T>.csv``: Grafana's *formatted* export
  (UTF-8 BOM, CRLF, ``YYYY-MM-DD HH:mm:ss`` UTC, ``850 mA`` / ``12.3 A``, ``398.4 V``,
  power factor as a plain number ``0.872``, ``61.4 °C``, blank cell when missing, no
  newline after the last row);
- ``<asset>__Process-data-<T>.csv``: Grafana's *raw* export (no BOM, CRLF, epoch ms,
  values as JavaScript ``Number.toString()`` text);
- ``labels.csv``: ``asset,start,end,fault,sensor``, ISO-8601 UTC, inclusive ranges.

Ingest: match assets with ``asset_pattern: '^(?P<asset>.+?)__'`` and rename columns with
:data:`DISPLAY_NAMES` (identical to snake-casing the display names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from components.frames import ASSET, LABEL, TIMESTAMP

START = pd.Timestamp("2026-01-05 00:00:00", tz="UTC")  # a Monday
EXPORT_DELAY = pd.Timedelta(hours=8)  # the exports were "downloaded" at end of range + 8 h

ELECTRICAL_COLUMNS = ("Current", "Voltage", "Power factor", "Motor temperature")
PROCESS_COLUMNS = ("Vibration RMS", "Discharge pressure", "Flow")

#: Grafana display name (CSV header) → snake_case sensor name of the readings frame.
DISPLAY_NAMES: dict[str, str] = {
    "Current": "current",
    "Voltage": "voltage",
    "Power factor": "power_factor",
    "Motor temperature": "motor_temperature",
    "Vibration RMS": "vibration_rms",
    "Discharge pressure": "discharge_pressure",
    "Flow": "flow",
}
SENSORS: tuple[str, ...] = tuple(DISPLAY_NAMES.values())
UNITS: dict[str, str] = {
    "current": "A", "voltage": "V", "power_factor": "", "motor_temperature": "°C",
    "vibration_rms": "mm/s", "discharge_pressure": "bar", "flow": "m³/h",
}

FAULT_KINDS: tuple[str, ...] = ("spike", "level_shift", "drift", "stuck", "noise_burst", "correlation_break")
CLEAN_FRACTION = 0.4  # no fault starts before this fraction of the time range
LABEL_COLUMNS = ("asset", "start", "end", "fault", "sensor")

_BOM = "\ufeff"
_CRLF = "\r\n"


@dataclass(eq=False)
class DemoManifest:
    """What :func:`write_demo_plant` wrote."""

    out_dir: Path
    electrical_files: list[Path]
    process_files: list[Path]
    labels_file: Path
    faults: pd.DataFrame  # asset, start, end (UTC Timestamps, inclusive), fault, sensor
    seed: int
    days: float
    interval_s: int
    assets: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """Every file written, CSV exports first, labels last."""
        return [*self.electrical_files, *self.process_files, self.labels_file]


# --------------------------------------------------------------------------- physics


def _ar1(rng: np.random.Generator, n: int, dt_s: float, tau_s: float, sd: float) -> np.ndarray:
    """Stationary AR(1) (discretised Ornstein–Uhlenbeck) with standard deviation ``sd``."""
    phi = math.exp(-dt_s / tau_s)
    eps = rng.standard_normal(n) * sd * math.sqrt(1 - phi * phi)
    x = lfilter([1.0], [1.0, -phi], eps)
    # start in the stationary distribution instead of at 0
    x += rng.standard_normal() * sd * phi ** np.arange(n)
    return x


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` samples, edges padded with the edge value."""
    if width <= 1:
        return x.copy()
    pad = width // 2
    padded = np.concatenate([np.full(pad, x[0]), x, np.full(width - 1 - pad, x[-1])])
    c = np.concatenate([[0.0], np.cumsum(padded)])
    return (c[width:] - c[:-width]) / width


def _shift_profile(hours: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Target load (0..1 of rated flow) from the shift pattern."""
    wk = weekday < 5
    load = np.full(hours.shape, 0.5)
    load[wk & (hours >= 6) & (hours < 14)] = 0.9
    load[wk & (hours >= 12) & (hours < 12.5)] = 0.72  # lunch break
    load[wk & (hours >= 14) & (hours < 22)] = 0.8
    sat = weekday == 5
    load[sat] = 0.42
    load[sat & (hours >= 6) & (hours < 14)] = 0.65
    load[weekday == 6] = 0.4
    return load


def _thermal(t_ss: np.ndarray, t0: float, dt_s: float, tau_s: float) -> np.ndarray:
    """Exact zero-order-hold solution of dT/dt = (T_ss − T)/τ on the grid."""
    a = math.exp(-dt_s / tau_s)
    y, _ = lfilter([0.0, 1 - a], [1.0, -a], t_ss, zi=[t0])
    return y


@dataclass
class _Asset:
    name: str
    index: int
    q_rated: float
    q_bep: float
    h0: float
    curve_a: float
    p_bep: float  # shaft power at BEP, W
    eta_motor: float
    p_fixed: float
    p_rated: float
    pf_max: float
    pf_b: float
    rise_rated: float
    i_rated: float
    tau_s: float
    share: float
    vib_base: float
    vib_k: float
    amb_offset: float
    v_offset: float
    booster: bool


def _make_asset(rng: np.random.Generator, index: int) -> _Asset:
    q_rated = 120.0 * rng.uniform(0.92, 1.08)
    q_bep = 0.85 * q_rated * rng.uniform(0.97, 1.03)
    h0 = 6.0 * rng.uniform(0.95, 1.05)
    curve_a = 0.38 * rng.uniform(0.95, 1.05)
    p_bep_bar = h0 * (1 - curve_a * (q_bep / q_rated) ** 2)
    eta_max = 0.78 * rng.uniform(0.97, 1.02)
    p_bep = (q_bep / 3600.0) * p_bep_bar * 1e5 / eta_max
    eta_motor = 0.93 * rng.uniform(0.99, 1.01)
    p_fixed = 900.0 * rng.uniform(0.8, 1.2)
    p_rated = 22_000.0
    pf_max = 0.89 * rng.uniform(0.98, 1.01)
    pf_b = 0.5 * rng.uniform(0.9, 1.1)
    i_rated = p_rated / (math.sqrt(3) * 400.0 * 0.86 * 0.93)
    return _Asset(
        name=f"pump-{index + 1}", index=index, q_rated=q_rated, q_bep=q_bep, h0=h0, curve_a=curve_a,
        p_bep=p_bep, eta_motor=eta_motor, p_fixed=p_fixed, p_rated=p_rated, pf_max=pf_max, pf_b=pf_b,
        rise_rated=50.0 * rng.uniform(0.9, 1.1), i_rated=i_rated, tau_s=60.0 * rng.uniform(20, 40),
        share=rng.uniform(0.95, 1.05), vib_base=1.6 * rng.uniform(0.85, 1.2), vib_k=2.2 * rng.uniform(0.85, 1.15),
        amb_offset=rng.uniform(-1.5, 1.5), v_offset=rng.uniform(-2.0, 2.0), booster=(index % 3 == 2),
    )


# --------------------------------------------------------------------------- faults


@dataclass
class _Fault:
    kind: str
    sensor: str
    start: int  # first affected row (grid index)
    stop: int  # last row of the physical/sensor effect (inclusive)
    label_end: int  # last labelled row (≥ stop: thermal tails)
    params: dict


def _choose_fault(rng: np.random.Generator, kind: str, n_per_h: float, a: _Asset) -> _Fault:
    """Draw the sensor, duration and magnitude of one fault (placement comes later)."""
    def rows(hours_lo: float, hours_hi: float) -> int:
        return max(2, int(round(rng.uniform(hours_lo, hours_hi) * n_per_h)))

    tail = int(round(2 * a.tau_s / 3600.0 * n_per_h))
    if kind == "spike":
        sensor = str(rng.choice(["discharge_pressure", "current", "flow", "vibration_rms"]))
        n_points = int(rng.integers(1, 5))
        span = max(n_points, int(round(rng.uniform(3, 12) / 60.0 * n_per_h)))
        offsets = np.sort(rng.choice(np.arange(span), size=min(n_points, span), replace=False))
        offsets = offsets - offsets[0]
        mags = rng.uniform(0.0, 1.0, size=len(offsets))
        return _Fault(kind, sensor, 0, int(offsets[-1]), int(offsets[-1]), {"offsets": offsets, "u": mags})
    if kind == "level_shift":
        sensor = str(rng.choice(["discharge_pressure", "flow", "vibration_rms"]))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if sensor == "discharge_pressure":
            offset = sign * rng.uniform(0.5, 0.9)
        elif sensor == "flow":
            offset = sign * rng.uniform(0.12, 0.20) * a.q_rated
        else:
            offset = rng.uniform(1.2, 2.0)
        d = rows(1, 3)
        return _Fault(kind, sensor, 0, d - 1, d - 1, {"offset": offset})
    if kind == "drift":
        d = rows(2, 5)
        if rng.random() < 0.7:
            return _Fault(kind, "motor_temperature", 0, d - 1, d - 1 + tail, {"delta": rng.uniform(14, 24)})
        sign = 1.0 if rng.random() < 0.5 else -1.0
        return _Fault(kind, "discharge_pressure", 0, d - 1, d - 1, {"delta": sign * rng.uniform(0.6, 1.0)})
    if kind == "stuck":
        sensor = str(rng.choice(["flow", "discharge_pressure", "current", "vibration_rms"]))
        d = rows(1, 2)
        return _Fault(kind, sensor, 0, d - 1, d - 1, {})
    if kind == "noise_burst":
        sensor = str(rng.choice(["vibration_rms", "flow", "discharge_pressure"]))
        d = rows(0.5, 1.5)
        return _Fault(kind, sensor, 0, d - 1, d - 1, {"factor": rng.uniform(5, 10)})
    if kind == "correlation_break":
        d = rows(1, 2)
        return _Fault(kind, "current", 0, d - 1, d - 1 + tail, {"factor": rng.uniform(1.18, 1.30)})
    raise ValueError(f"unknown fault kind {kind!r}")


def _place(
    rng: np.random.Generator, fault: _Fault, n: int, first: int, allowed: np.ndarray, taken: np.ndarray,
    signal: np.ndarray, margin: int,
) -> bool:
    """Give ``fault`` a start row where its whole labelled range is allowed and free."""
    length = fault.label_end + 1
    last_start = n - length - margin
    if last_start < first:
        return False
    ok = allowed & ~taken
    # rows r such that ok[r - margin : r + length + margin] is all True
    width = length + 2 * margin
    c = np.concatenate([[0], np.cumsum(ok.astype(np.int64))])
    starts = np.arange(first, last_start + 1)
    lo, hi = starts - margin, starts + length + margin
    valid = (lo >= 0) & (hi <= n)
    full = np.zeros(len(starts), dtype=bool)
    full[valid] = (c[hi[valid]] - c[lo[valid]]) == width
    candidates = starts[full]
    if len(candidates) == 0:
        return False
    if fault.kind in ("stuck", "correlation_break"):
        # prefer windows where the true signal moves, so the fault shows
        pick = rng.choice(candidates, size=min(24, len(candidates)), replace=False)
        spans = [np.mean(np.abs(signal[s : s + fault.stop + 1] - signal[s - 1])) for s in pick]
        start = int(pick[int(np.argmax(spans))])
    else:
        start = int(rng.choice(candidates))
    fault.start = start
    fault.stop += start
    fault.label_end += start
    taken[max(0, start - margin) : min(n, start + length + margin)] = True
    return True


# --------------------------------------------------------------------------- generator


def generate_plant(seed: int = 7, days: float = 10, interval_s: int = 60, assets: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo plant as a clean-typed readings frame plus its fault table.

    Returns ``(readings, faults)``: ``readings`` has ``timestamp`` (UTC), ``asset``, the
    seven sensors as float64 in base units (current in A, power factor 0..1) exactly as
    written to the exports before text formatting (NaN where a cell is blank, no rows in
    data gaps) and ``label`` (int8, 1 inside a fault's inclusive range); ``faults`` has
    ``asset, start, end, fault, sensor`` with UTC timestamps.
    """
    if assets < 1:
        raise ValueError("assets must be ≥ 1")
    if interval_s <= 0 or days <= 0:
        raise ValueError("days and interval_s must be positive")
    n = int(round(days * 86400 / interval_s))
    if n < 10:
        raise ValueError("the range must hold at least 10 samples")
    dt = float(interval_s)
    n_per_h = 3600.0 / dt
    rng = np.random.default_rng(seed)
    ts = pd.date_range(START, periods=n, freq=pd.Timedelta(seconds=interval_s), unit="ns")
    t_h = np.arange(n) * dt / 3600.0
    hours = t_h % 24.0
    weekday = ((t_h // 24).astype(np.int64) + START.dayofweek) % 7
    target = _smooth(_shift_profile(hours, weekday), max(1, int(round(20 * 60 / dt))))
    on_shift = (weekday < 5) & (hours >= 6) & (hours < 22)

    # plant-level terms shared by every pump
    weather = _ar1(rng, n, dt, 36 * 3600.0, 2.0)
    ambient = 24.0 + 5.0 * np.sin(2 * np.pi * (hours - 9.0) / 24.0) + weather
    plant_demand = _ar1(rng, n, dt, 3 * 3600.0, 0.03)
    bus = 403.0 + _ar1(rng, n, dt, 2 * 3600.0, 1.2) - 5.0 * (target - 0.6)

    # fault kinds over the plant: every kind at least once, then extras
    n_faults = max(len(FAULT_KINDS), 3 * assets)
    kinds = list(rng.permutation(FAULT_KINDS))
    kinds += [str(k) for k in rng.choice(FAULT_KINDS, size=n_faults - len(FAULT_KINDS))]
    per_asset: list[list[str]] = [[] for _ in range(assets)]
    for i, k in enumerate(kinds):
        per_asset[i % assets].append(str(k))

    asset_params = [_make_asset(rng, i) for i in range(assets)]
    first_fault_row = int(math.ceil(CLEAN_FRACTION * n))
    margin = int(round(0.5 * n_per_h))
    frames, fault_rows = [], []
    leftovers: list[str] = []
    states = []
    for a, kinds_here in zip(asset_params, per_asset):
        arng = np.random.default_rng([seed, a.index, 1])
        running = on_shift.copy() if a.booster else np.ones(n, dtype=bool)
        load = target * a.share * (1 + plant_demand + _ar1(arng, n, dt, 20 * 60.0, 0.03))
        flow_true = np.where(running, np.clip(a.q_rated * load, 0, None), 0.0)

        # data gaps: 1–3 outages of 20 min – 3 h, away from the first and last 2 h
        gap = np.zeros(n, dtype=bool)
        for _ in range(int(arng.integers(1, 4))):
            length = max(1, int(round(arng.uniform(20, 180) / 60.0 * n_per_h)))
            lo = int(2 * n_per_h)
            hi = n - length - int(2 * n_per_h)
            if hi > lo:
                g0 = int(arng.integers(lo, hi))
                gap[g0 : g0 + length] = True
        states.append((a, arng, running, flow_true, gap, kinds_here))

    placed: dict[int, list[_Fault]] = {}
    for a, arng, running, flow_true, gap, kinds_here in states:
        placed[a.index] = []
        taken = np.zeros(n, dtype=bool)
        for kind in kinds_here:
            f = _choose_fault(arng, kind, n_per_h, a)
            if _place(arng, f, n, first_fault_row, running & ~gap, taken, flow_true, margin):
                placed[a.index].append(f)
            else:
                leftovers.append(kind)
    # faults that did not fit on their asset: try the others, in order
    for kind in leftovers:
        for a, arng, running, flow_true, gap, _ in states:
            taken = np.zeros(n, dtype=bool)
            for f in placed[a.index]:
                taken[max(0, f.start - margin) : min(n, f.label_end + 1 + margin)] = True
            f = _choose_fault(arng, kind, n_per_h, a)
            if _place(arng, f, n, first_fault_row, running & ~gap, taken, flow_true, margin):
                placed[a.index].append(f)
                break

    for a, arng, running, flow_true, gap, _ in states:
        faults = sorted(placed[a.index], key=lambda f: f.start)
        flow = flow_true.copy()
        q = flow / a.q_rated
        pressure = np.where(running, a.h0 * (1 - a.curve_a * q**2), 1.2)
        p_shaft = a.p_bep * (0.42 + 0.58 * flow / a.q_bep)
        p_elec = np.where(running, p_shaft / a.eta_motor + a.p_fixed, 0.0)
        volts = bus + a.v_offset
        pf = np.where(running, a.pf_max - a.pf_b * np.exp(-3.2 * p_elec / a.p_rated), 0.99)
        heater_a = 0.52 * (1 + 0.02 * arng.standard_normal())
        current = np.where(running, p_elec / (math.sqrt(3) * volts * pf), heater_a)
        extra_heat = np.zeros(n)
        for f in faults:  # process faults act before the sensors see the signal
            sl = slice(f.start, f.stop + 1)
            if f.kind == "correlation_break":
                current[sl] *= f.params["factor"]
            elif f.kind == "drift" and f.sensor == "motor_temperature":
                extra_heat[sl] = np.linspace(0, f.params["delta"], f.stop - f.start + 1)
        rise = np.where(running, a.rise_rated * (current / a.i_rated) ** 2, 5.0)
        t_ss = ambient + a.amb_offset + rise + extra_heat
        temp = _thermal(t_ss, float(t_ss[0]), dt, a.tau_s)
        off_bep = (flow - a.q_bep) / a.q_bep
        vib = np.where(running, a.vib_base * (1 + a.vib_k * off_bep**2) + 0.3 * q, 0.15)

        # measurement noise
        sig = {
            "current": 0.004 * current + 0.01,
            "voltage": np.full(n, 0.5),
            "power_factor": np.full(n, 0.003),
            "motor_temperature": np.full(n, 0.12),
            "vibration_rms": 0.05 * vib,
            "discharge_pressure": np.full(n, 0.025),
            "flow": 0.012 * flow + 0.2,
        }
        values = {
            "current": current, "voltage": volts, "power_factor": pf, "motor_temperature": temp,
            "vibration_rms": vib, "discharge_pressure": pressure, "flow": flow,
        }
        noise = {s: arng.standard_normal(n) for s in SENSORS}
        for f in faults:
            if f.kind == "noise_burst":
                noise[f.sensor][f.start : f.stop + 1] *= f.params["factor"]
        data = {}
        for s in SENSORS:
            if s == "vibration_rms":
                data[s] = values[s] * np.exp(0.05 * noise[s])
            else:
                data[s] = values[s] + sig[s] * noise[s]
        for s in ("current", "vibration_rms", "flow", "discharge_pressure"):
            data[s] = np.clip(data[s], 0.0, None)
        data["power_factor"] = np.clip(data["power_factor"], 0.0, 1.0)

        # sensor faults act on the measured values
        for f in faults:
            sl = slice(f.start, f.stop + 1)
            x = data[f.sensor]
            if f.kind == "spike":
                idx = f.start + f.params["offsets"]
                u = f.params["u"]
                if f.sensor == "discharge_pressure":
                    x[idx] += 1.2 + 1.3 * u
                elif f.sensor == "current":
                    x[idx] *= 1.4 + 0.4 * u
                elif f.sensor == "flow":
                    x[idx] *= 0.4 + 0.3 * u
                else:
                    x[idx] *= 3.0 + 2.0 * u
            elif f.kind == "level_shift":
                x[sl] = np.clip(x[sl] + f.params["offset"], 0.0, None)
            elif f.kind == "drift" and f.sensor == "discharge_pressure":
                x[sl] += np.linspace(0, f.params["delta"], f.stop - f.start + 1)
            elif f.kind == "stuck":
                x[sl] = x[f.start - 1]

        label = np.zeros(n, dtype=np.int8)
        for f in faults:
            label[f.start : f.label_end + 1] = 1

        # a few isolated blank cells outside gaps and fault ranges
        free = np.flatnonzero(~gap & (label == 0))
        n_blank = int(arng.integers(2, 6))
        for r, s in zip(arng.choice(free, size=min(n_blank, len(free)), replace=False), arng.integers(0, len(SENSORS), n_blank)):
            data[SENSORS[int(s)]][int(r)] = np.nan

        keep = ~gap
        frame = pd.DataFrame({TIMESTAMP: ts[keep], ASSET: a.name})
        for s in SENSORS:
            frame[s] = data[s][keep].astype(np.float64)
        frame[LABEL] = label[keep]
        frames.append(frame)
        for f in faults:
            fault_rows.append({
                "asset": a.name, "start": ts[f.start], "end": ts[f.label_end], "fault": f.kind, "sensor": f.sensor,
            })

    readings = pd.concat(frames, ignore_index=True)
    readings[ASSET] = readings[ASSET].astype(str)
    faults_df = pd.DataFrame(fault_rows, columns=list(LABEL_COLUMNS))
    if len(faults_df):
        faults_df = faults_df.sort_values(["asset", "start"], kind="stable").reset_index(drop=True)
    faults_df["start"] = pd.to_datetime(faults_df["start"], utc=True)
    faults_df["end"] = pd.to_datetime(faults_df["end"], utc=True)
    return readings, faults_df


# --------------------------------------------------------------------------- formatting


def js_number(x: float) -> str:
    """JavaScript ``Number.prototype.toString()`` of ``x`` (what Grafana writes for raw data)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    r = repr(float(x))
    if "e" not in r:
        return r[:-2] if r.endswith(".0") else r
    sign = "-" if r.startswith("-") else ""
    mant, exp = r.lstrip("-").split("e")
    int_part, _, frac = mant.partition(".")
    digits = (int_part + frac).lstrip("0")
    n = int(exp) + len(int_part)  # value = 0.d1d2… × 10^n
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    es = ("+" if e >= 0 else "-") + str(abs(e))
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + es


def _fmt(values: np.ndarray, fn) -> list[str]:
    return ["" if v != v else fn(v) for v in values.tolist()]


def _fmt_current(v: float) -> str:
    ma = round(v * 1000.0)
    if abs(ma) < 1000:
        return f"{ma:.0f} mA"
    return f"{v:.1f} A"


def _csv_text(header: tuple[str, ...], columns: list[list[str]], *, bom: bool) -> bytes:
    lines = [",".join('"' + h.replace('"', '""') + '"' for h in header)]
    lines += [",".join(row) for row in zip(*columns)]
    text = _CRLF.join(lines)  # Grafana ≥ 2024: no newline after the last row
    return ((_BOM if bom else "") + text).encode("utf-8")


def electrical_csv(frame: pd.DataFrame) -> bytes:
    """One asset's electrical panel as Grafana's *formatted* CSV export (UTF-8 BOM)."""
    times = frame[TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    cols = [
        times,
        _fmt(frame["current"].to_numpy(), _fmt_current),
        _fmt(frame["voltage"].to_numpy(), lambda v: f"{v:.1f} V"),
        _fmt(frame["power_factor"].to_numpy(), lambda v: f"{v:.3f}"),
        _fmt(frame["motor_temperature"].to_numpy(), lambda v: f"{v:.1f} °C"),
    ]
    return _csv_text(("Time", *ELECTRICAL_COLUMNS), cols, bom=True)


def process_csv(frame: pd.DataFrame) -> bytes:
    """One asset's process panel as Grafana's *raw* CSV export (epoch ms, JS numbers, no BOM)."""
    ms = (frame[TIMESTAMP] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    cols = [[str(int(t)) for t in ms.tolist()]]
    cols += [_fmt(frame[DISPLAY_NAMES[c]].to_numpy(), js_number) for c in PROCESS_COLUMNS]
    return _csv_text(("Time", *PROCESS_COLUMNS), cols, bom=False)


def _iso(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def labels_csv(faults: pd.DataFrame) -> bytes:
    """The fault table as ``labels.csv`` (LF newlines, ISO-8601 UTC, inclusive ranges)."""
    lines = [",".join(LABEL_COLUMNS)]
    for row in faults.itertuples(index=False):
        lines.append(f"{row.asset},{_iso(row.start)},{_iso(row.end)},{row.fault},{row.sensor}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def export_stamp(days: float) -> str:
    """The download time in the file names, as Chrome writes it (``:`` → ``_``)."""
    return (START + pd.Timedelta(days=days) + EXPORT_DELAY).strftime("%Y-%m-%d %H_%M_%S")


def write_demo_plant(out_dir: str | Path, *, seed: int = 7, days: float = 10, interval_s: int = 60, assets: int = 3) -> DemoManifest:
    """Generate the plant and write its Grafana exports and ``labels.csv`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    readings, faults = generate_plant(seed=seed, days=days, interval_s=interval_s, assets=assets)
    stamp = export_stamp(days)
    electrical, process = [], []
    names = list(dict.fromkeys(readings[ASSET].tolist()))
    for asset in names:
        part = readings[readings[ASSET] == asset]
        e_path = out / f"{asset}__Electrical-data-as-joinbyfield-{stamp}.csv"
        p_path = out / f"{asset}__Process-data-{stamp}.csv"
        e_path.write_bytes(electrical_csv(part))
        p_path.write_bytes(process_csv(part))
        electrical.append(e_path)
        process.append(p_path)
    labels_path = out / "labels.csv"
    labels_path.write_bytes(labels_csv(faults))
    return DemoManifest(
        out_dir=out, electrical_files=electrical, process_files=process, labels_file=labels_path,
        faults=faults, seed=seed, days=days, interval_s=interval_s, assets=names,
    )
