"""The leaderboard plot draws every model, also one whose alarms found no event (no delay), and a
board whose ranking metrics are undefined."""

from __future__ import annotations

import pandas as pd

from components.scoring.plots import plot_leaderboard


def test_a_model_whose_alarms_found_no_event_has_no_delay_bar_and_the_plot_is_drawn(tmp_path):
    board = pd.DataFrame({
        "model": ["student", "pca"], "vus_pr": [0.8, 0.4], "f1": [0.1, 0.0], "events": [2, 2],
        "alarm_events_found": [0, 1], "alarm_mean_delay_rows": [None, 12.0], "rows_per_s": [1e5, 2e5],
    })
    plot_leaderboard(board, tmp_path / "board.png")
    alone = board.iloc[:1].assign(alarm_mean_delay_rows=pd.Series([None], dtype=object))  # the only model found none: a column of None
    plot_leaderboard(alone, tmp_path / "alone.png")
    assert (tmp_path / "board.png").stat().st_size > 1000 and (tmp_path / "alone.png").stat().st_size > 1000


def test_a_board_whose_ranking_metrics_are_undefined_is_drawn(tmp_path):
    """As evaluate writes it when a test split's only labelled rows are its first, which no
    model scores (a fleet group of one pump whose fault began in its validation rows)."""
    board = pd.DataFrame({
        "model": ["student"], "vus_pr": pd.Series([None], dtype=object), "f1": [0.0], "events": [0],
        "alarm_events_found": [0], "alarm_mean_delay_rows": pd.Series([None], dtype=object), "rows_per_s": [1e5],
    })
    plot_leaderboard(board, tmp_path / "undefined.png")
    assert (tmp_path / "undefined.png").stat().st_size > 1000
