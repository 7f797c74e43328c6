"""Throughput of the live watcher on the project's champion, in one run: catching up on a
backlog, and keeping up with a live feed early and late in a store's life (a reading's
cost must not grow with the readings already stored: the watcher keeps each asset's
history in memory and reads the store only after its position).

Usage (after `make demo`, from the project root):
    .venv/bin/python benchmarks/live_throughput.py [--exports 'data/demo/pump-*__*.csv']

The demo plant's exports are replayed into a fresh SQLite store. Backlog: every reading
scored by one watcher in batches of ``watch.batch_readings`` (10,000): readings/s. Live:
``--polls`` polls of one new reading per asset each (what a plant sending a reading a
minute per asset looks like), timed at the store's start and again after the backlog
(tens of thousands of readings stored and scored): ms per poll and per reading. Writes
reports/benchmarks/live.json (``--out``) with the git commit and hardware.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.benchmarks.environment import environment  # noqa: E402
from components.benchmarks.report_io import write_report  # noqa: E402
from components.live.champion import Champion  # noqa: E402
from components.live.replay import asset_rows, group_by_asset  # noqa: E402
from components.live.store import Store  # noqa: E402
from components.live.watcher import Watcher  # noqa: E402
from components.scoring.score_settings import ScoreSettings  # noqa: E402


def _live_polls(store: Store, watcher: Watcher, feeds: dict[str, list], start: int, polls: int) -> dict:
    """Insert one reading per asset, score them, ``polls`` times; ms per poll."""
    spent = []
    for k in range(start, start + polls):
        store.insert_readings([rows[k] for rows in feeds.values()])
        begin = time.perf_counter()
        assert watcher.process_batch() == len(feeds)
        spent.append(time.perf_counter() - begin)
    spent.sort()
    return {"polls": polls, "readings_per_poll": len(feeds), "ms_per_poll_p50": 1000 * spent[len(spent) // 2],
            "ms_per_poll_p99": 1000 * spent[int(len(spent) * 0.99)], "ms_per_reading_p50": 1000 * spent[len(spent) // 2] / len(feeds)}


def run(exports: list[Path], polls: int) -> dict:
    settings = ScoreSettings.for_project()
    model = Champion(settings.model_uri, settings.tracking_uri).load_current()
    feeds = {asset: [(a, ts, values) for ts, a, values in asset_rows(asset, paths, settings)]
             for asset, paths in group_by_asset(exports, settings).items()}
    rows = min(len(r) for r in feeds.values())
    with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{tmp}/live.db") as store:
        store.init()
        watcher = Watcher(store, model)
        watcher.restore()
        early = _live_polls(store, watcher, feeds, 0, polls)
        backlog = [r for k in range(polls, rows - polls) for r in (feed[k] for feed in feeds.values())]
        store.insert_readings(backlog)
        begin = time.perf_counter()
        while watcher.process_batch():
            pass
        backlog_s = time.perf_counter() - begin
        stored = store.execute("SELECT count(*) FROM scores")[0][0]
        late = _live_polls(store, watcher, feeds, rows - polls, polls)
    return {
        **environment(), "model_version": model.version, "assets": len(feeds),
        "backlog": {"readings": len(backlog), "seconds": backlog_s, "readings_per_s": len(backlog) / backlog_s},
        "live_early": {**early, "readings_stored": 0}, "live_late": {**late, "readings_stored": stored},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exports", default="data/demo/pump-*__*.csv")
    parser.add_argument("--polls", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/live.json"))
    args = parser.parse_args()
    report = run(sorted(Path().glob(args.exports)), args.polls)
    write_report(report, args.out)
    backlog, early, late = report["backlog"], report["live_early"], report["live_late"]
    print(f"backlog: {backlog['readings']:,} readings in {backlog['seconds']:.1f} s = {backlog['readings_per_s']:,.0f} readings/s")
    print(f"live, {early['readings_per_poll']} readings a poll: {early['ms_per_poll_p50']:.1f} ms a poll with an empty store, "
          f"{late['ms_per_poll_p50']:.1f} ms with {late['readings_stored']:,} readings stored")


if __name__ == "__main__":
    main()
