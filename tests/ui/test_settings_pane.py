"""The settings pane with real child processes: the Training form built from the method registry, a short
training with progress over its stages that the engine then uses, cancel, a value or a training that is
refused, the model choosers, apply, opening folders that are not workspaces, the demo and CSV imports."""
import csv
import json
import os
import shutil
import sqlite3

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QProcess, Qt  # noqa: E402

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QLineEdit, QSpinBox  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.engine import EngineConfig  # noqa: E402
from fashion_gui.engine.edits import EDIT_RANKINGS, EditPolicy  # noqa: E402
from fashion_gui.engine.config import INDEX_CONFIG_FILE, load_index_config  # noqa: E402
from fashion_gui.inference.checkpoint import list_checkpoints  # noqa: E402
from fashion_gui.methods import REQUEST_KINDS, get_method, list_methods  # noqa: E402
from fashion_gui.ui.settings import SettingsPane  # noqa: E402
from fashion_gui.ui.settings.option_form import FloatSpinBox, PathField  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402
from fashion_gui.workspace_checks import DemoRecipe, list_models  # noqa: E402

# one epoch per stage at 32 px with a small chunk: ~3 s of training after ~8 s of imports in the child
SMALL = {"epochs": 1, "manip_epochs": 1, "image_size": 32, "d": 16, "batch_size": 64, "backbone": "compact",
         "device": "cpu"}
WIDGET_OF_KIND = {"int": QSpinBox, "float": FloatSpinBox, "bool": QCheckBox, "str": QLineEdit, "path": PathField,
                  "ints": QLineEdit, "strs": QLineEdit}


@pytest.fixture
def ws(demo_workspace, tmp_path) -> Workspace:
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(demo_workspace.root, copy.root)
    return copy


def _pane(qtbot, ws, *args) -> SettingsPane:
    widget = SettingsPane(ws, "cpu", *args)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    return widget


@pytest.fixture
def pane(qtbot, ws):
    widget = _pane(qtbot, ws)
    yield widget
    widget.shutdown()
    for run in (widget.run, widget.job):
        assert run is None or (run.process.state() == QProcess.NotRunning and not run._kill_timer.isActive())


def _record(signal) -> list:
    calls = []
    signal.connect(lambda *args: calls.append(args))
    return calls


