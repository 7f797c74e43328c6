"""PyOD's detectors on benchmark splits: the worker that :mod:`components.benchmarks.peers`
runs in the peers environment (``make peers`` → ``.venv-peers``), once per benchmark.

It imports only the standard library, numpy and PyOD (and, through PyOD's deep
detectors, torch) — never this project — so it runs in a virtual environment of its own::

    .venv-peers/bin/python -I components/benchmarks/pyod_worker.py IN.npz OUT.npz

``IN.npz`` (written by ``peers.write_inputs``, read with ``allow_pickle=False``):

* ``meta``: a JSON string: ``window`` (rows per window), ``train_stride``, ``seed``,
  ``threads``, ``epochs`` and ``batch_size`` (LSTMAD's training budget), ``detectors``
  (names of :data:`DETECTORS`), ``series`` (names, one per index ``i``), optionally
  ``fleet`` (bool, below);
* ``train_<i>``, ``val_<i>``, ``test_<i>``: float32 (rows, features), the series' splits
  already scaled exactly as the project's own models see them.

Per series and detector, the detector is fitted on the train split and scores the
validation and the test split, each split on its own; with ``"fleet": true`` in the meta,
ONE detector per name is fitted on the train splits of all series (their windows pooled,
none spanning two series; the series detectors, which fit one series of rows, then fail
on every series) and scores each series' splits:

* window detectors (``kind: windows``) see flattened windows of ``window`` rows,
  ``(window * features,)`` row-major like the project's PCA and Isolation Forest: fit on
  the train windows starting every ``train_stride`` rows, score the stride-1 windows of a
  split; the score of the window ending at row ``t`` is row ``t``'s;
* series detectors (``kind: series``, PyOD's time-series models) get the split's rows and
  return one score per row; LSTMAD with ``window_size = window − 1`` predicts row ``t``
  from the ``window − 1`` rows before it, so it too sees the window of ``window`` rows
  ending at ``t``.

``OUT.npz``: ``val_<i>_<detector>`` and ``test_<i>_<detector>`` float64, one score per
full window, i.e. for rows ``window − 1 …`` of the split (rows − window + 1 values;
higher = more anomalous), and ``meta`` (JSON): the versions (python, pyod, numpy,
scipy, scikit-learn, numba, torch), each detector's class and parameters, and per series
and detector ``fit_s``, ``val_score_s``, ``test_score_s``, ``train_windows``, ``epochs`` — or
``error`` when it failed there (the other detectors go on).

Seeds: ``random_state = seed`` where PyOD takes one; numpy's global generator and torch's
are seeded with ``seed`` before each fit (LSTMAD has no ``random_state``).
"""

from __future__ import annotations

import json
import platform
import sys
import time
import traceback
from importlib import import_module, metadata

import numpy as np

#: name → (module, class, kind, parameters); ``{seed}``, ``{window_minus_1}``, ``{epochs}``
#: and ``{batch_size}`` are filled in from the input's meta. PyOD's defaults otherwise,
#: except that nothing prints (``verbose``) and deep models run on the CPU.
DETECTORS: dict[str, tuple[str, str, str, dict]] = {
    "iforest": ("pyod.models.iforest", "IForest", "windows", {"n_estimators": 100, "random_state": "{seed}"}),
    "pca": ("pyod.models.pca", "PCA", "windows", {"random_state": "{seed}"}),
    "ecod": ("pyod.models.ecod", "ECOD", "windows", {}),
    "copod": ("pyod.models.copod", "COPOD", "windows", {}),
    "knn": ("pyod.models.knn", "KNN", "windows", {"n_neighbors": 5, "method": "largest"}),
    "autoencoder": ("pyod.models.auto_encoder", "AutoEncoder", "windows", {"random_state": "{seed}", "device": "cpu", "verbose": 0}),
    "lstm": ("pyod.models.ts_lstm", "LSTMAD", "series", {"window_size": "{window_minus_1}", "epochs": "{epochs}", "batch_size": "{batch_size}"}),
}
DEEP = ("autoencoder", "lstm")


