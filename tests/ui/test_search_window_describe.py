"""Starting a session without a picture (Ctrl+D): attribute values or a category, answered by the
cooperative model beside the workspace's ADDE encoder; the results continue as any other turn."""
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtWidgets import QDialogButtonBox  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.methods import get_method  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


@pytest.fixture(scope="module")
def coop_workspace(trained_workspace, tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("describe_ws") / "ws")
    shutil.copytree(trained_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    get_method("cooperative").create_trainer(ws, ws.checkpoints / "cooperative", epochs=3, image_size=48, n=16,
                                             batch_size=48, lr=2e-3, device="cpu", seed=0).run()
    return ws


def test_a_session_started_from_attribute_values_continues_as_any_other(qtbot, open_window, coop_workspace):
    win = open_window(coop_workspace, k=12)
    assert win.engine_info["models"]["attribute_values"] == "cooperative"
    dialog = win.describe()
    ok = dialog.buttons.button(QDialogButtonBox.Ok)
    assert not ok.isEnabled()  # nothing picked yet
    dialog.set_choice({"colour": "red"}, "dress")
    assert ok.isEnabled() and dialog.choice() == ({"colour": "red"}, "dress")
    ok.click()
    qtbot.waitUntil(lambda: len(win.session) == 1, timeout=30_000)
    turn = win.session.current
    assert turn.query is None and turn.label == "colour=red (dress only)"
    hits = [win.results_model.hit(r) for r in range(win.results_model.rowCount())]
    assert len(hits) == 12 and all(h.category == "dress" for h in hits)
    with Catalog.open(win.workspace.catalog_path) as catalog:
        ids = catalog.ids(category="dress")
        red = int((catalog.labels(ids)[:, catalog.schema.type_index("colour")]
                   == catalog.schema.type("colour").index("red")).sum())
    assert red >= 2 and sum(h.matches["colour"] for h in hits) >= min(red, 12) // 2, red
    assert "No picture" in win.query_label.text() and "colour=red" in win.breadcrumb.text()
    assert win.kind_label.text() == "Showing: items with these attribute values (no picture)"

    # a category alone ("typical coats"), then a result becomes the next query; undo walks back
    win.search_description({}, "coat")
    qtbot.waitUntil(lambda: len(win.session) == 2, timeout=30_000)
    assert win.results_model.hit(0).category == "coat" and win.session.current.label == "typical coat"
    item = win.results_model.hit(0).item_id
    win.use_as_query(item)
    qtbot.waitUntil(lambda: len(win.session) == 3, timeout=30_000)
    assert win.query.item_id == item and win.results_model.rowCount() == 12
    assert win.attribute_form.rowCount() > 0  # the item's values, to edit
    win.undo_action.trigger()
    assert win.query is None and win.results_model.hit(0).category == "coat"
    assert win.attribute_form.rowCount() == 0  # no picture: no garment's lists left over
    win.redo_action.trigger()
    assert win.query.item_id == item
    qtbot.waitUntil(lambda: win.attribute_form.rowCount() > 0, timeout=10_000)


def test_without_a_model_for_it_the_dialog_says_what_to_train(qtbot, open_window, trained_workspace):
    win = open_window(trained_workspace, k=6)
    dialog = win.describe()
    dialog.set_choice({"colour": "red"})
    assert not dialog.buttons.button(QDialogButtonBox.Ok).isEnabled()
    assert "train cooperative" in dialog.hint.text()
    dialog.reject()
