"""The search window against a small real engine: drop a query, edit attributes, undo/redo, errors."""
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.ui.results_model import ItemIdRole  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


@pytest.fixture
def window(open_window, trained_workspace):
    return open_window(trained_workspace, k=12)


def _wait_turns(qtbot, win, n):
    qtbot.waitUntil(lambda: len(win.session) >= n, timeout=30_000)


def _drop(win, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    win.dropEvent(event)


def test_drop_a_query_edit_an_attribute_then_undo_and_redo(qtbot, window):
    win = window
    with Catalog.open(win.workspace.catalog_path) as catalog:
        item = catalog.item(int(catalog.ids(split="test")[2]))
    _drop(win, win.workspace.resolve_image(item.image_path))
    _wait_turns(qtbot, win, 1)
    assert win.query.item_id == item.id and win.results_model.rowCount() == 12
    qtbot.waitUntil(lambda: win.query_label.pixmap() is not None and not win.query_label.pixmap().isNull(),
                    timeout=10_000)  # the query picture, decoded off the GUI thread
    assert item.id not in [win.results_model.hit(r).item_id for r in range(12)]
    first = [win.results_model.hit(r).item_id for r in range(12)]

    # pick another colour in the attribute panel: the results change and every chip agrees with the item
    # (an edit keeps the garment type, so its category is asked for too)
    box = win._attribute_boxes["colour"]
    new = next(box.itemData(i) for i in range(1, box.count()) if box.itemData(i) != item.attributes["colour"])
    box.setCurrentIndex(box.findData(new))
    _wait_turns(qtbot, win, 2)
    hits = [win.results_model.hit(r) for r in range(win.results_model.rowCount())]
    assert [h.item_id for h in hits] != first
    assert all(h.matches == {"colour": h.attributes.get("colour") == new, "category": h.category == item.category}
               for h in hits)
    caption = win.results_model.index(0).data()
    assert ("\u2713colour" if hits[0].matches["colour"] else "\u2717colour") in caption
    assert win.edits == {"colour": new} and "colour=" in win.breadcrumb.text()

    win.undo_action.trigger()
    assert [win.results_model.hit(r).item_id for r in range(12)] == first and win.edits == {}
    assert win.redo_action.isEnabled() and box.currentData() == item.attributes["colour"]
    assert not box.font().bold() and "<b>similar</b>" in win.breadcrumb.text()
    win.redo_action.trigger()
    assert win.edits == {"colour": new} and box.currentData() == new and box.font().bold()

    # the widgets follow the view-model, whoever changes it
    win.state.undo()
    assert [win.results_model.hit(r).item_id for r in range(12)] == first and box.currentData() != new
    assert not win.undo_action.isEnabled() and win.redo_action.isEnabled()
    win.state.redo()
    assert win.edits == {"colour": new} and win.kind_label.text().startswith("Showing: attribute edits")

    # a result becomes the next query
    next_id = win.results_model.hit(0).item_id
    win.use_as_query(next_id)
    _wait_turns(qtbot, win, 3)
    assert win.query.item_id == next_id and not win.redo_action.isEnabled()

    # "same category only" keeps the garment type for the edits
    box = win._attribute_boxes["colour"]
    box.setCurrentIndex(box.findData(new))
    _wait_turns(qtbot, win, 4)
    win.same_category.setChecked(True)
    _wait_turns(qtbot, win, 5)
    hits = [win.results_model.hit(r) for r in range(win.results_model.rowCount())]
    assert len(hits) == 12 and all(h.category == win.query.category for h in hits)
    assert win.session.current.request.category == win.query.category and win.edits == {"colour": new}


def test_similar_in_and_errors_are_dialogs_not_crashes(qtbot, window, tmp_path):
    win = window
    win.use_as_query(1)
    _wait_turns(qtbot, win, 1)
    win.similar_box.setCurrentText("pattern")
    win.similar_button.click()
    _wait_turns(qtbot, win, 2)
    assert "pattern" in win.breadcrumb.text()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    win.load_image(str(bad))
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=30_000)
    assert "broken.jpg" in win.last_error
    assert len(win.session) == 2  # the failed query changed nothing
    win.last_error = None
    win.text_box.setText("change colour to red")
    win.text_box.returnPressed.emit()  # no composed model in this workspace: a clear message
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=30_000)
    assert "not available with this model" in win.last_error and len(win.session) == 2


