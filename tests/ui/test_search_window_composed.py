"""Text feedback and a target category in the search window, against a small real engine with a UIGR
model and an ADDE-O head (tests/conftest.py composed_workspace)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.engine import Compatible, TextFeedback  # noqa: E402


@pytest.fixture
def window(open_window, composed_workspace):
    return open_window(composed_workspace, k=10)


def _results(win):
    return [win.results_model.hit(r) for r in range(win.results_model.rowCount())]


def test_text_feedback_and_a_target_category(qtbot, window):
    win = window
    with Catalog.open(win.workspace.catalog_path) as catalog:
        item = catalog.item(int(catalog.ids(split="test", category="t-shirt")[0]))
        colours = catalog.schema.type("colour").values
    win.use_as_query(item.id)
    qtbot.waitUntil(lambda: len(win.session) == 1, timeout=30_000)
    assert "composed model" not in win.text_box.placeholderText()  # this workspace has one

    # text feedback: Enter in the text box; the chips check the colour the text asked for
    new = next(c for c in colours if c != item.attributes["colour"])
    win.text_box.setText(f"change colour to {new}")
    win.text_box.returnPressed.emit()
    qtbot.waitUntil(lambda: len(win.session) == 2, timeout=30_000)
    turn = win.session.current
    assert isinstance(turn.request, TextFeedback) and turn.results.requested == {"colour": new}
    hits = _results(win)
    assert len(hits) == 10 and item.id not in [h.item_id for h in hits]
    assert all(h.matches == {"colour": h.attributes["colour"] == new} for h in hits)
    assert ("\u2713colour" if hits[0].matches["colour"] else "\u2717colour") in win.results_model.index(0).data()
    assert "TGR" in win.status_time.text() and new in win.breadcrumb.text()
    assert win.state.kind == "text" and win.kind_label.text() == "Showing: text feedback"

    # a target category: "Goes with" shoes gives shoes only, best first
    win.category_box.setCurrentText("shoes")
    win.compatible_button.click()
    qtbot.waitUntil(lambda: len(win.session) == 3, timeout=30_000)
    assert isinstance(win.session.current.request, Compatible)
    hits = _results(win)
    assert len(hits) == 10 and all(h.category == "shoes" for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert "shoes to go with it" in win.breadcrumb.text()
    assert win.state.kind == "compatible" and win.kind_label.text() == "Showing: items that go with this"
    assert win.text_box.text() == ""  # another kind of search: the text box no longer claims its text

    # the query stayed the t-shirt throughout; undo walks back to the text turn
    assert win.query.item_id == item.id
    win.undo_action.trigger()
    assert isinstance(win.session.current.request, TextFeedback) and win.kind_label.text() == "Showing: text feedback"
    assert win.text_box.text() == f"change colour to {new}"  # the text of the turn on screen
    assert all(h.matches == {"colour": h.attributes["colour"] == new} for h in _results(win))
