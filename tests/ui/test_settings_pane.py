"""The settings pane with real child processes: a short training with live progress that the engine then
uses, cancel, a bad flag, apply, opening folders that are not workspaces, the demo and CSV imports."""
import csv
import os
import shutil
import sqlite3

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QProcess, Qt  # noqa: E402
from PySide6.QtWidgets import QFileDialog  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.engine import EngineConfig  # noqa: E402
from fashion_gui.engine.engine import INDEX_CONFIG_FILE, load_index_config  # noqa: E402
from fashion_gui.inference.checkpoint import list_checkpoints  # noqa: E402
from fashion_gui.ui.settings_pane import DemoRecipe, SettingsPane, scan_checkpoints  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

# one epoch per stage at 32 px with a small chunk: ~3 s of training after ~8 s of imports in the child
SMALL = ["--manip-epochs", "1", "--image-size", "32", "--d", "16", "--batch-size", "64", "--backbone", "compact",
         "--device", "cpu"]


@pytest.fixture
def ws(demo_workspace, tmp_path) -> Workspace:
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(demo_workspace.root, copy.root)
    return copy


@pytest.fixture
def pane(qtbot, ws):
    widget = SettingsPane(ws, "cpu")
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    yield widget
    widget.shutdown()
    for run in (widget.run, widget.job):
        assert run is None or (run.process.state() == QProcess.NotRunning and not run._kill_timer.isActive())


def _record(signal) -> list:
    calls = []
    signal.connect(lambda *args: calls.append(args))
    return calls


def test_a_one_epoch_training_shows_progress_and_becomes_the_model(qtbot, pane, ws):
    trained = _record(pane.checkpoint_trained)
    applied = _record(pane.apply_requested)
    values = []
    pane.progress_bar.valueChanged.connect(values.append)
    assert pane.attribute_box.count() == 1  # "Automatic" only: the copy has no checkpoint yet
    with qtbot.waitSignal(pane.apply_requested, timeout=60_000):
        assert pane.start_training("adde", 1, SMALL)
        assert not pane.start_button.isEnabled() and pane.cancel_button.isEnabled()
    run = pane.run
    assert run.process.state() == QProcess.NotRunning and run.outcome == "finished" and run.name == "adde"

    # live progress: rising values up to the end, a chart with both stages' losses and the val metrics
    assert len(values) >= 5 and values == sorted(values) and values[-1] == 1000
    assert pane.progress_bar.value() == 1000 and pane.progress_label.text() == "done: checkpoint adde"
    assert {("attributes", "loss"), ("manipulation", "loss"), ("manipulation", "mem")} <= set(pane.chart.loss_series)
    assert pane.chart.loss_series[("attributes", "loss")].count() == 3  # 180 train images / 64 per batch
    assert pane.chart.metric_series["attr_acc"].count() == 2 and pane.chart.point_count() > 20
    log = pane.log_view.toPlainText()
    assert log.startswith("$ fashion train adde --workspace") and "attributes epoch 1/1: cls " in log
    assert "| val_attr_acc " in log and "manipulation epoch 1/1" in log and "saved " in log

    # a real checkpoint, listed, announced and applied
    folder = ws.checkpoints / "adde"
    assert (folder / "weights.pt").stat().st_size > 10_000 and (folder / "config.json").is_file()
    assert not (folder / "state.pt").exists() and list_checkpoints(ws.checkpoints) == [folder]
    assert pane.attribute_box.findData("adde") == 1 and pane.attribute_box.currentData() == "adde"
    assert "manip. top-10" in pane.attribute_box.itemText(1)
    assert trained == [("adde", "attributes")]
    (got_ws, device, config), = applied
    assert got_ws == ws and device == "cpu" and isinstance(config, EngineConfig)
    assert config.attribute_model == "adde" and config.compatible_model == "auto"
    assert (ws.indexes / INDEX_CONFIG_FILE).is_file()
    assert pane.start_button.isEnabled() and not pane.cancel_button.isEnabled()


