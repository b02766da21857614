"""The catalog browser and the first-run demo build, driven with pytest-qt on the offscreen platform."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QThreadPool, Qt  # noqa: E402
from PySide6.QtWidgets import QDialog  # noqa: E402

from fashion_gui.catalog.demo.builder import DemoConfig  # noqa: E402
from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.ui.catalog_model import ItemIdRole  # noqa: E402
from fashion_gui.training.adde import ADDETrainConfig  # noqa: E402
from fashion_gui.training.outfit import OutfitTrainConfig  # noqa: E402
from fashion_gui.training.uigr import UIGRTrainConfig  # noqa: E402
from fashion_gui.ui.first_run import DEMO_MODEL, DEMO_OUTFIT_MODEL, DEMO_TEXT_MODEL, DemoBuildDialog  # noqa: E402
from fashion_gui.ui.main_window import MainWindow  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


def test_filters_narrow_the_grid_and_thumbnails_load(qtbot, demo_workspace):
    with Catalog.open(demo_workspace.catalog_path) as catalog:
        window = MainWindow(demo_workspace, catalog)
        qtbot.addWidget(window)
        window.show()
        assert window.model.rowCount() == 300
        window.category_box.setCurrentText("shoes")
        shoes = window.model.rowCount()
        assert 0 < shoes < 300
        window.value_boxes["colour"].setCurrentText("navy")
        ids = [window.model.index(r).data(ItemIdRole) for r in range(window.model.rowCount())]
        assert all(catalog.item(i).category == "shoes" and catalog.item(i).attributes["colour"] == "navy" for i in ids)
        assert "of 300 items shown" in window.statusBar().currentMessage()
        window.category_box.setCurrentText("any")
        window.value_boxes["colour"].setCurrentText("any")
        first = window.model.index(0)
        assert first.data(Qt.ToolTipRole).startswith("<b>")
        first.data(Qt.DecorationRole)  # schedules the decode
        qtbot.waitUntil(lambda: first.data(Qt.DecorationRole) is not None, timeout=5000)
        assert not first.data(Qt.DecorationRole).isNull()
        window.close()
        assert window.thumbnails.wait(5000)


def test_first_run_dialog_builds_the_demo_and_its_model(qtbot, tmp_path):
    ws = Workspace(tmp_path / "ws")
    tiny = ADDETrainConfig(epochs=1, manip_epochs=1, image_size=32, d=16, triplets_per_epoch=16, device="cpu")
    composed = UIGRTrainConfig(epochs=1, image_size=32, embed_dim=32, word_dim=16, text_hidden=32, device="cpu")
    outfit = OutfitTrainConfig(epochs=1, device="cpu")
    dialog = DemoBuildDialog(ws, DemoConfig(items=240, size=48, workers=1), train=tiny, composed=composed,
                             outfit=outfit)
    qtbot.addWidget(dialog)
    assert dialog.exec() == QDialog.Accepted, dialog.error
    assert ws.exists() and dialog.error is None
    for name in (DEMO_MODEL, DEMO_TEXT_MODEL, DEMO_OUTFIT_MODEL):
        assert (ws.checkpoints / name / "weights.pt").is_file(), name
    # the indexes were built, so the first search does not wait for them
    assert (ws.indexes / DEMO_MODEL / "full" / "manifest.json").is_file()
    assert (ws.indexes / DEMO_TEXT_MODEL / "tgr" / "manifest.json").is_file()
    assert not dialog._thread.isRunning()
    assert QThreadPool.globalInstance().activeThreadCount() == 0
