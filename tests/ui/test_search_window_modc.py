""""Similar in" served by a MODC model chosen in the settings: prioritized retrieval ("same <value> first",
the predicted value or one the user picks) and each result's pseudo label on its card."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo  # noqa: E402
from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.engine import EngineConfig, SimilarIn  # noqa: E402
from fashion_gui.methods import get_method  # noqa: E402
from fashion_gui.ui.app_settings import AppSettings  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

TINY = {"image_size": 48, "hidden": 16, "dim": 16, "batch_size": 32, "device": "cpu", "epochs": 1,
        "supervised_epochs": 1, "ssl_labeled_epochs": 0, "ssl_unlabeled_epochs": 0, "pseudo_instance_epochs": 0,
        "pseudo_cluster_epochs": 0, "cpu_threads": 1}


@pytest.fixture(scope="module")
def modc_workspace(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("modc_ui"))
    build_demo(ws, DemoConfig(items=240, size=48, seed=4, workers=1))
    get_method("adde").create_trainer(ws, ws.checkpoints / "adde", epochs=1, manip_epochs=0, d=16, image_size=48,
                                      device="cpu").run()
    get_method("modc-asen").create_trainer(ws, ws.checkpoints / "modc-asen", **TINY).run()
    return ws


def test_prioritized_similar_in_from_the_window(qtbot, open_window, modc_workspace, tmp_path):
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    win = open_window(modc_workspace, k=10, settings=settings)
    # Settings chooses the similar-in model (what its Apply does: reopen with the choice, kept per workspace)
    with qtbot.waitSignal(win.client.opened, timeout=120_000):
        win.reopen(win.workspace, "cpu", EngineConfig(models={"similar_in": "modc-asen"}))
    assert settings.engine_config(win.workspace.root).models == {"similar_in": "modc-asen"}
    assert win.prioritize_box.isEnabled() and win.value_box.isEnabled() and not win.prioritize_box.isHidden()
    with Catalog.open(win.workspace.catalog_path) as catalog:
        item = catalog.item(int(catalog.ids(split="test")[0]))
        colours = catalog.schema.type("colour").values
    win.use_as_query(item.id)
    qtbot.waitUntil(lambda: len(win.session) == 1, timeout=30_000)

    win.similar_box.setCurrentText("colour")
    assert [win.value_box.itemText(i) for i in range(win.value_box.count())] == ["predicted value", *colours]
    win.prioritize_box.setCurrentText("same value first")
    win.similar_button.click()
    qtbot.waitUntil(lambda: len(win.session) == 2, timeout=30_000)
    request = win.session.current.request
    assert isinstance(request, SimilarIn) and request.prioritize == 1 and request.value is None
    assert "first (predicted, p = " in win.status_time.text()
    hit = win.results_model.hit(0)
    assert hit.note.startswith("\u2248") and hit.note in win.results_model.index(0).data()  # the pseudo label

    picked = next(c for c in colours if c != item.attributes["colour"])
    win.value_box.setCurrentText(picked)
    win.similar_button.click()
    qtbot.waitUntil(lambda: len(win.session) == 3, timeout=30_000)
    results = win.session.current.results
    assert win.session.current.request.value == picked and results.requested == {"colour": picked}
    assert all(h.matches == {"colour": h.attributes.get("colour") == picked} for h in results.hits)
    chip = "\u2713colour" if results.hits[0].matches["colour"] else "\u2717colour"
    assert chip in win.results_model.index(0).data()


def test_prioritizing_is_off_without_a_modc_model(qtbot, open_window, modc_workspace):
    win = open_window(modc_workspace, k=5)  # automatic choice: the encoder (ADDE-C) serves similar-in
    assert not win.prioritize_box.isEnabled() and win.prioritize_box.currentIndex() == 0
    assert win.prioritize_box.isHidden() and win.value_box.isHidden()
