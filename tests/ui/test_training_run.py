"""TrainingRun / CliRun: JSON-line parsing, progress over the planned stages, option values and checkpoint names
from the registry, the tidy-up after a cancel, and real child processes (a failing ``fashion train``, a child
that ignores terminate())."""
import json
import os
import shutil
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QProcess  # noqa: E402

from fashion_gui.methods import get_method  # noqa: E402
from fashion_gui.ui.training_run import (  # noqa: E402
    CliRun,
    LineBuffer,
    ProgressTracker,
    Stage,
    TrainingRun,
    describe_event,
    format_remaining,
    parse_event,
    planned_stages,
    tidy_cancelled_checkpoint,
)
from fashion_gui.workspace import Workspace  # noqa: E402

PLAN = (b'{"kind": "plan", "stage_count": 2, "plan": [{"name": "attributes", "title": "attribute learning", '
        b'"epochs": 2}, {"name": "manipulation", "title": "memory-block manipulation", "epochs": 2}]}')
STEP = (b'{"kind": "step", "stage": "attributes", "epoch": 1, "epochs": 2, "step": 1, "steps": 4, '
        b'"losses": {"loss": 2.5}, "stage_index": 1, "stage_count": 2}')
EPOCH = (b'{"kind": "epoch", "stage": "attributes", "epoch": 1, "epochs": 2, "losses": {"loss": 2.0}, '
         b'"metrics": {"val_attr_acc": 0.5}, "images_per_second": 300.0, "stage_index": 1, "stage_count": 2}')
MANIP = (b'{"kind": "step", "stage": "manipulation", "epoch": 1, "epochs": 2, "step": 2, "steps": 4, '
         b'"losses": {"loss": 1.5}, "stage_index": 2, "stage_count": 2}')
STREAM = (PLAN + b"\n" + b'{"kind": "start", "message": "training adde on cpu"}\n' + STEP + b"\n"
          + b"a warning: not json\n" + b'{"not": "an event"}\n' + EPOCH + b"\r\n" + MANIP + b"\n"
          + b'{"kind": "done", "path": "/ws/checkpoints/adde"}')


def _collect(run):
    events, logs, progress = [], [], []
    run.event.connect(events.append)
    run.log.connect(logs.append)
    run.progress.connect(lambda done, total, label: progress.append((done, total, label)))
    return events, logs, progress


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, len(STREAM)])
def test_json_lines_split_anywhere_give_the_same_events(qapp, tmp_path, chunk):
    run = TrainingRun(Workspace(tmp_path), "adde", {"epochs": 5, "manip_epochs": 1})
    assert run.tracker.total == 6.0  # the registry's plan until the run's own plan arrives
    events, logs, progress = _collect(run)
    for i in range(0, len(STREAM), chunk):
        run.feed_stdout(STREAM[i:i + chunk])
    # the last line has no newline yet: held back until the stream ends
    assert [e["kind"] for e in events] == ["plan", "start", "step", "epoch", "step"]
    assert logs == ["a warning: not json", '{"not": "an event"}']
    for line in run._stdout.flush():  # what the process's end does
        run._stdout_line(line)
    assert [e["kind"] for e in events] == ["plan", "start", "step", "epoch", "step", "done"]
    plan, _, step, epoch, manip, done = events
    assert plan["total_epochs"] == 4.0  # the run's plan: 2 attribute + 2 manipulation epochs (not 5 + 1)
    assert step["losses"] == {"loss": 2.5} and step["position"] == pytest.approx(0.25)
    assert epoch["position"] == 1.0 and manip["position"] == 2.5 and done["position"] == 4.0
    assert [p[:2] for p in progress] == [(62, 1000), (250, 1000), (625, 1000), (1000, 1000)]
    assert progress[0][2] == "stage 1 of 2: attribute learning \u00b7 epoch 1/2 \u00b7 step 1/4"
    assert progress[1][2].startswith("stage 1 of 2: attribute learning \u00b7 epoch 1/2 \u00b7 300 img/s")
    assert progress[2][2].startswith("stage 2 of 2: memory-block manipulation \u00b7 epoch 1/2 \u00b7 step 2/4")
    assert "left" in progress[2][2]  # a time estimate once the run has moved
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


