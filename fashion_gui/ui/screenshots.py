"""The README's screenshots, taken from the real app on a workspace (offscreen, no screen needed):

    python -m fashion_gui.ui.screenshots -w WORKSPACE --out resources/screenshots

1. ``app_search_edit.png``: the search window after an attribute edit ("this dress, but red").
2. ``app_path_view.png``: the window's style-path tab, a path from the query to a shoe.
3. ``app_settings_training.png``: the settings pane after a short training launched from it (a real
   ``fashion train`` child process; its checkpoint ``screenshot-run`` is left in the workspace).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.ui.app_settings import AppSettings  # noqa: E402
from fashion_gui.ui.bench_ui import wait_until  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow  # noqa: E402
from fashion_gui.ui.style import apply_style  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

TRAIN_VALUES = {"manip_epochs": 2, "image_size": 48, "d": 64, "seed": 1}  # the Training form, filled in


def _settle(app: QApplication, window: SearchWindow, seconds: float = 1.0) -> None:
    """Let thumbnails arrive and repaint."""
    window.thumbnails.wait(10_000)
    window.query_thumbnails.wait(10_000)
    deadline = time.monotonic() + seconds
    wait_until(app, lambda: time.monotonic() >= deadline, seconds + 5, "thumbnails to settle")


def pick_query(workspace: Workspace, category: str = "dress", avoid_colour: str = "red") -> int:
    """A test-split item of ``category`` whose colour is not ``avoid_colour``."""
    with Catalog.open(workspace.catalog_path) as catalog:
        for item_id in catalog.ids(split="test", category=category):
            item = catalog.item(int(item_id))
            if item.attributes.get("colour") not in (avoid_colour, None):
                return int(item_id)
    raise LookupError(f"no {category} in the test split")


def take(workspace: Workspace, out: Path, device: str = "cpu", train_epochs: int = 6) -> list[Path]:
    app = QApplication.instance() or QApplication(["fashion-gui"])
    apply_style(app)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat))
        client = EngineClient()
        window = SearchWindow(workspace, client, k=24, settings=settings, device=device)
        window.resize(1400, 860)
        window.show()
        opened: list[dict] = []
        client.opened.connect(opened.append)
        window.open_engine()
        wait_until(app, lambda: bool(opened), 600, "the engine")
        try:
            window.use_as_query(pick_query(workspace))
            wait_until(app, lambda: len(window.session) == 1, 60, "the query")
            box = window._attribute_boxes["colour"]
            box.setCurrentIndex(box.findData("red"))
            wait_until(app, lambda: len(window.session) == 2, 60, "the edit")
            window.same_category.setChecked(True)  # "this dress, but red": keep the garment type
            wait_until(app, lambda: len(window.session) == 3, 60, "the category filter")
            _settle(app, window)
            written.append(out / "app_search_edit.png")
            window.grab().save(str(written[-1]))

            window.tabs.setCurrentWidget(window.path_view)
            window.path_view.set_source(window.query.item_id)
            window.path_view.set_target_category("shoes")
            window.path_view.find()
            wait_until(app, lambda: window.path_view.result is not None, 60, "the path")
            _settle(app, window)
            written.append(out / "app_path_view.png")
            window.grab().save(str(written[-1]))

            pane = window.settings_pane
            window.settings_action.trigger()
            window.settings_dock.resize(1000, 720)
            training = pane.training
            pane.tabs.setCurrentWidget(training)
            training.activate_check.setChecked(False)  # keep the demo's own model active
            training.select_method("adde", {**TRAIN_VALUES, "epochs": train_epochs, "device": device})
            training.name_edit.setText("screenshot-run")
            training.start_button.click()  # as a user would: the form, then Start
            wait_until(app, lambda: pane.run is not None and not pane.run.is_running(), 1200, "the training run")
            _settle(app, window, 1.5)
            written.append(out / "app_settings_training.png")
            window.settings_dock.grab().save(str(written[-1]))
        finally:
            window.close()
            client.shutdown()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", "-w", required=True, help="a workspace with a trained model (the demo)")
    parser.add_argument("--out", type=Path, default=Path("resources/screenshots"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-epochs", type=int, default=6)
    args = parser.parse_args(argv)
    for path in take(Workspace.at(args.workspace), args.out, args.device, args.train_epochs):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
