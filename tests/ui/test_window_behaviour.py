"""How the windows behave on a screen (issue 18): docking Settings never widens the window past the screen,
Settings first opens clear of the query panel, the catalog grid lays out whole cells before its thumbnails
arrive, the toolbar keeps its actions after many turns, Ctrl+Q quits, the empty query's text fits."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.main_window import THUMB, MainWindow  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# runs in a child process whose offscreen screen has the given size (the test session's screen is 800 x 800)
SCREEN_SCRIPT = textwrap.dedent('''
    import json, sys, time
    from PySide6.QtCore import QPoint, QRect, QSettings
    from PySide6.QtWidgets import QApplication
    from fashion_gui.ui.app_settings import AppSettings
    from fashion_gui.ui.engine_worker import EngineClient
    from fashion_gui.ui.search_window import SearchWindow
    from fashion_gui.ui.style import apply_style
    from fashion_gui.workspace import Workspace

    workspace, ini = Workspace.at(sys.argv[1]), sys.argv[2]
    app = QApplication([])
    apply_style(app)

    def pump(seconds=0.3):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()

    def rect(r):
        return [r.x(), r.y(), r.width(), r.height()]

    out = {"screen": rect(app.primaryScreen().availableGeometry())}
    settings = AppSettings(QSettings(ini, QSettings.IniFormat))
    client = EngineClient()
    win = SearchWindow(workspace, client, device="cpu", settings=settings)
    win.fit_to_screen()  # what the app does on a first start
    win.show()
    pump()
    out["window"] = rect(win.frameGeometry())
    out["width"] = win.width()
    win.settings_action.trigger()  # Settings, first open: a floating tool window
    pump()
    out["panel"] = rect(QRect(win.query_panel.mapToGlobal(QPoint(0, 0)), win.query_panel.size()))
    out["floating"] = rect(win.settings_dock.frameGeometry())
    win.settings_dock.setFloating(False)  # docked
    pump()
    out["docked_window"] = rect(win.frameGeometry())
    out["dock"] = rect(win.settings_dock.geometry())
    win.close()
    pump()
    again = SearchWindow(workspace, client, device="cpu", settings=settings)  # the next start remembers
    again.show()
    pump()
    out["next_start"] = rect(again.frameGeometry())
    again.close()
    client.shutdown()
    print(json.dumps(out))
''')


def _on_screen(tmp_path, workspace, width, height) -> dict:
    config = tmp_path / f"screen-{width}.json"
    config.write_text(json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": width, "height": height,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", SCREEN_SCRIPT, str(workspace.root), str(tmp_path / f"{width}.ini")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _right(r) -> int:
    return r[0] + r[2]


def _overlap(a, b) -> bool:
    return QRect(*a).intersects(QRect(*b))


def test_settings_stays_on_the_screen_and_clear_of_the_query_panel(tmp_path, demo_workspace):
    """On a 1600 px screen a 1400 px window stayed 1400 px when Settings docked (it grew to 1889 and came
    back that wide on the next start); on a 1280 px screen the window is made to fit first."""
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(demo_workspace.root, ws.root)
    for width, height in ((1600, 900), (1280, 800)):
        got = _on_screen(tmp_path, ws, width, height)
        screen = got["screen"]
        decorations = got["window"][2] - got["width"]
        assert got["width"] == min(1400, screen[2] - decorations), got
        assert not _overlap(got["floating"], got["panel"]), got  # Settings does not hide the query
        assert _right(got["floating"]) <= _right(screen), got
        assert _right(got["docked_window"]) <= _right(screen), got  # docking never goes past the screen
        assert got["docked_window"][2] == got["window"][2], got  # ... and takes its room from the results
        assert got["dock"][2] >= 200, got
        assert _right(got["next_start"]) <= _right(screen), got  # so no wider width is remembered


def test_the_catalog_grid_lays_out_whole_cells_before_its_thumbnails_arrive(qtbot, demo_workspace):
    """A filter change used to lay the grid out from a first row without its picture: slivers and blank
    cells until the window was resized."""
    with Catalog.open(demo_workspace.catalog_path) as catalog:
        window = MainWindow(demo_workspace, catalog)
        qtbot.addWidget(window)
        window.category_box.setCurrentText("bag")  # before anything was painted: no thumbnail is cached
        window.show()
        qtbot.waitExposed(window)
        rows = [window.model.index(r) for r in range(min(window.model.rowCount(), 8))]
        qtbot.waitUntil(lambda: all(i.data(Qt.DecorationRole) is not None for i in rows), timeout=10_000)
        qtbot.wait(50)
        laid_out = [window.view.visualRect(i) for i in rows]
        assert all(r.width() >= THUMB and r.height() >= THUMB for r in laid_out), laid_out
        window.resize(window.width() + 40, window.height())  # what used to repair it
        qtbot.wait(50)
        assert [window.view.visualRect(i).size() for i in rows] == [r.size() for r in laid_out]
        window.close()
        assert window.thumbnails.wait(5000)


def test_the_toolbar_keeps_its_actions_after_twenty_turns(qtbot, open_window, trained_workspace):
    """The breadcrumb used to grow with each turn until, after about 7, it pushed Settings off the toolbar."""
    win = open_window(trained_workspace, k=4)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    bar = win.findChild(type(win.addToolBar("probe")), "sessionToolbar")
    win.use_as_query(3)
    qtbot.waitUntil(lambda: len(win.session) == 1, timeout=30_000)
    colours = win.engine_info["values"]["colour"]
    patterns = win.engine_info["values"]["pattern"]
    for turn in range(2, 21):
        win.state.set_edit("colour", colours[turn % len(colours)])
        win.state.set_edit("pattern", patterns[turn % len(patterns)])
        win.search_edits()
        qtbot.waitUntil(lambda n=turn: len(win.session) == n, timeout=30_000)
        qtbot.wait(10)
        for action in (win.settings_action, win.undo_action, win.browse_action):
            button = bar.widgetForAction(action)
            assert button.isVisible() and bar.rect().contains(button.geometry()), (turn, action.text())
    assert win.breadcrumb.hidden > 0 and "\u2026" in win.breadcrumb.text()  # the oldest turns make room
    assert "<b>" in win.breadcrumb.text()  # the current turn is still shown
    assert win.breadcrumb.toolTip().count("\u203a") >= 5  # the tooltip lists the turns


@pytest.fixture
def bare_window(qtbot, demo_workspace, tmp_path):
    """A shown search window on a copy of the demo workspace (no engine opened); its client is shut down after."""
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(demo_workspace.root, ws.root)
    client = EngineClient()
    win = SearchWindow(ws, client, device="cpu")
    qtbot.addWidget(win)
    win.show()
    yield win, client
    win.close()
    assert client.shutdown()


def test_quit_is_ctrl_q_and_in_the_file_menu(qtbot, bare_window):
    win, _ = bare_window
    qtbot.waitExposed(win)
    win.windowHandle().requestActivate()  # a shortcut needs its window active
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    file_menu = win.menuBar().actions()[0].menu()
    assert win.quit_action in file_menu.actions() and win.quit_action.shortcut().toString() == "Ctrl+Q"
    qtbot.keyClick(win, Qt.Key_Q, Qt.ControlModifier)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=5000)


def test_the_empty_query_placeholder_fits_its_square(bare_window):
    win, _ = bare_window
    label = win.query_label
    room = label.contentsRect().adjusted(label.margin(), label.margin(), -label.margin(), -label.margin())
    flags = int(label.alignment()) | (int(Qt.TextWordWrap) if label.wordWrap() else 0)
    used = label.fontMetrics().boundingRect(room, flags, label.text())
    assert label.text() and room.contains(used), (room, used)
