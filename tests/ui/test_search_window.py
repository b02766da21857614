"""The search window against a small real engine: drop a query, edit attributes, undo/redo, errors."""
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.results_model import ItemIdRole  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


@pytest.fixture
def window(qtbot, trained_workspace, tmp_path):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(trained_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    client = EngineClient()
    win = SearchWindow(ws, client, k=12)
    qtbot.addWidget(win)
    with qtbot.waitSignal(client.opened, timeout=120_000):
        client.open(ws, "cpu")
    yield win
    win.close()
    assert client.shutdown() and not client.thread.isRunning()
    assert win.thumbnails.wait(5000) and win.query_thumbnails.wait(5000)


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
    box = win._attribute_boxes["colour"]
    new = next(box.itemData(i) for i in range(1, box.count()) if box.itemData(i) != item.attributes["colour"])
    box.setCurrentIndex(box.findData(new))
    _wait_turns(qtbot, win, 2)
    hits = [win.results_model.hit(r) for r in range(win.results_model.rowCount())]
    assert [h.item_id for h in hits] != first
    assert all(h.matches == {"colour": h.attributes.get("colour") == new} for h in hits)
    caption = win.results_model.index(0).data()
    assert ("\u2713colour" if hits[0].matches["colour"] else "\u2717colour") in caption
    assert win.edits == {"colour": new} and "colour=" in win.breadcrumb.text()

    win.undo_action.trigger()
    assert [win.results_model.hit(r).item_id for r in range(12)] == first and win.edits == {}
    assert win.redo_action.isEnabled()
    win.redo_action.trigger()
    assert win.edits == {"colour": new}

    # a result becomes the next query
    next_id = win.results_model.hit(0).item_id
    win.use_as_query(next_id)
    _wait_turns(qtbot, win, 3)
    assert win.query.item_id == next_id and not win.redo_action.isEnabled()


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
