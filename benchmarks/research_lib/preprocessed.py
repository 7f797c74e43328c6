"""The command line of a SKAB run on preprocessed experiments (the studies
``benchmarks/skab_differenced.py`` and ``benchmarks/skab_tracked.py``): the leaderboard
protocol of :func:`components.benchmarks.skab.run_benchmark` with every experiment
transformed by a :class:`~components.benchmarks.skab.Preprocessing` first."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

from components.benchmarks.skab import Preprocessing, run_benchmark


def run_preprocessed_cli(
    description: str, default_out: str, add_options: Callable[[argparse.ArgumentParser], None],
    preprocessing: Callable[[argparse.Namespace], Preprocessing],
) -> dict:
    """The command line of a preprocessed benchmark variant (``benchmarks/skab_differenced.py``,
    ``benchmarks/skab_tracked.py``): ``--data``, ``--peers``, ``--models``, ``--max-epochs``
    and ``--out`` plus the variant's own options (``add_options``); runs
    :func:`run_benchmark` with ``preprocessing(args)``, writes the report to ``--out``,
    prints each model's rates and returns the report."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help="folder laid out like SKAB's data/")
    add_options(parser)
    parser.add_argument("--peers", default=None, help="python of `make peers`' environment (PyOD)")
    parser.add_argument("--models", default=None, help="comma-separated subset of our models (default: all)")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--out", default=default_out)
    args = parser.parse_args()
    models = args.models.split(",") if args.models else None
    report = run_benchmark(args.data, models=models, peers=args.peers, max_epochs=args.max_epochs, preprocess=preprocessing(args),
                           progress=lambda message: print(message, flush=True))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    for name, m in report["models"].items():
        print(f"{name:20s} F1 {m['f1']:.3f}  FAR {m['far']:5.1f} %  MAR {m['mar']:5.1f} %  VUS-PR {m['vus_pr']:.3f}")
    return report
