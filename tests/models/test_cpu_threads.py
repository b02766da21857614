"""How many cores other programs keep busy, read from the kernel's counters (inference/cpu.py)."""
import os
import threading

import pytest

from fashion_gui.inference import cpu
from fashion_gui.inference.cpu import busy_cores, training_threads


def _stat_file(tmp_path, rows):
    """A fake /proc/stat whose first line advances through ``rows`` (user nice system idle iowait ...)."""
    path = tmp_path / "stat"
    path.write_text("cpu  " + " ".join(map(str, rows[0])) + "\n")
    return path


def test_busy_cores_is_the_non_idle_share_of_the_window_times_the_cores(tmp_path, monkeypatch):
    before = [100, 0, 50, 1000, 10, 0, 0, 0]
    after = [160, 0, 90, 1090, 10, 0, 0, 0]  # +100 busy, +90 idle (+0 iowait): 100 / 190 busy
    path = _stat_file(tmp_path, [before])
    monkeypatch.setattr(cpu.time, "sleep", lambda _s: path.write_text("cpu  " + " ".join(map(str, after)) + "\n"))
    assert busy_cores(0.0, str(path)) == pytest.approx(100 / 190 * (os.cpu_count() or 1))


def test_busy_cores_is_none_where_the_counters_cannot_be_read(tmp_path):
    assert busy_cores(0.0, str(tmp_path / "missing")) is None
    (tmp_path / "bad").write_text("cpu  a b c\n")
    assert busy_cores(0.0, str(tmp_path / "bad")) is None


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc/stat")
def test_busy_cores_sees_a_busy_thread():
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    t = threading.Thread(target=spin)
    t.start()
    try:
        busy = busy_cores(0.3)
    finally:
        stop.set()
        t.join()
    assert busy is not None and busy >= 0.5  # the spinning thread keeps (most of) one core busy


def test_training_threads_policy():
    assert training_threads(2, 0.0) == 2 and training_threads(2, 0.49) == 2
    assert training_threads(2, 0.5) == 1 and training_threads(2, None) == 1
    assert training_threads(1, 0.0) == 1
    assert training_threads(16, 5.0) is None and training_threads(None, 0.0) is None