def test_cancel_stops_the_process_and_claims_no_checkpoint(qtbot, pane, ws):
    trained = _record(pane.checkpoint_trained)
    assert pane.start_training("adde", 200, SMALL, name="long")
    run = pane.run
    qtbot.waitUntil(lambda: pane.chart.point_count() > 0, timeout=60_000)  # it is training
    pid = run.process.processId()
    assert pid > 0
    with qtbot.waitSignal(run.cancelled, timeout=20_000):
        assert pane.cancel_training()
    assert run.process.state() == QProcess.NotRunning and run.outcome == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and reaped
    folder = ws.checkpoints / "long"
    assert not (folder / "weights.pt").exists() and not (folder / "config.json").exists()
    assert not folder.exists() or not list(folder.glob(".tmp-*"))
    assert list_checkpoints(ws.checkpoints) == [] and trained == [] and pane.last_error is None
    assert pane.attribute_box.count() == 1 and run.leftover  # what it left is said in the log
    assert run.leftover[-1] in pane.log_view.toPlainText() and pane.progress_label.text() == "Cancelled."

    # ready again: a new run starts (and a cancel during start-up works too)
    assert pane.start_button.isEnabled() and not pane.cancel_button.isEnabled() and not pane.cancel_training()
    assert pane.start_training("adde", 1, SMALL, name="again")
    assert pane.run is not run and pane.run.is_running()
    with qtbot.waitSignal(pane.run.cancelled, timeout=20_000):
        assert pane.cancel_training()
    assert pane.run.process.state() == QProcess.NotRunning and not (ws.checkpoints / "again").exists()


def test_a_bad_flag_gives_the_cli_error(qtbot, pane, ws):
    with qtbot.waitSignal(pane.start_button.clicked, timeout=1000):
        pane.extra_edit.setText("--no-such-flag 3 --device cpu")
        pane.epochs_box.setValue(1)
        qtbot.mouseClick(pane.start_button, Qt.LeftButton)
    with qtbot.waitSignal(pane.run.failed, timeout=60_000):
        pass
    assert pane.run.process.state() == QProcess.NotRunning and pane.run.exit_code == 2
    assert pane.last_error.startswith("Training adde failed (exit code 2).")
    assert "error: unrecognized arguments: --no-such-flag 3" in pane.last_error
    assert pane.progress_label.text() == "Failed." and pane.start_button.isEnabled()
    # unbalanced quotes never reach a process
    pane.extra_edit.setText('--name "open')
    previous = pane.run
    qtbot.mouseClick(pane.start_button, Qt.LeftButton)
    assert pane.run is previous and pane.last_error.startswith("Extra options: No closing quotation")


def test_apply_emits_the_choices_and_saves_the_index_parameters(qtbot, pane, ws):
    cuda = pane.device_box.findData("cuda")
    if not pane.devices["cuda"]:
        item = pane.device_box.model().item(cuda)
        assert not item.isEnabled() and "sees no CUDA GPU" in pane.device_box.itemData(cuda, Qt.ToolTipRole)
    assert pane.current_device() == "cpu"
    pane.device_box.setCurrentIndex(pane.device_box.findData("auto"))
    pane.index_widgets["M"].setValue(16)
    pane.index_widgets["ef_search"].setValue(123)
    pane.index_widgets["storage"].setCurrentText("float16")
    with qtbot.waitSignal(pane.apply_requested, timeout=1000) as blocker:
        qtbot.mouseClick(pane.apply_button, Qt.LeftButton)
    got_ws, device, config = blocker.args
    assert got_ws == ws and device == "auto"
    assert config == EngineConfig(attribute_model=None, composed_model=None, compatible_model="auto", index=None)
    saved = load_index_config(ws)
    assert (saved.M, saved.ef_search, saved.storage, saved.ef_construction) == (16, 123, "float16", 200)

    # an invalid value: a message, no signal, the file unchanged
    pane.index_widgets["M"].setValue(0)
    applied = _record(pane.apply_requested)
    assert not pane.apply()
    assert applied == [] and "M must be at least 1" in pane.last_error and load_index_config(ws).M == 16

    # a new pane shows the saved parameters
    other = SettingsPane(ws, "cpu")
    qtbot.addWidget(other)
    assert other.index_widgets["ef_search"].value() == 123 and other.current_index_config() == saved


def test_open_refuses_folders_that_are_not_workspaces(qtbot, pane, ws, tmp_path, monkeypatch):
    requested = _record(pane.workspace_requested)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not pane.open_workspace(empty)
    assert "is not a workspace: it has no catalog.sqlite" in pane.last_error and pane.workspace == ws

    # a catalog written by another version of the program
    other = Workspace(tmp_path / "other")
    shutil.copytree(ws.root, other.root)
    with sqlite3.connect(other.catalog_path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other.root))
    qtbot.mouseClick(pane.open_button, Qt.LeftButton)
    assert "has catalog schema version 99, this program reads version 1" in pane.last_error
    assert pane.workspace == ws and pane.folder_label.text() == str(ws.root) and requested == []

    # a pane opened on it says so instead of failing
    broken = SettingsPane(other, "cpu")
    qtbot.addWidget(broken)
    assert "schema version 99" in broken.catalog_label.text()

    # a real workspace: switched, announced
    good = Workspace(tmp_path / "good")
    shutil.copytree(ws.root, good.root)
    assert pane.open_workspace(good.root)
    assert requested == [(Workspace.at(good.root),)] and pane.folder_label.text() == str(good.root.resolve())
    assert pane.catalog_label.text().startswith("300 items (train 180, val 36, test 84)")