def flat_windows(rows: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """Windows of ``window`` rows starting every ``stride`` rows, flattened row-major:
    (n_windows, window * features) float64."""
    n, features = rows.shape
    if n < window:
        raise ValueError(f"{n} rows are fewer than one window of {window}")
    starts = np.arange(0, n - window + 1, stride)
    return rows[starts[:, None] + np.arange(window)[None, :]].reshape(len(starts), window * features).astype(np.float64)


def _params(name: str, fill: dict) -> dict:
    fill = {"{" + k + "}": v for k, v in fill.items()}
    return {k: fill.get(v, v) if isinstance(v, str) else v for k, v in DETECTORS[name][3].items()}


def _seed(seed: int, torch) -> None:
    np.random.seed(seed)
    if torch is not None:
        torch.manual_seed(seed)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _build(name: str, *, window: int, seed: int, epochs: int, batch_size: int, torch=None):
    """Detector ``name`` with its parameters filled in, seeded."""
    module, cls, _, _ = DETECTORS[name]
    _seed(seed, torch)
    fill = {"seed": seed, "window_minus_1": window - 1, "epochs": epochs, "batch_size": batch_size}
    return getattr(import_module(module), cls)(**_params(name, fill))


def _score(detector, kind: str, rows: np.ndarray, window: int) -> tuple[np.ndarray, float]:
    """(one score per full window of ``rows``, seconds)."""
    if len(rows) < window:
        raise ValueError(f"{len(rows)} rows are fewer than one window of {window}")
    begin = time.perf_counter()
    if kind == "windows":
        scores = np.asarray(detector.decision_function(flat_windows(rows, window)), dtype=np.float64)
    else:  # rows before the first full window have none (PyOD fills them with threshold_)
        scores = np.asarray(detector.decision_function(rows.astype(np.float64)), dtype=np.float64)[window - 1 :]
    seconds = time.perf_counter() - begin
    if scores.shape != (len(rows) - window + 1,):
        raise ValueError(f"{type(detector).__name__} returned {scores.shape} scores for {len(rows) - window + 1} windows")
    return scores, seconds


def _fitted(name: str, detector, trains: list[np.ndarray], *, window: int, train_stride: int) -> dict:
    """Fit ``detector`` on ``trains`` (several series: window detectors only, on all their
    windows, none spanning two series); its seconds, windows, parameters and epochs."""
    kind = DETECTORS[name][2]
    begin = time.perf_counter()
    if kind == "windows":
        fit_input = np.concatenate([flat_windows(train, window, train_stride) for train in trains])
        detector.fit(fit_input)
        windows = len(fit_input)
    elif len(trains) == 1:
        detector.fit(trains[0].astype(np.float64))
        windows = len(trains[0]) - window + 1
    else:
        raise ValueError(f"{DETECTORS[name][1]} fits one series of rows at a time; it cannot learn from several at once")
    params = {k: v for k, v in detector.get_params().items() if isinstance(v, (int, float, str, bool, type(None)))}
    epochs = int(params.get("epochs") or params.get("epoch_num") or 0)  # deep detectors: epochs trained
    return {"fit_s": time.perf_counter() - begin, "train_windows": windows, "params": params, "epochs": epochs}


def run_fleet(
    name: str, series: list[tuple[np.ndarray, np.ndarray, np.ndarray]], *, window: int, train_stride: int, seed: int,
    epochs: int = 50, batch_size: int = 32, torch=None,
) -> list[dict]:
    """Fit ONE detector ``name`` on the train splits of all ``series`` and score each
    series' ``val`` and ``test``: per series, scores per full window of each split, the
    seconds spent and the (shared) fit's record."""
    detector = _build(name, window=window, seed=seed, epochs=epochs, batch_size=batch_size, torch=torch)
    fit = _fitted(name, detector, [train for train, _, _ in series], window=window, train_stride=train_stride)
    out = []
    for _, val, test in series:
        record = dict(fit)
        for split, rows in (("val", val), ("test", test)):
            record[split], record[f"{split}_score_s"] = _score(detector, DETECTORS[name][2], rows, window)
        out.append(record)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: pyod_worker.py IN.npz OUT.npz", file=sys.stderr)
        return 2
    source, target = argv
    with np.load(source, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        series = [(npz[f"train_{i}"], npz[f"val_{i}"], npz[f"test_{i}"]) for i in range(len(meta["series"]))]
    window, stride, seed, threads = int(meta["window"]), int(meta["train_stride"]), int(meta["seed"]), int(meta["threads"])
    budget = {"epochs": int(meta.get("epochs", 50)), "batch_size": int(meta.get("batch_size", 32))}
    names = list(meta["detectors"])
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        print(f"unknown detector(s) {unknown}; known: {list(DETECTORS)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    import pyod  # noqa: F401  (its import time is part of the worker's wall time, once)

    torch = None
    if any(n in DEEP for n in names):
        import torch

        torch.set_num_threads(threads)
    arrays: dict[str, np.ndarray] = {}
    results: dict[str, dict] = {name: {} for name in names}
    params: dict[str, dict] = {}
    # one fit per series, or with ``fleet`` one per detector for all series together
    groups = [list(range(len(series)))] if meta.get("fleet") else [[i] for i in range(len(series))]
    for group in groups:
        label = "fleet" if meta.get("fleet") else meta["series"][group[0]]
        for name in names:
            try:
                outs = run_fleet(name, [series[i] for i in group], window=window, train_stride=stride, seed=seed, torch=torch, **budget)
            except Exception as err:  # noqa: BLE001 (one detector failing on one series must not lose the others)
                for i in group:
                    results[name][meta["series"][i]] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc(limit=3)}
                print(f"{name} {label}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
                continue
            for i, out in zip(group, outs):
                arrays[f"val_{i}_{name}"], arrays[f"test_{i}_{name}"] = out.pop("val"), out.pop("test")
                params.setdefault(name, out.pop("params"))
                results[name][meta["series"][i]] = out
            print(f"{name} {label}: fit {outs[0]['fit_s']:.2f}s test {sum(o['test_score_s'] for o in outs):.2f}s", file=sys.stderr, flush=True)
    report = {
        "versions": {
            "python": platform.python_version(),
            **{p: _version(p) for p in ("pyod", "numpy", "scipy", "scikit-learn", "numba", "llvmlite", "torch")},
        },
        "platform": platform.platform(),
        "executable": sys.executable,
        "threads": threads,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "detectors": {
            name: {"class": f"{DETECTORS[name][0]}.{DETECTORS[name][1]}", "kind": DETECTORS[name][2], "params": params.get(name)}
            for name in names
        },
        "results": results,
        "wall_s": time.perf_counter() - started,
    }
    np.savez(target, meta=np.array(json.dumps(report)), **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