def _fill(form, values: dict) -> None:
    """Type ``values`` into the form's widgets, as a user would."""
    for name, value in values.items():
        widget = form.widgets[name]
        if isinstance(widget, QComboBox):
            widget.setCurrentIndex(widget.findData(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(value)
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.setValue(value)
        else:
            widget.setText(" ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))


def test_a_one_epoch_training_shows_progress_and_becomes_the_model(qtbot, pane, ws):
    """The form, Start, a child process: overall progress over both stages, live curves, the checkpoint
    listed, announced and applied."""
    tab = pane.training
    trained = _record(pane.checkpoint_trained)
    applied = _record(pane.apply_requested)
    values, labels = [], []
    tab.progress_bar.valueChanged.connect(values.append)
    assert pane.search.encoder_box.count() == 1  # "Automatic" only: the copy has no checkpoint yet
    tab.method_box.setCurrentIndex(tab.method_box.findData("adde"))
    _fill(tab.form, SMALL)
    assert tab.name_edit.placeholderText() == "adde (the default)" and tab.last_problem is None
    with qtbot.waitSignal(pane.apply_requested, timeout=60_000):
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
        run = tab.run
        run.progress.connect(lambda done, total, label: labels.append(label))
        assert not tab.start_button.isEnabled() and tab.cancel_button.isEnabled()
        written = json.loads(run.config_path.read_text())  # the run.json the child reads
        assert {k: written[k] for k in SMALL} == SMALL and written["lr"] == 1e-3
        assert tab.chart.loss_x.max() == pytest.approx(2.0)  # the x axis spans both stages from the start
    assert run.process.state() == QProcess.NotRunning and run.outcome == "finished" and run.name == "adde"
    assert not run.config_path.exists()

    # progress over the whole run: rising to the end, the stage named, a time estimate
    assert len(values) >= 5 and values == sorted(values) and values[-1] == 1000
    assert tab.progress_bar.value() == 1000 and tab.progress_label.text() == "done: checkpoint adde"
    assert any(label.startswith("stage 1 of 2: attribute learning \u00b7 epoch 1/1") for label in labels)
    assert any(label.startswith("stage 2 of 2: memory-block manipulation \u00b7 epoch 1/1") for label in labels)
    assert any(label.endswith(" left") for label in labels)
    first_manipulation = next(v for v, label in zip(values[1:], labels) if label.startswith("stage 2"))
    assert 500 <= first_manipulation < 1000  # one epoch of two: the second stage starts half way

    # the stages ran the epochs the form gave each (not one count for the first and the default for the second)
    log = tab.log_view.toPlainText()
    assert "plan: attribute learning (1 epoch) \u2192 memory-block manipulation (1 epoch)" in log
    assert log.startswith("$ fashion train adde --workspace") and " --config " in log
    assert "attributes epoch 1/1: " in log and "| val_attr_acc " in log and "manipulation epoch 1/1" in log
    assert "saved " in log
    assert {("attributes", "loss"), ("manipulation", "loss"), ("manipulation", "mem")} <= set(tab.chart.loss_series)
    assert tab.chart.loss_series[("attributes", "loss")].count() == 3  # 180 train images / 64 per batch
    assert tab.chart.metric_series["attr_acc"].count() == 2 and tab.chart.point_count() > 20
    assert tab.chart.loss_x.max() == pytest.approx(2.0)

    # a real checkpoint, listed, announced and applied
    folder = ws.checkpoints / "adde"
    assert (folder / "weights.pt").stat().st_size > 10_000 and (folder / "config.json").is_file()
    assert not (folder / "state.pt").exists() and list_checkpoints(ws.checkpoints) == [folder]
    box = pane.search.encoder_box
    assert box.findData("adde") == 1 and box.currentData() == "adde" and "manip. top-10" in box.itemText(1)
    assert trained == [("adde", "adde")]
    (got_ws, device, config), = applied
    assert got_ws == ws and device == "cpu" and isinstance(config, EngineConfig)
    assert config.encoder_model == "adde" and config.models == {}
    assert (ws.indexes / INDEX_CONFIG_FILE).is_file()
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()
    assert tab.name_edit.placeholderText() == "adde (the default; replaces the existing one)"


def test_the_form_is_built_from_each_methods_options(qtbot, pane, monkeypatch, tmp_path):
    tab, form = pane.training, pane.training.form
    assert [tab.method_box.itemData(i) for i in range(tab.method_box.count())] == list_methods()
    for name in list_methods():
        spec = get_method(name)
        tab.method_box.setCurrentIndex(tab.method_box.findData(name))
        options = {o.name: o for o in spec.options()}
        assert set(form.widgets) == set(options), name
        for opt in options.values():
            expected = QComboBox if opt.choices is not None else WIDGET_OF_KIND[opt.kind]
            assert isinstance(form.widgets[opt.name], expected), (name, opt.name)
            assert opt.help in form.widgets[opt.name].toolTip()
        # one group per stage, its epochs next to its title; the stage's options inside it
        for number, stage in enumerate(spec.stages, start=1):
            epochs = form.epoch_widgets[stage.name]
            assert epochs is form.widgets[stage.epochs_field] and epochs.value() == options[stage.epochs_field].default
            assert epochs.parentWidget().objectName() == f"stage-{stage.name}"
            assert stage.title in form.stage_titles[stage.name].text()
            if len(spec.stages) > 1:
                assert f"Stage {number} of {len(spec.stages)}" in form.stage_titles[stage.name].text()
            for opt in options.values():
                if opt.stage == stage.name:
                    assert form.widgets[opt.name].parentWidget().objectName() == f"stage-{stage.name}"
        # advanced options behind "More options"
        advanced = [o.name for o in options.values() if o.advanced]
        assert advanced and not any(form.widgets[n].isVisibleTo(form) for n in advanced)
        form.more_button.click()
        assert all(form.widgets[n].isVisibleTo(form) for n in advanced)
        form.more_button.click()
        assert not any(form.widgets[n].isVisibleTo(form) for n in advanced)
        assert form.widgets["device"].text() == "cpu"  # the Search tab's device
        assert tab.name_edit.placeholderText().startswith(f"{spec.default_checkpoint(spec.make_config())} (")
        assert tab.last_problem is None and tab.run is None

    # the default checkpoint name follows the values, as the registry names it
    tab.method_box.setCurrentIndex(tab.method_box.findData("tgr-only"))
    _fill(form, {"compositor": "rtic"})
    assert tab.name_edit.placeholderText() == "tgr-only-rtic (the default)"

    # floats read as written; the Search tab's device flows into the form
    tab.method_box.setCurrentIndex(tab.method_box.findData("uigr-tirg"))
    lr = form.widgets["lr"]
    assert lr.text() == "0.001"
    lr.lineEdit().selectAll()
    qtbot.keyClicks(lr.lineEdit(), "3e-4")
    assert form.values()["lr"] == pytest.approx(3e-4)
    pane.search.device_box.setCurrentIndex(pane.search.device_box.findData("auto"))
    assert form.values()["device"] == "auto"

    # a file option: the picker fills it; empty means none
    weights = tmp_path / "backbone.pt"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(weights), ""))
    form.more_button.click()
    assert "backbone_weights" not in form.values()  # empty: none, the config's default
    form.widgets["backbone_weights"].button.click()
    assert form.values()["backbone_weights"] == str(weights)

    # a bad value: the registry's message, at once and on Start, and nothing starts
    form.widgets["lr_milestones"].setText("8 x")
    assert tab.problem_label.text() == "lr_milestones: '8 x' is not a valid ints value"
    qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert tab.run is None and pane.last_error == "Training uigr-tirg: lr_milestones: '8 x' is not a valid ints value"
    form.widgets["lr_milestones"].setText("8 11")
    assert tab.problem_label.text() == "" and form.values()["lr_milestones"] == "8 11"
    tab.name_edit.setText("no/slashes")
    assert tab.problem_label.text().startswith("Checkpoint name 'no/slashes'")
    pane.last_error = None
    qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert tab.run is None and pane.last_error.startswith("Checkpoint name 'no/slashes': use letters")


def test_cancel_stops_the_process_and_claims_no_checkpoint(qtbot, pane, ws):
    trained = _record(pane.checkpoint_trained)
    assert pane.start_training("adde", {**SMALL, "epochs": 200}, name="long")
    run = pane.run
    qtbot.waitUntil(lambda: pane.training.chart.point_count() > 0, timeout=60_000)  # it is training
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
    assert not list(ws.checkpoints.glob(".run-*"))  # the run.json went with the process
    assert pane.search.encoder_box.count() == 1 and run.leftover  # what it left is said in the log
    assert run.leftover[-1] in pane.training.log_view.toPlainText()
    assert pane.training.progress_label.text() == "Cancelled."

    # ready again: a new run starts (and a cancel during start-up works too)
    tab = pane.training
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled() and not pane.cancel_training()
    assert pane.start_training("adde", SMALL, name="again")
    assert pane.run is not run and pane.run.is_running()
    with qtbot.waitSignal(pane.run.cancelled, timeout=20_000):
        assert pane.cancel_training()
    assert pane.run.process.state() == QProcess.NotRunning and not (ws.checkpoints / "again").exists()


def test_a_training_the_command_refuses_gives_its_message(qtbot, pane, ws):
    """The outfit head needs an attribute model; this workspace has none: ``fashion train`` says so."""
    tab = pane.training
    tab.method_box.setCurrentIndex(tab.method_box.findData("adde-o"))
    _fill(tab.form, {"epochs": 1, "device": "cpu"})
    with qtbot.waitSignal(tab.start_button.clicked, timeout=1000):
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    with qtbot.waitSignal(pane.run.failed, timeout=60_000):
        pass
    assert pane.run.process.state() == QProcess.NotRunning and pane.run.exit_code == 2
    assert pane.last_error.startswith("Training adde-o failed (exit code 2).")
    assert "error: ADDE-O needs a trained ADDE model" in pane.last_error
    assert tab.progress_label.text() == "Failed." and tab.start_button.isEnabled()


def test_apply_emits_the_choices_and_saves_the_index_parameters(qtbot, pane, ws):
    search = pane.search
    assert pane.devices == {} and "torch is loading" in search.device_note.text()  # before the engine reports
    pane.set_engine_info({"devices": {"cuda": False, "gpus": [], "torch": "2.x", "threads": 2}})
    cuda = search.device_box.findData("cuda")
    if not pane.devices["cuda"]:
        item = search.device_box.model().item(cuda)
        assert not item.isEnabled() and "sees no CUDA GPU" in search.device_box.itemData(cuda, Qt.ToolTipRole)
    assert pane.current_device() == "cpu"
    search.device_box.setCurrentIndex(search.device_box.findData("auto"))
    search.index_widgets["M"].setValue(16)
    search.index_widgets["ef_search"].setValue(123)
    search.index_widgets["storage"].setCurrentText("int8")
    search.index_widgets["memmap"].setChecked(True)
    with qtbot.waitSignal(pane.apply_requested, timeout=1000) as blocker:
        qtbot.mouseClick(search.apply_button, Qt.LeftButton)
    got_ws, device, config = blocker.args
    assert got_ws == ws and device == "auto"
    assert config == EngineConfig(encoder_model=None, models={}, index=None)
    saved = load_index_config(ws)
    assert (saved.M, saved.ef_search, saved.storage, saved.ef_construction) == (16, 123, "int8", 200)
    assert saved.memmap is True

    # an invalid value: a message, no signal, the file unchanged
    search.index_widgets["M"].setValue(0)
    applied = _record(pane.apply_requested)
    assert not pane.apply()
    assert applied == [] and "M must be at least 1" in pane.last_error and load_index_config(ws).M == 16

    # a new pane shows the saved parameters
    other = _pane(qtbot, ws)
    assert other.search.index_widgets["ef_search"].value() == 123 and other.search.current_index_config() == saved
    assert other.search.index_widgets["memmap"].isChecked()


def test_the_edit_ranking_is_chosen_with_its_description_and_applied(qtbot, pane, ws):
    box = pane.search.ranking_box
    assert [box.itemData(i) for i in range(box.count())] == list(EDIT_RANKINGS)
    assert [box.itemData(i, Qt.ToolTipRole) for i in range(box.count())] == list(EDIT_RANKINGS.values())
    assert box.currentData() == "visual" and pane.search.ranking_note.text().lower() == EDIT_RANKINGS["visual"]
    box.setCurrentIndex(box.findData("labels"))
    assert pane.search.ranking_note.text().lower() == EDIT_RANKINGS["labels"]
    with qtbot.waitSignal(pane.apply_requested, timeout=1000) as blocker:
        pane.search.apply_button.click()
    assert blocker.args[2] == EngineConfig(edits=EditPolicy(ranking="labels"))
    # a pane given a config shows its ranking (this workspace has no checkpoint "adde": Automatic)
    other = _pane(qtbot, ws, EngineConfig(encoder_model="adde", edits=EditPolicy(ranking="paper")))
    assert other.search.ranking_box.currentData() == "paper"
    assert other.current_config() == EngineConfig(encoder_model=None, edits=EditPolicy(ranking="paper"))


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
    qtbot.mouseClick(pane.workspace_tab.open_button, Qt.LeftButton)
    assert "has catalog schema version 99, this program reads version 1" in pane.last_error
    assert pane.workspace == ws and pane.workspace_tab.folder_label.text() == str(ws.root) and requested == []

    # a pane opened on it says so instead of failing
    broken = _pane(qtbot, other)
    assert "schema version 99" in broken.workspace_tab.catalog_label.text()

    # a real workspace: switched, announced
    good = Workspace(tmp_path / "good")
    shutil.copytree(ws.root, good.root)
    assert pane.open_workspace(good.root)
    assert requested == [(Workspace.at(good.root),)]
    assert pane.workspace_tab.folder_label.text() == str(good.root.resolve())
    assert pane.workspace_tab.catalog_label.text().startswith("300 items (train 180, val 36, test 84)")


def test_checkpoints_of_another_catalog_are_listed_disabled(qtbot, ws):
    folder = ws.checkpoints / "foreign"
    folder.mkdir(parents=True)
    (folder / "weights.pt").write_bytes(b"")
    (folder / "config.json").write_text('{"format": 1, "method": "adde", "config": {}, '
                                        '"schema": {"types": [{"name": "hue"}]}}')
    info, = list_models(ws)
    assert info.name == "foreign" and info.method == "adde" and info.encoder
    assert "another catalog schema" in info.problem
    pane = _pane(qtbot, ws, EngineConfig(encoder_model="foreign"))
    box = pane.search.encoder_box
    index = box.findData("foreign")
    assert index == 1 and not box.model().item(index).isEnabled()
    assert box.currentIndex() == 0  # the configured model does not fit: automatic instead
    assert "retrain it on this workspace" in box.itemData(index, Qt.ToolTipRole)
    assert all(b.count() == 1 for b in pane.search.model_boxes.values())  # an encoder serves no other chooser
    assert "foreign (adde)" in pane.workspace_tab.checkpoints_label.text()


def test_engine_info_is_shown(qtbot, pane):
    pane.set_engine_info({"encoder_model": "adde", "method": "adde", "device": "cpu", "gallery_items": 300,
                          "models": {"manipulate": "adde", "text": "uigr-tirg", "compatible": "adde-o"},
                          "indexes": {"full": {"kind": "exact", "items": 300, "status": "built"}}})
    text = pane.search.active_label.text()
    assert "<b>adde</b> (adde) on <b>cpu</b>" in text and "text feedback: uigr-tirg" in text
    assert "items that go with this: adde-o" in text and "full: exact, 300 items, built" in text


def test_model_choosers_come_from_the_registry(qtbot, composed_workspace, tmp_path):
    """One chooser for the encoder, one per request kind a non-encoder method serves, each listing the
    checkpoints whose method serves it; a new checkpoint becomes the choice for what its method serves."""
    ws = Workspace(tmp_path / "composed")
    shutil.copytree(composed_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    pane = _pane(qtbot, ws, EngineConfig(models={"text": "uigr-tirg"}))
    search = pane.search
    kinds = [k for k in REQUEST_KINDS if any(not get_method(m).encoder for m in list_methods(serves=k))]
    assert list(search.model_boxes) == kinds == ["similar_in", "text", "compatible", "attribute_values", "category"]
    similar = search.model_boxes["similar_in"]  # no ASEN / MODC checkpoint here; Automatic = the encoder (ADDE-C)
    assert [similar.itemData(i) for i in range(similar.count())] == [None]

    def listed(box):
        return [box.itemData(i) for i in range(box.count())]

    assert listed(search.encoder_box) == [None, "adde"]
    assert listed(search.model_boxes["text"]) == [None, "uigr-tirg"]
    assert listed(search.model_boxes["compatible"]) == [None, "uigr-tirg", "adde-o"]  # the registry's order
    assert search.model_boxes["text"].currentData() == "uigr-tirg"  # from the config it was given
    compatible = search.model_boxes["compatible"]
    compatible.setCurrentIndex(compatible.findData("adde-o"))
    with qtbot.waitSignal(pane.apply_requested, timeout=1000) as blocker:
        qtbot.mouseClick(search.apply_button, Qt.LeftButton)
    assert blocker.args[2].models == {"text": "uigr-tirg", "compatible": "adde-o"}
    assert blocker.args[2].encoder_model is None

    # a freshly trained outfit head: the choice for "compatible" (what its method serves), nothing else
    with qtbot.waitSignal(pane.apply_requested, timeout=60_000) as blocker:
        assert pane.start_training("adde-o", {"epochs": 1, "device": "cpu"}, name="adde-o-2")
    assert pane.run.outcome == "finished" and compatible.currentData() == "adde-o-2"
    assert blocker.args[2].models == {"text": "uigr-tirg", "compatible": "adde-o-2"}
    assert blocker.args[2].encoder_model is None
    pane.shutdown()


def test_import_a_csv_folder(qtbot, pane, ws, demo_workspace, tmp_path):
    with Catalog.open(demo_workspace.catalog_path) as catalog:
        items = [catalog.item(int(i)) for i in catalog.ids()[:40]]
    table = tmp_path / "shop.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "category", "colour"])
        writer.writerows([(it.image_path, it.category, it.attributes.get("colour", "")) for it in items])
    requested = _record(pane.workspace_requested)
    pane.workspace_tab.train_after_check.setChecked(False)

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
    assert pane.workspace_tab.catalog_label.text().startswith("40 items")
    assert "imported 40 items" in pane.workspace_tab.job_log.toPlainText()
    assert not pane.import_catalog(table, demo_workspace.root, tmp_path / "shop")  # it holds a catalog now
    assert "already holds a catalog" in pane.last_error


@pytest.mark.slow
def test_create_the_demo_then_its_model(qtbot, pane, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    assert not pane.create_demo(full) and "is not an empty folder" in pane.last_error

    tab = pane.workspace_tab
    tab.demo_recipe = DemoRecipe(catalog_flags=["--items", "300", "--size", "64", "--seed", "7", "--workers", "1"],
                                 train_values=SMALL)
    with qtbot.waitSignal(pane.workspace_requested, timeout=120_000) as blocker:
        assert pane.create_demo(tmp_path / "demo")
        assert not pane.training.start_button.isEnabled() and tab.job_cancel_button.isEnabled()
    new = Workspace.at(tmp_path / "demo")
    assert blocker.args == [new] and pane.workspace == new
    assert list_checkpoints(new.checkpoints) == [new.checkpoints / "adde"]
    assert pane.search.encoder_box.findData("adde") == 1 and pane.training.start_button.isEnabled()
    log = tab.job_log.toPlainText()
    assert "$ fashion catalog demo" in log and "$ fashion train adde" in log and "is ready" in log
    assert "plan: attribute learning (1 epoch) \u2192 memory-block manipulation (1 epoch)" in log


def test_the_workspace_tab_shows_fashion_doctors_report(qtbot, pane, ws):
    doctor = pane.workspace_tab.doctor
    assert doctor is not None and doctor.workspace.root == ws.root
    with Catalog.open(ws.catalog_path) as catalog:
        damaged = ws.resolve_image(catalog.image_paths(catalog.ids()[:1])[0])
    damaged.write_bytes(b"not a jpeg")  # a damaged catalog image
    assert doctor.run_check()
    qtbot.waitUntil(lambda: doctor.report is not None, timeout=60_000)
    assert doctor.wait(10_000)
    problems = [doctor.problems.topLevelItem(i).text(1) for i in range(doctor.problems.topLevelItemCount())]
    assert any(damaged.name in p for p in problems), problems
