"""The style-path and typicality views against a small real engine: paths between items and to a category,
in the full space and in an attribute subspace, the largest step marked, errors as dialogs, items as queries,
and no thread left running."""
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.engine import Manipulate  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.filmstrip import LARGEST, HopRole, MarkRole  # noqa: E402
from fashion_gui.ui.path_view import PathView  # noqa: E402
from fashion_gui.ui.thumbnails import ThumbnailCache  # noqa: E402
from fashion_gui.ui.typicality_view import TypicalityView  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


@pytest.fixture
def engine(qtbot, trained_workspace, tmp_path):
    """(client, thumbnail cache, engine info, workspace) on a copy of the trained demo workspace."""
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(trained_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    client = EngineClient()
    thumbs = ThumbnailCache(64)
    with qtbot.waitSignal(client.opened, timeout=120_000) as opened:
        client.open(ws, "cpu")
    yield client, thumbs, opened.args[0], ws
    assert client.shutdown() and not client.thread.isRunning()
    assert thumbs.wait(5000)


def _view(qtbot, cls, engine):
    client, thumbs, info, _ = engine
    view = cls(client, thumbs)
    qtbot.addWidget(view)
    view.resize(1100, 330 if cls is PathView else 520)
    view.set_engine_info(info)
    view.show()
    qtbot.waitExposed(view)
    return view


def _first_of(ws, category):
    with Catalog.open(ws.catalog_path) as catalog:
        return int(catalog.ids(category=category)[0])


def _answer(qtbot, view):
    """Wait for the view's answer (or error) to its newest request."""
    view.result, view.last_error = None, None
    qtbot.waitUntil(lambda: view.result is not None or view.last_error is not None, timeout=30_000)
    assert view.last_error is None, view.last_error
    return view.result


def _colour_pixels(image, rect, colour):
    """How many pixels of ``rect`` in ``image`` have exactly ``colour``."""
    rgb = colour.rgb()
    return sum(image.pixel(x, y) == rgb for x in range(rect.left(), rect.right(), 2)
               for y in range(rect.top(), rect.bottom(), 2))


def test_a_path_between_two_categories_is_a_filmstrip_with_the_largest_step_marked(qtbot, engine):
    client, _, info, ws = engine
    view = _view(qtbot, PathView, engine)
    assert [view.space_box.itemData(i) for i in range(view.space_box.count())] == ["full", *info["attributes"]]
    source, target = _first_of(ws, "dress"), _first_of(ws, "shoes")
    view.set_source(source)
    view.set_target_item(target)
    view.find()
    # a search on the shared client does not cancel the path request (channels), nor is it taken for a path
    client.submit(lambda e: e.search(Manipulate(e.query_from_item(source), {}), 3), channel="search")
    path = _answer(qtbot, view)

    model = view.model
    rows = [model.index(r) for r in range(model.rowCount())]
    assert model.ids == path.ids and path.ids[0] == source and path.ids[-1] == target
    assert model.hit(0).category == "dress" and model.hit(len(rows) - 1).category == "shoes"
    assert rows[0].data().startswith(f"dress #{source}") and "source" in rows[0].data()
    assert rows[-1].data().startswith(f"shoes #{target}") and "target" in rows[-1].data()
    largest = int(np.argmax(path.steps))
    assert path.largest_step == largest and len(path.steps) == len(rows) - 1 >= 2
    assert [r.data(HopRole) for r in rows] == pytest.approx([*path.steps, None])
    assert [r.row() for r in rows if r.data(MarkRole)] == [largest, largest + 1] == model.marked_rows
    a, b = path.ids[largest], path.ids[largest + 1]
    status = view.status.text()
    assert f"{len(path.steps)} steps, largest step {path.steps[largest]:.2f} between #{a} and #{b}" in status
    assert "space: full" in status

    # the delegate paints the largest hop (arrow, outlines) in amber and no other item in that colour
    view.strip.scrollTo(rows[largest])
    qtbot.wait(50)
    image = view.strip.viewport().grab().toImage()
    ratio = image.devicePixelRatio()
    marked_rect = view.strip.visualRect(rows[largest])
    assert _colour_pixels(image, _scaled(marked_rect, ratio), LARGEST) > 50
    others = [r for r in rows if not r.data(MarkRole)
              and view.strip.viewport().rect().contains(view.strip.visualRect(r))]
    assert others and all(_colour_pixels(image, _scaled(view.strip.visualRect(r), ratio), LARGEST) == 0
                          for r in others)
    # the source and target pickers show their items' pictures (decoded off the GUI thread)
    qtbot.waitUntil(lambda: view.source.picture.pixmap() is not None and not view.source.picture.pixmap().isNull()
                    and view.source.hit is not None, timeout=10_000)
    assert view.source.hit.item_id == source and view.target_item.hit.item_id == target


def _scaled(rect, ratio):
    """A widget rectangle in device pixels."""
    return QRect(int(rect.x() * ratio), int(rect.y() * ratio), int(rect.width() * ratio), int(rect.height() * ratio))


def test_a_path_to_a_category_and_in_an_attribute_space(qtbot, engine):
    _, _, _, ws = engine
    view = _view(qtbot, PathView, engine)
    source = _first_of(ws, "dress")
    view.set_source(source)
    view.set_target_category("bag")
    assert view.category_radio.isChecked() and not view.target_item.isEnabled()
    view.find()
    path = _answer(qtbot, view)
    assert path.ids[0] == source and path.hits[-1].category == "bag" and path.target_category == "bag"
    assert view.model.ids == path.ids and view.model.hit(view.model.rowCount() - 1).category == "bag"
    assert "reachable bag" in view.status.text()

    view.set_space("colour")
    view.set_target_item(_first_of(ws, "coat"))
    assert view.item_radio.isChecked() and view.space_box.currentData() == "colour"
    view.find()
    colour_path = _answer(qtbot, view)
    assert colour_path.space == "colour" and colour_path.ids[-1] == _first_of(ws, "coat")
    assert view.model.ids == colour_path.ids and "space: colour" in view.status.text()
    assert view.model.marked_rows == [colour_path.largest_step, colour_path.largest_step + 1]


def test_a_bad_request_is_a_dialog_and_the_view_keeps_working(qtbot, engine):
    view = _view(qtbot, PathView, engine)
    # with no choice made, the view starts from a real source and target
    qtbot.waitUntil(lambda: view.source.value() > 0 and view.target_item.value() > 0, timeout=10_000)
    view.find()
    first = _answer(qtbot, view)
    assert first.ids[0] == view.source.value() and first.ids[-1] == view.target_item.value()

    good_source = view.source.value()
    view.set_source(999_999)
    qtbot.waitUntil(lambda: view.source.picture.text() == "?", timeout=10_000)  # the preview says: unknown
    view.find()
    qtbot.waitUntil(lambda: view.last_error is not None, timeout=30_000)
    assert "item 999999 is not in the searchable gallery" in view.last_error
    assert view.result is None and view.model.rowCount() == 0 and view.status.text().startswith("No path")
    boxes = [b for b in view.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1 and "999999" in boxes[0].text()
    boxes[0].accept()

    view.set_source(good_source)
    view.find()
    assert _answer(qtbot, view).ids == first.ids and view.model.ids == first.ids


def test_typicality_ranks_typical_first_and_shows_the_atypical(qtbot, engine):
    view = _view(qtbot, TypicalityView, engine)
    assert view.count == 12
    view.show_category("shoes")
    r = _answer(qtbot, view)
    assert r.category == "shoes" and r.space == "full" and len(r.hits) > 24
    assert list(r.distances) == sorted(r.distances) and r.distances[0] < r.distances[-1]
    assert {h.category for h in r.hits} == {"shoes"}
    ids = [h.item_id for h in r.hits]
    assert view.typical_model.ids == ids[:12]
    assert view.atypical_model.ids == ids[::-1][:12]  # most atypical first
    first, last = view.typical_model.index(0).data(), view.atypical_model.index(0).data()
    assert f"rank 1 \u00b7 d {r.distances[0]:.3f}" in first
    assert f"rank {len(r.hits)} \u00b7 d {r.distances[-1]:.3f}" in last
    assert f"from {r.distances[0]:.3f} (most typical) to {r.distances[-1]:.3f}" in view.status.text()

    view.set_count(5)  # re-split without asking the engine again
    assert view.typical_model.ids == ids[:5] and view.atypical_model.ids == ids[::-1][:5]

    view.show_category("bag", space="colour")
    bags = _answer(qtbot, view)
    assert bags.category == "bag" and bags.space == "colour" and view.space_box.currentData() == "colour"
    assert list(bags.distances) == sorted(bags.distances)
    assert view.typical_model.ids == [h.item_id for h in bags.hits][:5]

    view.show_category("hats")
    qtbot.waitUntil(lambda: view.last_error is not None, timeout=30_000)
    assert "unknown category 'hats'" in view.last_error and view.typical_model.rowCount() == 0


def _double_click(qtbot, view, index):
    """A real double-click: QTest's mouseDClick alone sends no first press, and Qt 6 item views only report a
    double-click on the item that was pressed."""
    pos = view.visualRect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=pos)
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=pos)


