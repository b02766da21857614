"""One writer at a time: a second ``fashion index build`` says that another build is running, waits for it and
then uses what it built; two concurrent builds never remove each other's folders; a second catalog build is
refused naming the first."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.writer import catalog_lock
from fashion_gui.engine import RetrievalEngine
from fashion_gui.index import load_index
from fashion_gui.index.persist import build_lock, unreferenced
from fashion_gui.locks import BusyError, WriterLock
from fashion_gui.reliability.workspaces import TINY_DEMO

from reliability_helpers import ROOT


def _index_build(ws, ef: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "fashion_gui.cli.main", "index", "build", "--workspace",
                             str(ws.root), "--ef-search", ef, "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_a_second_index_build_says_another_one_is_running_and_waits(ws):
    lock = build_lock(ws.indexes / "adde" / "full")
    lock.acquire()  # this test is the first build
    proc = _index_build(ws, "77")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while not any("another index build is running" in line for line in lines) and time.monotonic() < deadline:
            assert proc.poll() is None, "".join(lines)  # it must wait, not build next to us or fail
            time.sleep(0.1)
        assert proc.poll() is None
    finally:
        lock.release()
    assert proc.wait(timeout=120) == 0, "".join(lines)
    reader.join(10)
    said = next(line for line in lines if "another index build is running" in line)
    assert str(ws.indexes / "adde" / "full") in said and f"pid {os.getpid()}" in said and "waiting for it" in said
    assert load_index(ws.indexes / "adde" / "full")[1].config.ef_search == 77


def test_two_concurrent_index_builds_both_succeed_and_leave_one_whole_index(ws):
    procs = [_index_build(ws, "61"), _index_build(ws, "61")]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    for name in ("full", "subspaces"):
        index, manifest = load_index(ws.indexes / "adde" / name)
        assert manifest.config.ef_search == 61 and len(index) == 60
        data = [p for p in (ws.indexes / "adde" / name).iterdir() if p.name.startswith("data-")]
        assert len(data) == 1 and unreferenced(ws.indexes / "adde" / name, data[0].name) == []
    with RetrievalEngine.open(ws, device="cpu") as engine:
        assert {ix["status"] for ix in engine.describe()["indexes"].values()} == {"loaded"}


def test_a_second_catalog_build_is_refused_naming_the_first(ws):
    with catalog_lock(ws).held():
        holder_seen = []

        def other_thread():
            try:
                build_demo(ws, DemoConfig(seed=3, **TINY_DEMO), force=True)
            except BusyError as exc:
                holder_seen.append(str(exc))

        t = threading.Thread(target=other_thread)
        t.start()
        t.join(60)
    assert holder_seen and "another catalog build is running on" in holder_seen[0]
    assert str(ws.root) in holder_seen[0] and f"pid {os.getpid()}" in holder_seen[0]


def test_the_lock_is_reentrant_in_a_thread_and_released_by_a_dead_process(tmp_path):
    lock = WriterLock(tmp_path / ".lock", "test")
    with lock.held(), lock.held():
        assert not lock.held_elsewhere()
    code = "from fashion_gui.locks import WriterLock; import os, sys; WriterLock(sys.argv[1], 't').acquire(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / ".lock")], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert not lock.held_elsewhere()  # the OS released it when that process ended
    with pytest.raises(BusyError):
        proc = subprocess.Popen([sys.executable, "-c", code.replace("os._exit(0)", "import time; time.sleep(30)"),
                                 str(tmp_path / ".lock")], env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            deadline = time.monotonic() + 30
            while not lock.held_elsewhere() and time.monotonic() < deadline:
                time.sleep(0.1)
            lock.acquire(wait=0.3)
        finally:
            proc.kill()
            proc.wait()