def test_the_catalog_browser_feeds_the_search(qtbot, window):
    win = window
    win.browse_action.trigger()
    browser = win.browser
    assert browser.isVisible() and browser.model.rowCount() == 600
    browser.category_box.setCurrentText("shoes")
    index = browser.model.index(0)
    item_id = index.data(ItemIdRole)
    browser.view.doubleClicked.emit(index)
    _wait_turns(qtbot, win, 1)
    assert win.query.item_id == item_id and win.query.category == "shoes"


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from fashion_gui.ui.app_settings import AppSettings

    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


def test_results_context_menu_keyboard_and_recent_queries(qtbot, open_window, trained_workspace, settings):
    win = open_window(trained_workspace, k=9, settings=settings)
    win.show()
    try:
        win.use_as_query(5)
        _wait_turns(qtbot, win, 1)
        menu = win.results_menu(2)
        labels = [a.text() for a in menu.actions()]
        assert labels[0] == "Use as query" and "Style path from the query to here" in labels
        target = win.results_model.hit(2)

        # "similar to this in pattern": the result becomes the query, searched in its pattern subspace
        similar = next(a for a in menu.actions() if a.menu() is not None).menu()
        assert [a.text() for a in similar.actions()] == win.engine_info["attributes"]
        next(a for a in similar.actions() if a.text() == "pattern").trigger()
        _wait_turns(qtbot, win, 2)
        assert win.query.item_id == target.item_id and win.session.current.results.space == "subspace:pattern"

        # "path to here": the style-path tab shows a chain from the query item to the chosen result
        far = win.results_model.hit(8)
        next(a for a in win.results_menu(8).actions() if a.text().startswith("Style path")).trigger()
        assert win.tabs.currentWidget() is win.path_view
        qtbot.waitUntil(lambda: win.path_view.result is not None, timeout=30_000)
        assert win.path_view.result.ids[0] == target.item_id and win.path_view.result.ids[-1] == far.item_id

        # keyboard: Ctrl+R focuses the results, Down moves, Enter makes the current result the query
        win.focus_results_action.trigger()
        assert win.tabs.currentIndex() == 0 and win.results.currentIndex().row() == 0
        qtbot.keyClick(win.results, Qt.Key_Right)
        chosen = win.results.currentIndex().data(ItemIdRole)
        assert win.results.currentIndex().row() == 1
        qtbot.keyClick(win.results, Qt.Key_Return)
        _wait_turns(qtbot, win, 3)
        assert win.query.item_id == chosen

        # recent queries: newest first, one entry per item, and they reopen
        recent = win.recent_queries()
        assert [r.item_id for r in recent] == [chosen, target.item_id, 5]
        win.open_recent(recent[2])
        _wait_turns(qtbot, win, 4)
        assert win.query.item_id == 5 and [r.item_id for r in win.recent_queries()][:2] == [5, chosen]
        win._fill_recent_menu()
        assert len(win.recent_menu.actions()) == 3
        win.k_box.setValue(17)
    finally:
        win.close()
    # closing remembered k, the workspace and the window state for the next start
    assert settings.k == 17 and settings.workspace == win.workspace.root and settings.window_state()[0] is not None


