"""The loop a shopper touches first (issue 18), in the search window against a small real engine: the notice
when nothing has the asked values, captions with the category, "Goes with" and the style path starting from
the query, the model's prediction beside a differing catalog label, every recent query with its picture."""
import os
from collections import Counter
from itertools import product

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.engine import EngineConfig  # noqa: E402
from fashion_gui.engine.edits import EditPolicy  # noqa: E402
from fashion_gui.ui.app_settings import AppSettings  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.results_model import AlternativeRole  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow, prediction_text  # noqa: E402
from fashion_gui.ui.style import apply_style  # noqa: E402

K = 8


@pytest.fixture
def settings(tmp_path):
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


def _turns(qtbot, win, n):
    qtbot.waitUntil(lambda: len(win.session) >= n, timeout=30_000)


def _edits_with(catalog, item, wanted):
    """Colour and pattern values (both other than the item's) that ``wanted(count)`` accepts, where count is
    how many catalog items of the item's category have both."""
    schema = catalog.schema
    ids = catalog.ids(category=item.category)
    have = Counter((catalog.item(int(i)).attributes.get("colour"), catalog.item(int(i)).attributes.get("pattern"))
                   for i in ids if int(i) != item.id)
    for colour, pattern in product(schema.type("colour").values, schema.type("pattern").values):
        if colour != item.attributes.get("colour") and pattern != item.attributes.get("pattern") \
                and wanted(have[(colour, pattern)]):
            return {"colour": colour, "pattern": pattern}, have[(colour, pattern)]
    raise LookupError("no such edit in this catalog")


def test_nothing_matches_gives_a_notice_and_marks_the_alternatives(qtbot, open_window, trained_workspace):
    """With the catalog's labels deciding (Settings > Search: labels), an edit no item of the category has
    shows the banner and every result marked as an alternative; fewer matches than k mark the rest."""
    win = open_window(trained_workspace, k=K, config=EngineConfig(edits=EditPolicy(ranking="labels")))
    win.show()
    with Catalog.open(win.workspace.catalog_path) as catalog:
        item = catalog.item(int(catalog.ids(split="test", category="dress")[0]))
        none, _ = _edits_with(catalog, item, lambda n: n == 0)
        few, count = _edits_with(catalog, item, lambda n: 0 < n < K)
        plenty, _ = _edits_with(catalog, item, lambda n: n >= K)
    win.use_as_query(item.id)
    _turns(qtbot, win, 1)
    assert win.notice.isHidden()

    for name, value in none.items():
        win.state.set_edit(name, value)
    win.search_edits()
    _turns(qtbot, win, 2)
    results = win.session.current.results
    assert results.alternatives_from == 0 and win.notice.isVisible()
    text = win.notice.text()
    assert "No item has" in text and f"colour {none['colour']}" in text and "alternative" in text
    rows = range(win.results_model.rowCount())
    assert rows and all(win.results_model.index(r).data(AlternativeRole) for r in rows)
    assert "nearest alternative" in win.results_model.index(0).data(Qt.ToolTipRole)

    win.state.reset_edits()
    for name, value in few.items():
        win.state.set_edit(name, value)
    win.search_edits()
    _turns(qtbot, win, 3)
    assert win.session.current.results.alternatives_from == count and win.notice.isVisible()
    assert f"from #{count + 1} on" in win.notice.text()
    marked = [win.results_model.index(r).data(AlternativeRole) for r in range(win.results_model.rowCount())]
    assert marked == [False] * count + [True] * (win.results_model.rowCount() - count)
    assert all(win.results_model.hit(r).matched_all for r in range(count))

    win.state.reset_edits()
    for name, value in plenty.items():
        win.state.set_edit(name, value)
    win.search_edits()
    _turns(qtbot, win, 4)
    assert win.session.current.results.alternatives_from is None and win.notice.isHidden()
    win.undo_action.trigger()  # the banner follows the turn on screen
    assert win.notice.isVisible() and f"from #{count + 1} on" in win.notice.text()


