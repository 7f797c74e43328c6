"""Training progress lines: one per epoch with its losses, heartbeats inside long epochs."""

from __future__ import annotations

import io
from types import SimpleNamespace

import torch

from components.training.progress import EpochLines


def _trainer(epoch: int) -> SimpleNamespace:
    return SimpleNamespace(
        current_epoch=epoch, max_epochs=3, num_training_batches=4, num_val_batches=[2],
        callback_metrics={"train_loss": torch.tensor(0.5), "val_loss": torch.tensor(0.25), "lr": torch.tensor(1e-3)},
    )


def test_a_line_per_epoch_with_its_losses_and_heartbeats_inside_it():
    out = io.StringIO()
    lines = EpochLines("student", heartbeat_s=0.0, out=out)
    trainer = _trainer(1)
    lines.on_train_epoch_start(trainer, None)
    lines.on_train_batch_end(trainer, None, None, None, 0)
    lines.on_validation_batch_end(trainer, None, None, None, 1)
    lines.on_train_epoch_end(trainer, None)
    printed = out.getvalue().splitlines()
    assert printed[0] == "student epoch 2/3: training batch 1/4"
    assert printed[1] == "student epoch 2/3: validation batch 2/2"
    assert printed[2].startswith("student epoch 2/3: train_loss 0.5 val_loss 0.25 (") and printed[2].endswith(" s)")
    assert len(printed) == 3


def test_no_heartbeat_before_its_interval():
    out = io.StringIO()
    lines = EpochLines("pca", heartbeat_s=3600.0, out=out)
    trainer = _trainer(0)
    lines.on_train_epoch_start(trainer, None)
    for batch in range(4):
        lines.on_train_batch_end(trainer, None, None, None, batch)
    assert out.getvalue() == ""


def test_heartbeat_speaks_while_a_step_with_no_loop_runs():
    import time

    from components.progress import heartbeat

    out = io.StringIO()
    with heartbeat("student: distillation targets", every_s=0.2, out=out):
        time.sleep(0.7)
    printed = out.getvalue().splitlines()
    assert printed[0] == "student: distillation targets"
    assert 2 <= sum(line.startswith("student: distillation targets: still running (") for line in printed) <= 4
    assert printed[-1].startswith("student: distillation targets: done in ")


def test_heartbeat_waits_a_full_interval_after_the_blocks_own_lines():
    import time

    from components.progress import heartbeat

    out = io.StringIO()
    with heartbeat("train student: child process", every_s=0.4, out=out) as beat:
        for _ in range(6):  # the child speaks every 0.2 s: no "still running" line
            time.sleep(0.2)
            beat.touch()
        time.sleep(0.6)  # then falls silent
    still = [line for line in out.getvalue().splitlines() if "still running" in line]
    assert len(still) == 1 and still[0].startswith("train student: child process: still running (")


def test_a_terminal_gets_a_progress_bar_a_log_plain_lines_and_a_quiet_fit_nothing():
    from pytorch_lightning.callbacks import RichProgressBar

    from components.training.fit import progress_callbacks

    assert progress_callbacks(None, terminal=True) == []
    in_log = progress_callbacks("student", terminal=False)
    assert [type(c) for c in in_log] == [EpochLines]
    in_terminal = progress_callbacks("student", terminal=True)
    assert [type(c) for c in in_terminal] == [EpochLines, RichProgressBar]
