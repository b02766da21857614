"""The catalog browser and the first-run demo build, driven with pytest-qt on the offscreen platform."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QThreadPool, Qt  # noqa: E402
from PySide6.QtWidgets import QDialog  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.methods import get_method  # noqa: E402
from fashion_gui.ui.catalog_model import ItemIdRole  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.first_run import FIRST_RUN_METHODS, DemoBuildDialog  # noqa: E402
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


def test_first_run_builds_the_demo_and_its_models_in_child_processes(qtbot, tmp_path):
    """``fashion catalog demo``, then ``fashion train`` of each first-run method, one child process after
    another, then the engine worker builds the indexes; the bar covers all steps and names the one running."""
    ws = Workspace(tmp_path / "ws")
    client = EngineClient()
    values = {"adde": {"epochs": 1, "manip_epochs": 1, "image_size": 32, "d": 16, "triplets_per_epoch": 16},
              "uigr-tirg": {"epochs": 1, "image_size": 32, "embed_dim": 32, "word_dim": 16, "text_hidden": 32},
              "adde-o": {"epochs": 1}}
    dialog = DemoBuildDialog(ws, client, catalog_flags=["--items", "240", "--size", "48", "--workers", "1"],
                             values=values, device="cpu")
    qtbot.addWidget(dialog)
    seen = []
    dialog.progressed.connect(lambda value, label: seen.append((value, label)))
    try:
        assert dialog.exec() == QDialog.Accepted, dialog.error
    finally:
        assert client.shutdown()
    assert ws.exists() and dialog.error is None and not dialog.is_running()

    # every step a child process, in order, each finished; every model where its method puts it
    assert [run.args[:2] for run in dialog.runs] == [["catalog", "demo"], *(["train", m] for m in FIRST_RUN_METHODS)]
    assert all(run.outcome == "finished" and run.exit_code == 0 for run in dialog.runs)
    for name in FIRST_RUN_METHODS:
        spec = get_method(name)
        folder = ws.checkpoints / spec.default_checkpoint(spec.make_config(values[name]))
        assert (folder / "weights.pt").is_file(), name
    assert not list(ws.checkpoints.glob(".run-*"))
    # the indexes were built, so the first search does not wait for them
    assert (ws.indexes / FIRST_RUN_METHODS[0] / "full" / "manifest.json").is_file()

    # one bar over the whole build, never moving back, each step named
    values_seen = [v for v, _ in seen]
    assert values_seen == sorted(values_seen) and values_seen[-1] > 800 and dialog.value() == 1000
    steps = list(dict.fromkeys(label.splitlines()[1] for _, label in seen))
    assert steps == ["step 1 of 5: rendering the demo catalog",
                     "step 2 of 5: training the attribute model (adde)",
                     "step 3 of 5: training the model for text feedback and items that go with this (uigr-tirg)",
                     "step 4 of 5: training the model for items that go with this (adde-o)",
                     "step 5 of 5: building the search indexes"]
    assert any("stage 2 of 2: memory-block manipulation" in label for _, label in seen)
    assert QThreadPool.globalInstance().activeThreadCount() == 0


def test_first_run_reports_a_failed_step_and_stops(qtbot, tmp_path):
    """A step that fails ends the build with its message; the later steps never start."""
    ws = Workspace(tmp_path / "ws")
    client = EngineClient()
    dialog = DemoBuildDialog(ws, client, catalog_flags=["--items", "240", "--size", "48", "--workers", "1"],
                             methods=("adde-o", "adde"), values={"adde-o": {"epochs": 1}}, device="cpu")
    qtbot.addWidget(dialog)
    try:
        assert dialog.exec() == QDialog.Rejected
    finally:
        assert client.shutdown()
    assert dialog.error.startswith("Training adde-o failed (exit code 2).")
    assert "ADDE-O needs a trained ADDE model" in dialog.error
    assert [run.outcome for run in dialog.runs] == ["finished", "failed", "idle"] and not dialog.is_running()


def test_closing_the_first_run_dialog_asks_then_cancels_the_running_step(qtbot, tmp_path):
    """The window's close button (and the Cancel button) asks first ("Keep going" leaves the build running);
    Stop cancels the running child process, and a catalog cut short leaves no workspace behind."""
    ws = Workspace(tmp_path / "ws")
    client = EngineClient()
    dialog = DemoBuildDialog(ws, client, catalog_flags=["--items", "1800", "--size", "128", "--workers", "1"],
                             device="cpu")
    qtbot.addWidget(dialog)
    catalog = dialog.runs[0]
    asked = []

    def answer(*_args) -> None:  # once it renders: close, keep going, close again, stop
        if asked or not dialog.isVisible():
            return
        dialog.close()
        first = dialog.confirmation
        asked.append(first)
        first.defaultButton().click()  # "Keep going"
        assert catalog.is_running() and dialog.confirmation is None and dialog.isVisible()
        dialog.cancel_button.click()  # the Cancel button asks the same question
        assert dialog.confirmation is not None and catalog.is_running()
        dialog.stop_button.click()

    catalog.progress.connect(answer)
    try:
        assert dialog.exec() == QDialog.Rejected
    finally:
        assert client.shutdown()
    assert asked and catalog.outcome == "cancelled" and not dialog.is_running() and dialog.cancelled
    assert dialog.error == "The first run was cancelled before the demo workspace was ready."
    assert all(run.outcome == "idle" for run in dialog.runs[1:]) and not ws.exists()
