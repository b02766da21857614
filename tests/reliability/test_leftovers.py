"""Temporary files of killed writers are removed by the next run of the same writer or by ``fashion doctor
--fix``, never those of a writer that is still running."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from fashion_gui import atomic
from fashion_gui.atomic import is_stale_temp, remove_stale_temps, temp_prefix
from fashion_gui.inference.checkpoint import list_checkpoints, load_checkpoint
from fashion_gui.reliability.workspaces import untrained_adde
from fashion_gui.workspace_doctor import check_workspace, fix_workspace

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="kills a forked writer")


@pytest.fixture
def live_pid():
    """The pid of a process that is alive during the test (a writer that has not finished)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _killed(fn, step: str) -> None:
    """Run ``fn`` in a child killed at crash point ``step``."""
    pid = os.fork()
    if pid == 0:
        try:
            atomic.set_crash_hook(lambda s: s == step and os.kill(os.getpid(), signal.SIGKILL))
            fn()
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)


def test_a_killed_checkpoint_save_is_cleaned_by_the_next_save(ws):
    _killed(lambda: untrained_adde(ws, d=4), "checkpoint:config")
    staged = [p for p in ws.checkpoints.iterdir() if p.name.startswith(".tmp-")]
    assert len(staged) == 1 and (staged[0] / "weights.pt").is_file()  # a whole staged copy of the weights
    assert list_checkpoints(ws.checkpoints) == [ws.checkpoints / "adde"]  # never listed as a checkpoint
    untrained_adde(ws, d=4)
    assert [p.name for p in ws.checkpoints.iterdir()] == ["adde"]
    assert load_checkpoint(ws.checkpoints / "adde").config["architecture"]["d"] == 4


def test_a_live_writers_files_are_never_removed(ws, live_pid):
    live = ws.checkpoints / f".tmp-{live_pid}-adde-abcd1234"
    live.mkdir()
    (live / "weights.pt").write_bytes(b"being written")
    dead = ws.checkpoints / f".tmp-{dead_pid()}-adde-dcba4321"
    dead.mkdir()
    assert not is_stale_temp(live) and is_stale_temp(dead)
    untrained_adde(ws, d=4)  # the next save of the same checkpoint
    fix_workspace(ws)  # and the doctor's clean-up
    assert live.is_dir() and (live / "weights.pt").read_bytes() == b"being written" and not dead.exists()


def test_the_doctor_lists_and_removes_leftovers_of_dead_writers_only(ws, live_pid):
    dead = dead_pid()
    leftovers = [ws.root / f".tmp-{dead}-catalog-x1y2z3.sqlite", ws.images / f".tmp-{dead}-images-0a1b2c3d",
                 ws.indexes / "adde" / "full" / f".tmp-{dead}-data-11aa22bb", ws.root / ".images-legacy"]
    for path in leftovers:
        path.mkdir() if "images" in path.name or "data" in path.name else path.write_bytes(b"x")
    old = os.path.getmtime(ws.root) - 2 * atomic.LEGACY_TMP_AGE
    os.utime(ws.root / ".images-legacy", (old, old))
    live = ws.indexes / "adde" / f".tmp-{live_pid}-features.npz-qwerty12"
    live.write_bytes(b"x")
    listed = {p.path for p in check_workspace(ws, images=False).problems if p.area == "leftovers"}
    assert listed == {str(p) for p in leftovers}
    done = fix_workspace(ws)
    assert not any(p.exists() for p in leftovers) and live.exists() and len(done) == len(leftovers)
    assert check_workspace(ws, images=False).ok


def test_atomic_writes_remove_what_a_killed_writer_of_the_same_file_left(tmp_path):
    dead = dead_pid()
    stale = tmp_path / f".tmp-{dead}-report.json-abc_1234"
    other = tmp_path / f".tmp-{dead}-other.json-abc_1234"
    stale.write_text("half")
    other.write_text("half")
    atomic.atomic_write_json(tmp_path / "report.json", {"ok": True})
    assert not stale.exists() and other.exists()  # only leftovers of the same file
    assert remove_stale_temps(tmp_path) == [other] and temp_prefix("x") == f".tmp-{os.getpid()}-x-"


def test_after_a_killed_first_build_the_doctor_leaves_the_folder_as_it_was(tmp_path):
    from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
    from fashion_gui.reliability.workspaces import TINY_DEMO
    from fashion_gui.workspace import Workspace

    ws = Workspace(tmp_path / "new-folder")
    _killed(lambda: build_demo(ws, DemoConfig(seed=4, **TINY_DEMO)), "demo:rendered")
    assert any(ws.root.iterdir()) and not ws.exists()  # rendered images and the lock file of the killed build
    fix_workspace(ws)
    assert list(ws.root.iterdir()) == []  # empty again: the app can build the demo there
