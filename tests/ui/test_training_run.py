"""TrainingRun / CliRun: JSON-line parsing, progress over stages, checkpoint names, the tidy-up after a cancel,
and real child processes (a failing ``fashion train``, a child that ignores terminate())."""
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QProcess  # noqa: E402

from fashion_gui.ui.training_run import (  # noqa: E402
    CliRun,
    LineBuffer,
    ProgressTracker,
    Stage,
    TrainingRun,
    checkpoint_name,
    describe_event,
    flag_value,
    parse_event,
    plan_stages,
    tidy_cancelled_checkpoint,
)
from fashion_gui.workspace import Workspace  # noqa: E402

STEP = b'{"kind": "step", "stage": "attributes", "epoch": 1, "epochs": 2, "step": 1, "steps": 4, "losses": {"loss": 2.5}}'
EPOCH = (b'{"kind": "epoch", "stage": "attributes", "epoch": 1, "epochs": 2, "losses": {"loss": 2.0}, '
         b'"metrics": {"val_attr_acc": 0.5}, "images_per_second": 300.0}')
STREAM = (b'{"kind": "start", "message": "training adde on cpu"}\n' + STEP + b"\n" + b"a warning: not json\n"
          + b'{"not": "an event"}\n' + EPOCH + b"\r\n" + b'{"kind": "done", "path": "/ws/checkpoints/adde"}')


def _collect(run):
    events, logs, progress = [], [], []
    run.event.connect(events.append)
    run.log.connect(logs.append)
    run.progress.connect(lambda done, total, label: progress.append((done, total, label)))
    return events, logs, progress


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, len(STREAM)])
def test_json_lines_split_anywhere_give_the_same_events(qapp, tmp_path, chunk):
    run = TrainingRun(Workspace(tmp_path), "adde", 2, ["--manip-epochs", "2"])
    events, logs, progress = _collect(run)
    for i in range(0, len(STREAM), chunk):
        run.feed_stdout(STREAM[i:i + chunk])
    # the last line has no newline yet: held back until the stream ends
    assert [e["kind"] for e in events] == ["start", "step", "epoch"]
    assert logs == ["a warning: not json", '{"not": "an event"}']
    for line in run._stdout.flush():  # what the process's end does
        run._stdout_line(line)
    assert [e["kind"] for e in events] == ["start", "step", "epoch", "done"]
    step, epoch, done = events[1:]
    assert step["losses"] == {"loss": 2.5} and step["total_epochs"] == 4.0  # 2 attribute + 2 manipulation epochs
    assert step["position"] == pytest.approx(0.25) and epoch["position"] == 1.0 and done["position"] == 4.0
    assert [p[:2] for p in progress] == [(62, 1000), (250, 1000), (1000, 1000)]
    assert progress[1][2] == "attributes \u00b7 epoch 1/2 \u00b7 300 img/s"
    assert run.done_event["path"] == "/ws/checkpoints/adde"


def test_line_buffer_splits_on_carriage_returns_and_decodes_split_utf8():
    buf = LineBuffer(carriage_returns=True)
    assert buf.feed(b"render:  10%|#   | 1/10\rrender:  20%") == ["render:  10%|#   | 1/10"]
    assert buf.feed(b"|##  | 2/10\r\ncaf\xc3") == ["render:  20%|##  | 2/10"]
    assert buf.feed(b"\xa9 ok\n\n") == ["caf\u00e9 ok"]  # the two bytes of "é" arrived apart
    assert buf.flush() == []


def test_parse_event_accepts_only_known_kinds():
    assert parse_event('{"kind": "epoch", "epoch": 2}') == {"kind": "epoch", "epoch": 2}
    assert parse_event('{"kind": "bogus"}') is None
    assert parse_event("[1, 2]") is None and parse_event("{broken") is None and parse_event("plain") is None


def test_progress_tracker_over_two_stages_and_an_unplanned_one():
    tracker = ProgressTracker([Stage("attributes", 3), Stage("manipulation", 1)])
    assert tracker.total == 4.0
    assert tracker.update({"kind": "step", "stage": "attributes", "epoch": 2, "epochs": 3, "step": 1,
                           "steps": 2}) == 1.5
    assert tracker.update({"kind": "epoch", "stage": "manipulation", "epoch": 1, "epochs": 2}) == 4.0  # 3 + 1
    assert tracker.total == 5.0  # the event's own epoch count replaces the plan
    assert tracker.update({"kind": "step", "stage": "attributes", "epoch": 1, "epochs": 3, "step": 1,
                           "steps": 2}) == 4.0  # never moves back
    single = ProgressTracker(plan_stages("uigr-tirg", 4))
    assert single.update({"kind": "step", "stage": "composed", "epoch": 2, "epochs": 4, "step": 2,
                          "steps": 2}) == 2.0
    assert single.stages == [Stage("composed", 4)]
    assert single.update({"kind": "done"}) == 4.0