def test_double_click_enter_and_the_context_menu_use_an_item_as_the_query(qtbot, engine):
    _, _, _, ws = engine
    view = _view(qtbot, PathView, engine)
    view.set_source(_first_of(ws, "shirt"))
    view.set_target_item(_first_of(ws, "skirt"))
    view.find()
    path = _answer(qtbot, view)
    strip = view.strip
    strip.horizontalScrollBar().setValue(0)
    index = view.model.index(1)
    with qtbot.waitSignal(view.use_as_query, timeout=5_000) as used:
        _double_click(qtbot, strip, index)
    assert used.args == [path.ids[1]]

    strip.setCurrentIndex(view.model.index(0))
    with qtbot.waitSignal(view.use_as_query, timeout=5_000) as used:
        qtbot.keyClick(strip, Qt.Key_Return)
    assert used.args == [path.ids[0]]

    menu = strip.menu_for(view.model.index(2))
    actions = {a.text(): a for a in menu.actions()}
    with qtbot.waitSignal(view.use_as_query, timeout=5_000) as used:
        actions["Use as query"].trigger()
    assert used.args == [path.ids[2]]
    actions["Path to this item"].trigger()
    assert view.target_item.value() == path.ids[2] and view.item_radio.isChecked()

    typical = _view(qtbot, TypicalityView, engine)
    typical.show_category("coat")
    ranked = _answer(qtbot, typical)
    atypical = typical.atypical_strip
    index = typical.atypical_model.index(0)
    with qtbot.waitSignal(typical.use_as_query, timeout=5_000) as used:
        _double_click(qtbot, atypical, index)
    assert used.args == [ranked.hits[-1].item_id]
