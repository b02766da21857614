"""Fixtures for the app's windows: a SearchWindow on a copy of a session workspace, its engine open."""
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


@pytest.fixture
def open_window(qtbot, tmp_path):
    """``open_window(source_workspace, k=12, **SearchWindow kwargs)``: a window on a copy of the workspace
    (without its indexes) with the engine open on the CPU. At teardown every window is closed and must
    leave no thread running."""
    made = []

    def make(source: Workspace, k: int = 12, **kwargs) -> SearchWindow:
        ws = Workspace(tmp_path / f"ws{len(made)}")
        shutil.copytree(source.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
        client = EngineClient()
        win = SearchWindow(ws, client, k=k, device="cpu", **kwargs)
        qtbot.addWidget(win)
        with qtbot.waitSignal(client.opened, timeout=120_000):
            win.open_engine()
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()
        assert win.client.shutdown() and not win.client.thread.isRunning()
        assert win.thumbnails.wait(5000) and win.query_thumbnails.wait(5000)
        run = win.settings_pane.run
        assert run is None or not run.is_running()