def test_plan_names_and_flags():
    assert plan_stages("adde", 5, ["--manip-epochs=2"]) == [Stage("attributes", 5), Stage("manipulation", 2)]
    assert plan_stages("adde", 5, ["--epochs", "7"])[0] == Stage("attributes", 7)
    assert plan_stages("adde", 5)[1].epochs == 4  # ADDETrainConfig.manip_epochs
    assert flag_value(["--d", "16", "--d=32"], "--d") == "32" and flag_value(["--d"], "--d") is None
    assert checkpoint_name("adde") == "adde"
    assert checkpoint_name("tgr-only", ["--compositor", "rtic"]) == "tgr-only-rtic"
    assert checkpoint_name("uigr-rtic", ["--compositor", "rtic"]) == "uigr-rtic"
    assert checkpoint_name("adde", ["--name", "mine"]) == "mine" and checkpoint_name("adde", name="x") == "x"
    run = TrainingRun(Workspace(Path("/tmp/ws")), "tgr-only", 3, ["--compositor", "rtic"])
    assert run.name == "tgr-only-rtic" and run.checkpoint_dir.name == "tgr-only-rtic"
    assert run.args[:6] == ["train", "tgr-only", "--workspace", "/tmp/ws", "--epochs", "3"]
    assert run.args[-1] == "--progress-json"


def test_describe_event_lines():
    line = describe_event({"kind": "epoch", "stage": "attributes", "epoch": 1, "epochs": 2,
                           "losses": {"loss": 2.0}, "metrics": {"val_attr_acc": 0.5, "x": None},
                           "images_per_second": 300.0})
    assert line == "attributes epoch 1/2: loss 2.000 | val_attr_acc 0.500 (300 img/s)"
    assert describe_event({"kind": "step", "epoch": 1}) is None
    assert describe_event({"kind": "error", "message": "CUDA out of memory"}) == "error: CUDA out of memory"


def test_tidy_after_cancel(tmp_path):
    # a new folder holding only what a kill cut short: emptied and removed
    new = tmp_path / "new"
    new.mkdir()
    (new / ".tmp-state.pt-abc").write_bytes(b"half")
    notes = tidy_cancelled_checkpoint(new, {}, created=True)
    assert not new.exists() and any("removed the empty folder" in n for n in notes)

    # a new folder with the last finished epoch's state: kept, resumable
    new.mkdir()
    (new / "state.pt").write_bytes(b"state")
    notes = tidy_cancelled_checkpoint(new, {}, created=True)
    assert sorted(p.name for p in new.iterdir()) == ["state.pt"] and any("--resume" in n for n in notes)

    # an existing checkpoint whose final save was cut after weights.pt: the new weights go, so no folder
    # pairs new weights with an old config
    old = tmp_path / "old"
    old.mkdir()
    for name in ("weights.pt", "config.json", "metrics.json"):
        (old / name).write_text("old")
    before = {n: (old / n).stat().st_mtime_ns for n in ("weights.pt", "config.json", "metrics.json")}
    (old / "weights.pt").write_text("new")
    os.utime(old / "weights.pt", ns=(before["weights.pt"] + 10**9, before["weights.pt"] + 10**9))
    notes = tidy_cancelled_checkpoint(old, before, created=False)
    assert not (old / "weights.pt").exists() and any("cut before its config.json" in n for n in notes)

    # an existing checkpoint the run did not reach: unchanged
    (old / "weights.pt").write_text("old")
    before = {n: (old / n).stat().st_mtime_ns for n in ("weights.pt", "config.json", "metrics.json")}
    notes = tidy_cancelled_checkpoint(old, before, created=False)
    assert (old / "weights.pt").read_text() == "old" and any("unchanged" in n for n in notes)


def test_a_failing_training_reports_the_cli_message(qtbot, demo_workspace, tmp_path):
    """--margin exists but does not apply to adde: ``fashion train`` says so and exits 2."""
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(demo_workspace.root, ws.root)
    run = TrainingRun(ws, "adde", 1, ["--margin", "0.3", "--device", "cpu"])
    failures, logs = [], []
    run.failed.connect(failures.append)
    run.log.connect(logs.append)
    with qtbot.waitSignal(run.failed, timeout=60_000):
        run.start()
    assert run.process.state() == QProcess.NotRunning and run.outcome == "failed" and run.exit_code == 2
    assert failures == [run.error]
    assert run.error.startswith("Training adde failed (exit code 2).")
    assert "fashion train: error: --margin do(es) not apply to method adde" in run.error
    assert logs[0].startswith("$ fashion train adde --workspace") and not ws.checkpoints.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is a POSIX signal")
def test_cancel_kills_a_child_that_ignores_terminate(qtbot, tmp_path):
    run = CliRun(["catalog", "info"], "Stubborn")
    run.KILL_AFTER_MS = 300
    script = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "print('ready', flush=True); time.sleep(60)")
    run.process.setArguments(["-c", script])  # stands in for a command stuck in native code
    logs = []
    run.log.connect(logs.append)
    with qtbot.waitSignal(run.log, check_params_cb=lambda line: line == "ready", timeout=20_000):
        run.start()
    pid = run.process.processId()
    with qtbot.waitSignal(run.cancelled, timeout=10_000):
        assert run.cancel()
    assert run.process.state() == QProcess.NotRunning and run.outcome == "cancelled"
    assert not run._kill_timer.isActive() and not run.cancel()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert logs[-1] == "Stubborn: cancelled"