def test_checkpoints_of_another_catalog_are_listed_disabled(qtbot, ws):
    folder = ws.checkpoints / "foreign"
    folder.mkdir(parents=True)
    (folder / "weights.pt").write_bytes(b"")
    (folder / "config.json").write_text('{"format": 1, "method": "adde", "config": {}, '
                                        '"schema": {"types": [{"name": "hue"}]}}')
    info, = scan_checkpoints(ws)
    assert info.name == "foreign" and "another catalog schema" in info.problem
    pane = SettingsPane(ws, "cpu", EngineConfig(attribute_model="foreign"))
    qtbot.addWidget(pane)
    index = pane.attribute_box.findData("foreign")
    assert index == 1 and not pane.attribute_box.model().item(index).isEnabled()
    assert pane.attribute_box.currentIndex() == 0  # the configured model does not fit: automatic instead
    assert "retrain it on this workspace" in pane.attribute_box.itemData(index, Qt.ToolTipRole)


def test_engine_info_is_shown(qtbot, pane):
    pane.set_engine_info({"attribute_model": "adde", "method": "adde", "device": "cpu", "gallery_items": 300,
                          "composed": {"text_model": "uigr-tirg", "compatible_via": "uigr"},
                          "indexes": {"full": {"kind": "exact", "items": 300, "status": "built"}}})
    text = pane.active_label.text()
    assert "<b>adde</b> (adde) on <b>cpu</b>" in text and "text model uigr-tirg" in text
    assert "full: exact, 300 items, built" in text


def test_import_a_csv_folder(qtbot, pane, ws, demo_workspace, tmp_path):
    with Catalog.open(demo_workspace.catalog_path) as catalog:
        items = [catalog.item(int(i)) for i in catalog.ids()[:40]]
    table = tmp_path / "shop.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "category", "colour"])
        writer.writerows([(it.image_path, it.category, it.attributes.get("colour", "")) for it in items])
    requested = _record(pane.workspace_requested)
    pane.train_after_check.setChecked(False)

    # a CSV without a category column: the importer's message, nothing switched
    bad = tmp_path / "bad.csv"
    bad.write_text("path,colour\nimages/x.jpg,red\n")
    assert pane.import_catalog(bad, demo_workspace.root, tmp_path / "bad_ws")
    qtbot.waitUntil(lambda: pane.job is None, timeout=60_000)
    assert pane.last_error.startswith("Importing bad.csv failed (exit code 2).\nfashion catalog: error: cannot import")
    assert "- missing column(s) category" in pane.last_error and requested == [] and pane.workspace == ws
    assert not Workspace(tmp_path / "bad_ws").exists()

    with qtbot.waitSignal(pane.workspace_requested, timeout=60_000):
        assert pane.import_catalog(table, demo_workspace.root, tmp_path / "shop")
    new = Workspace.at(tmp_path / "shop")
    assert requested == [(new,)] and pane.workspace == new and pane.job is None
    with Catalog.open(new.catalog_path) as catalog:
        assert len(catalog) == 40 and list(catalog.schema.names) == ["colour"]
    assert pane.catalog_label.text().startswith("40 items") and "imported 40 items" in pane.job_log.toPlainText()
    assert not pane.import_catalog(table, demo_workspace.root, tmp_path / "shop")  # it holds a catalog now
    assert "already holds a catalog" in pane.last_error


@pytest.mark.slow
def test_create_the_demo_then_its_model(qtbot, pane, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    assert not pane.create_demo(full) and "is not an empty folder" in pane.last_error

    pane.demo_recipe = DemoRecipe(catalog_flags=["--items", "300", "--size", "64", "--seed", "7", "--workers", "1"],
                                  train_epochs=1, train_flags=SMALL)
    with qtbot.waitSignal(pane.workspace_requested, timeout=120_000) as blocker:
        assert pane.create_demo(tmp_path / "demo")
        assert not pane.start_button.isEnabled() and pane.job_cancel_button.isEnabled()
    new = Workspace.at(tmp_path / "demo")
    assert blocker.args == [new] and pane.workspace == new
    assert list_checkpoints(new.checkpoints) == [new.checkpoints / "adde"]
    assert pane.attribute_box.findData("adde") == 1 and pane.start_button.isEnabled()
    log = pane.job_log.toPlainText()
    assert "$ fashion catalog demo" in log and "$ fashion train adde" in log and "is ready" in log
