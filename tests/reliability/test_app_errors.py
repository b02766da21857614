"""In the app, a failed engine job is one line (a bug's traceback goes behind "Details" and into the log), and
Settings > Workspace's check (DoctorView) runs off the GUI thread and lists each problem with its fix."""
from __future__ import annotations

import logging
import os
import shutil
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from fashion_gui.ui.doctor_view import DoctorView  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402
from fashion_gui.workspace_doctor import check_workspace  # noqa: E402


@pytest.fixture
def client(qtbot, ws):
    c = EngineClient()
    with qtbot.waitSignal(c.opened, timeout=60_000):
        c.open(ws, "cpu")
    yield c
    assert c.shutdown() and not c.thread.isRunning()


def test_a_bug_in_a_job_is_one_line_with_the_traceback_behind_details(qtbot, client, caplog):
    with caplog.at_level(logging.ERROR), qtbot.waitSignal(client.error, timeout=30_000) as err:
        client.submit(lambda engine: 1 / 0)
    message = err.args[1]
    assert "\n" not in message and "Traceback" not in message and "ZeroDivisionError: division by zero" in message
    assert "Traceback" in client.last_details and "1 / 0" in client.last_details
    assert any("ZeroDivisionError" in r.getMessage() for r in caplog.records)  # and in the log


def test_a_user_error_in_a_job_is_its_own_line_without_details(qtbot, client, tmp_path):
    missing = tmp_path / "nowhere.jpg"
    with qtbot.waitSignal(client.error, timeout=30_000) as err:
        client.submit(lambda engine: engine.encode(missing))
    assert err.args[1] == f"{missing}: file not found; check the path" and client.last_details == ""


def test_the_search_window_shows_the_line_and_a_details_button(qtbot, ws):
    client = EngineClient()
    win = SearchWindow(ws, client, k=4, device="cpu")
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(client.opened, timeout=60_000):
            win.open_engine()
        win._submit(lambda engine: {}["no such key"])
        qtbot.waitUntil(lambda: win.last_error is not None, timeout=30_000)
        box = win.findChildren(QMessageBox)[-1]
        assert box.text() == win.last_error and "\n" not in box.text() and "KeyError" in box.text()
        assert "Traceback" in box.detailedText()  # Qt shows it behind "Show Details..."
    finally:
        win.close()
        assert client.shutdown()
        win.thumbnails.wait(5000) and win.query_thumbnails.wait(5000)


def test_doctor_view_checks_off_the_gui_thread_and_lists_fixes(qtbot, ws):
    (ws.checkpoints / "adde" / "metrics.json").write_text("{broken")
    stale = ws.images / ".tmp-999999-images-deadbeef"
    stale.mkdir()
    threads = []

    def check(workspace):
        threads.append(threading.get_ident())
        return check_workspace(workspace)

    view = DoctorView(ws, check=check)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.checked, timeout=60_000) as done:
        qtbot.mouseClick(view.check_button, Qt.LeftButton)
        assert view.running and not view.check_button.isEnabled() and not view.run_check()
    report = done.args[0]
    assert threads and threads[0] != threading.get_ident()
    assert view.problems.topLevelItemCount() == len(report.problems) == 2
    fixes = {view.problems.topLevelItem(i).text(2) for i in range(2)}
    assert f"fashion doctor --workspace {ws.root} --fix" in fixes and any(f.startswith("fashion train adde") for f in fixes)
    assert "2 problem(s)" in view.summary.text() and view.check_button.isEnabled()
    with qtbot.waitSignal(view.checked, timeout=60_000) as done:
        view.run_check(fix=True)  # "Clean up": the leftover goes, the damaged metrics stay (they need a retrain)
    assert not stale.exists() and len(done.args[0].problems) == 1 and "Cleaned up 1 item(s)" in view.summary.text()
    assert view.wait(1000)


def test_doctor_view_reports_a_failing_check_in_one_line(qtbot, tmp_path):
    def broken(workspace):
        raise PermissionError(13, "Permission denied", str(tmp_path / "ws"))

    view = DoctorView(Workspace(tmp_path / "ws"), check=broken)
    qtbot.addWidget(view)
    view.run_check()
    qtbot.waitUntil(lambda: view.last_error is not None and not view.running, timeout=30_000)
    assert "permission denied" in view.last_error and "\n" not in view.summary.text()
    shutil.rmtree(tmp_path / "ws", ignore_errors=True)