def test_reopening_with_another_model_keeps_the_query(qtbot, open_window, trained_workspace, settings):
    from fashion_gui.engine import EngineConfig

    win = open_window(trained_workspace, k=6, settings=settings)
    ws = win.workspace
    shutil.copytree(ws.checkpoints / "adde", ws.checkpoints / "adde-copy")
    client = win.client
    win.use_as_query(11)
    _wait_turns(qtbot, win, 1)
    before = win.session.current.results.ids
    with qtbot.waitSignal(client.opened, timeout=120_000) as opened:
        win.reopen(ws, "cpu", EngineConfig(encoder_model="adde-copy"))  # what Settings > Apply does
    assert opened.args[0]["encoder_model"] == "adde-copy"
    qtbot.waitUntil(lambda: len(win.session) == 1 and win.query is not None and win.query.item_id == 11,
                    timeout=30_000)
    assert win.session.current.results.ids == before  # same weights: same answer, from the new engine
    assert "adde-copy" in win.status_engine.text()
    assert settings.engine_config(ws.root).encoder_model == "adde-copy" and settings.device == "cpu"


def test_a_workspace_of_another_version_is_refused_with_a_clear_message(tmp_path, demo_workspace):
    import sqlite3

    from fashion_gui.workspace_checks import workspace_problem  # what the app checks at start

    assert workspace_problem(demo_workspace) is None
    ws = Workspace(tmp_path / "old")
    ws.root.mkdir()
    shutil.copy(demo_workspace.catalog_path, ws.catalog_path)
    with sqlite3.connect(ws.catalog_path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    problem = workspace_problem(ws)
    assert "schema version 99" in problem and "rebuild the catalog" in problem
    (tmp_path / "empty").mkdir()
    assert "not a workspace" in workspace_problem(Workspace(tmp_path / "empty"))
    assert "does not exist" in workspace_problem(Workspace(tmp_path / "missing"))


def test_a_model_trained_from_the_settings_pane_becomes_the_search_model(qtbot, open_window, trained_workspace):
    """Settings > Training: one epoch in a child process; when it ends the window reopens the engine with
    the new checkpoint (its gallery encoded and indexes built, with progress) and re-runs the query."""
    win = open_window(trained_workspace, k=6)
    client = win.client
    stages = []
    client.progress.connect(lambda stage, done, total: stages.append(stage))
    win.use_as_query(7)
    _wait_turns(qtbot, win, 1)
    win.settings_action.trigger()
    assert win.settings_dock.isVisible()
    pane = win.settings_pane
    assert pane.training.activate_check.isChecked()
    small = {"epochs": 1, "manip_epochs": 1, "image_size": 32, "d": 16, "batch_size": 64, "device": "cpu"}
    with qtbot.waitSignal(client.opened, timeout=240_000) as opened:
        assert pane.start_training("adde", small, name="adde-1ep")
    assert opened.args[0]["encoder_model"] == "adde-1ep"
    assert opened.args[0]["indexes"]["adde-1ep/full"]["status"] == "built"
    assert any("encode" in s for s in stages)  # the new model's gallery features, reported as progress
    qtbot.waitUntil(lambda: len(win.session) == 1 and win.query is not None and win.query.item_id == 7,
                    timeout=30_000)
    assert win.query.embedding.shape == (16 * len(win.engine_info["attributes"]),)  # the new model's space
    assert "adde-1ep" in win.status_engine.text() and not win.open_progress.isVisible()
    assert pane.search.encoder_box.currentData() == "adde-1ep"


def test_a_workspace_without_a_model_gives_a_dialog_and_the_window_keeps_running(qtbot, demo_workspace, tmp_path):
    from fashion_gui.ui.engine_worker import EngineClient
    from fashion_gui.ui.search_window import SearchWindow

    ws = Workspace(tmp_path / "untrained")
    shutil.copytree(demo_workspace.root, ws.root)
    client = EngineClient()
    win = SearchWindow(ws, client, device="cpu")
    qtbot.addWidget(win)
    with qtbot.waitSignal(client.open_failed, timeout=60_000):
        win.open_engine()
    assert "fashion train" in win.last_error and "Settings" in win.status_engine.text()
    win.use_as_query(3)  # nothing to search with: a message, not a crash
    qtbot.waitUntil(lambda: "no workspace is open" in win.last_error, timeout=10_000)
    assert len(win.session) == 0
    win.close()
    assert client.shutdown()