def test_captions_goes_with_path_source_and_the_predicted_value(qtbot, open_window, trained_workspace):
    win = open_window(trained_workspace, k=K)
    with Catalog.open(win.workspace.catalog_path) as catalog:
        categories = list(catalog.schema.categories)
        worn = Counter()
        for outfit in catalog.outfits():
            kinds = {catalog.item(i).category for i in outfit.item_ids}
            if "dress" in kinds:
                worn.update(kinds - {"dress"})
        dress, other_dress = (int(i) for i in catalog.ids(split="test", category="dress")[:2])
        shoe = int(catalog.ids(split="test", category="shoes")[0])
        test_items = [int(i) for i in catalog.ids(split="test")[:40]]
    qtbot.waitUntil(lambda: bool(win.partners), timeout=10_000)  # read from the outfits on the worker thread

    win.use_as_query(dress)
    _turns(qtbot, win, 1)
    apply_style(QApplication.instance())  # the app's look: the square has a 1 px border
    label = win.query_label  # the query's picture is cut neither by the border nor by the placeholder's margin
    qtbot.waitUntil(lambda: label.pixmap() is not None and not label.pixmap().isNull(), timeout=10_000)
    room = label.contentsRect().adjusted(label.margin(), label.margin(), -label.margin(), -label.margin())
    picture = label.pixmap().deviceIndependentSize().toSize()
    assert picture.width() <= room.width() and picture.height() <= room.height(), (picture, room)
    hit = win.results_model.hit(0)
    first_line = f"{hit.category} \u00b7 {hit.score:.3f}"  # the category kept is checked on that line
    if "category" in hit.matches:
        first_line = ("\u2713" if hit.matches["category"] else "\u2717") + first_line
    assert win.results_model.index(0).data().splitlines()[0] == first_line
    top = max(worn, key=lambda c: (worn[c], -categories.index(c)))
    assert win.category_box.currentText() == top != "dress"  # the dress's most frequent outfit partner
    assert win.path_view.source.value() == dress  # the style path starts from the query

    win.category_box.setCurrentText("bag")  # the user's pick stays while the category does
    win.use_as_query(other_dress)
    _turns(qtbot, win, 2)
    assert win.category_box.currentText() == "bag" and win.path_view.source.value() == other_dress
    win.use_as_query(shoe)
    _turns(qtbot, win, 3)
    assert win.category_box.currentText() not in ("bag", "shoes") and win.path_view.source.value() == shoe

    # the attribute lists show the catalog's value; where the model predicts another, it says so
    for n, item_id in enumerate(test_items, start=4):
        win.use_as_query(item_id)
        _turns(qtbot, win, n)
        q = win.query
        differing = [a for a, v in q.attributes.items() if a in q.predicted and q.predicted[a][0] != v]
        if differing:
            break
    else:
        pytest.fail("the model agreed with the catalog on every attribute of 40 items")
    name = differing[0]
    predicted, confidence = q.predicted[name]
    box, note = win._attribute_boxes[name], win._attribute_notes[name]
    assert box.currentData() == q.attributes[name]
    assert note.isVisibleTo(win) and note.text() == f"model predicts {predicted} ({confidence:.0%})"
    assert box.toolTip() == f"catalog: {q.attributes[name]} \u00b7 model predicts: {predicted} ({confidence:.2f})"
    assert box.itemText(box.findData(predicted)).endswith(f"\u25cf predicted {confidence:.0%}")
    agreeing = [a for a, v in q.attributes.items() if a in q.predicted and q.predicted[a][0] == v]
    assert all(not win._attribute_notes[a].isVisibleTo(win) for a in agreeing)


def test_prediction_text():
    assert prediction_text("beige", "white", 0.62) == ("catalog: beige \u00b7 model predicts: white (0.62)", True)
    assert prediction_text("white", "white", 0.9) == ("catalog: white \u00b7 model predicts: white (0.90)", False)
    assert prediction_text(None, "white", 0.5) == ("model predicts: white (0.50)", False)  # an uploaded image


def test_every_recent_query_gets_its_picture(qtbot, open_window, trained_workspace, settings):
    """Only the entries whose picture happened to be decoded already had one; now each gets its own."""
    win = open_window(trained_workspace, k=4, settings=settings)
    for n, item_id in enumerate((5, 40, 80, 120), start=1):
        win.use_as_query(item_id)
        _turns(qtbot, win, n)
    win.close()
    client = EngineClient()
    again = SearchWindow(win.workspace, client, device="cpu", settings=settings)  # the next start
    qtbot.addWidget(again)
    try:
        again._fill_recent_menu()  # what opening the menu does; nothing was decoded in this window yet
        actions = again.recent_menu.actions()
        assert [a.text().split(" \u00b7 ")[0] for a in actions] == [f"item {i}" for i in (120, 80, 40, 5)]
        qtbot.waitUntil(lambda: all(not a.icon().isNull() for a in actions), timeout=10_000)
    finally:
        again.close()
        assert client.shutdown() and again.thumbnails.wait(5000)