def test_progress_tracker_follows_the_plan_and_stage_indexes():
    tracker = ProgressTracker([Stage("attributes", 3), Stage("manipulation", 1)])
    assert tracker.total == 4.0
    assert tracker.update({"kind": "step", "stage": "attributes", "epoch": 2, "epochs": 3, "step": 1,
                           "steps": 2}) == 1.5
    assert tracker.stage_label() == "stage 1 of 2: attributes"
    assert tracker.update({"kind": "epoch", "stage": "manipulation", "epoch": 1, "epochs": 2}) == 4.0  # 3 + 1
    assert tracker.total == 5.0  # the event's own epoch count replaces the plan
    assert tracker.update({"kind": "step", "stage": "attributes", "epoch": 1, "epochs": 3, "step": 1,
                           "steps": 2}) == 4.0  # never moves back

    # the run's plan replaces the guess; events are placed by their stage index
    tracker = ProgressTracker([Stage("", 9)])
    tracker.update({"kind": "plan", "plan": [{"name": "a", "title": "first", "epochs": 1},
                                             {"name": "b", "title": "second", "epochs": 3}]})
    assert tracker.total == 4.0 and [s.title for s in tracker.stages] == ["first", "second"]
    assert tracker.update({"kind": "step", "stage": "b", "stage_index": 2, "epoch": 2, "epochs": 3, "step": 1,
                           "steps": 2}) == 2.5
    assert tracker.stage_label() == "stage 2 of 2: second"
    assert tracker.update({"kind": "done"}) == 4.0

    single = ProgressTracker(planned_stages(get_method("uigr-tirg"), get_method("uigr-tirg").make_config({"epochs": 4})))
    assert single.stages == [Stage("composed", 4, "composed retrieval")]
    assert single.update({"kind": "step", "stage": "composed", "epoch": 2, "epochs": 4, "step": 2,
                          "steps": 2}) == 2.0
    assert single.stage_label() == "composed retrieval"  # one stage: no "stage 1 of 1"


def test_a_run_takes_option_values_and_names_its_checkpoint_like_the_registry(qapp, tmp_path):
    ws = Workspace(tmp_path / "ws")
    run = TrainingRun(ws, "tgr-only", {"compositor": "rtic", "epochs": 3})
    assert run.name == "tgr-only-rtic" and run.checkpoint_dir == ws.checkpoints / "tgr-only-rtic"
    assert run.args == ["train", "tgr-only", "--workspace", str(ws.root), "--config",
                        str(ws.checkpoints / ".run-tgr-only-rtic.json"), "--name", "tgr-only-rtic", "--progress-json"]
    assert run.values["compositor"] == "rtic" and run.values["epochs"] == 3 and "tasks" not in run.values  # fixed
    assert run.values["lr_milestones"] == [8, 11]  # JSON-ready
    assert TrainingRun(ws, "adde", {}, name="mine").name == "mine"
    assert [s.epochs for s in TrainingRun(ws, "adde", {"epochs": 1}).tracker.stages] == [1, 4]  # per stage
    with pytest.raises(ValueError, match="lr_milestones"):
        TrainingRun(ws, "uigr-tirg", {"lr_milestones": "8 x"})
    with pytest.raises(ValueError, match="cannot be changed for this method"):
        TrainingRun(ws, "grl", {"head": "nxn"})
    with pytest.raises(ValueError, match="unknown method"):
        TrainingRun(ws, "no-such-method", {})


def test_describe_event_lines():
    line = describe_event({"kind": "epoch", "stage": "attributes", "epoch": 1, "epochs": 2,
                           "losses": {"loss": 2.0}, "metrics": {"val_attr_acc": 0.5, "x": None},
                           "images_per_second": 300.0})
    assert line == "attributes epoch 1/2: loss 2.000 | val_attr_acc 0.500 (300 img/s)"
    assert describe_event({"kind": "step", "epoch": 1}) is None
    assert describe_event({"kind": "error", "message": "CUDA out of memory"}) == "error: CUDA out of memory"
    assert describe_event({"kind": "plan", "plan": [{"name": "a", "title": "attribute learning", "epochs": 1},
                                                   {"name": "b", "title": "memory-block manipulation", "epochs": 4}]}) \
        == "plan: attribute learning (1 epoch) \u2192 memory-block manipulation (4 epochs)"
    assert [format_remaining(s) for s in (3, 42, 95, 3600 * 1.5)] == \
        ["about 5 s left", "about 40 s left", "about 2 min left", "about 1 h 30 min left"]


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
    """ADDE-O builds on an ADDE checkpoint; without one, ``fashion train`` says so and exits 2. The run.json
    it was given is gone afterwards and no checkpoint is claimed."""
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(demo_workspace.root, ws.root)
    run = TrainingRun(ws, "adde-o", {"epochs": 1, "device": "cpu"})
    failures, logs = [], []
    run.failed.connect(failures.append)
    run.log.connect(logs.append)
    with qtbot.waitSignal(run.failed, timeout=60_000):
        run.start()
        assert json.loads(run.config_path.read_text()) == run.values  # what the child reads
    assert run.process.state() == QProcess.NotRunning and run.outcome == "failed" and run.exit_code == 2
    assert failures == [run.error]
    assert run.error.startswith("Training adde-o failed (exit code 2).")
    assert "fashion train: error: ADDE-O needs a trained ADDE model" in run.error
    assert logs[0].startswith("$ fashion train adde-o --workspace") and "--config" in logs[0]
    assert not run.config_path.exists() and not (ws.checkpoints / "adde-o").exists()


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
