"""The README's screenshots, taken from the real app on a workspace (offscreen, no screen needed):

    python -m fashion_gui.ui.screenshots -w WORKSPACE --out resources/screenshots

1. ``app_search_edit.png``: the search window after an attribute edit with the default settings ("this
   dress, but red").
2. ``app_search_double_edit.png``: two edits at once (the dress in red, with a second value the catalog
   has in red dresses).
3. ``app_nothing_matches.png``: an edit no item of the category has: the notice above the results and the
   nearest alternatives marked.
4. ``app_path_view.png``: the window's style-path tab, a path from the query to a shoe.
5. ``app_settings_training.png``: the settings pane after a short training launched from it (a real
   ``fashion train`` child process; its checkpoint ``screenshot-run`` is left in the workspace).
6. ``first_run_progress.png``: the first-run dialog while it trains the attribute model (a real first run
   of a small demo catalog in a temporary folder, stopped after the screenshot).

With ``--cooperative CKPT``: only cooperative embeddings' two screenshots (``take_cooperative``).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QBuffer, QIODevice, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fashion_gui.catalog.store import Catalog  # noqa: E402
from fashion_gui.engine import EngineConfig  # noqa: E402
from fashion_gui.ui.app_settings import AppSettings  # noqa: E402
from fashion_gui.ui.bench_ui import wait_until  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.first_run import DemoBuildDialog  # noqa: E402
from fashion_gui.ui.search_window import SETTINGS_SIZE, SearchWindow  # noqa: E402
from fashion_gui.ui.style import apply_style  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

TRAIN_VALUES = {"manip_epochs": 2, "image_size": 48, "d": 64, "seed": 1}  # the Training form, filled in
FIRST_RUN_CATALOG = ["--items", "600", "--workers", "1"]  # a smaller demo than the default, same model
MAX_PNG_BYTES = 500_000


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


def second_edit(workspace: Workspace, item_id: int, colour: str = "red", attribute: str = "sleeve") -> str:
    """The ``attribute`` value (other than the query's) that most catalog items of the query's category have
    together with ``colour``: a double edit the catalog can answer."""
    with Catalog.open(workspace.catalog_path) as catalog:
        item = catalog.item(item_id)
        counts = Counter(catalog.item(int(i)).attributes.get(attribute) for i in catalog.ids(category=item.category)
                         if catalog.item(int(i)).attributes.get("colour") == colour)
    counts.pop(None, None)
    counts.pop(item.attributes.get(attribute), None)
    if not counts:
        raise LookupError(f"no {colour} {item.category} with another {attribute} than item {item_id}'s")
    return counts.most_common(1)[0][0]


def missing_edit(workspace: Workspace, item_id: int) -> dict[str, str]:
    """A colour and a pattern, both other than the query's, that no catalog item of its category has."""
    with Catalog.open(workspace.catalog_path) as catalog:
        item = catalog.item(item_id)
        have = {(catalog.item(int(i)).attributes.get("colour"), catalog.item(int(i)).attributes.get("pattern"))
                for i in catalog.ids(category=item.category)}
        schema = catalog.schema
        for colour in schema.type("colour").values:
            for pattern in schema.type("pattern").values:
                if (colour, pattern) not in have and colour != item.attributes.get("colour") \
                        and pattern != item.attributes.get("pattern"):
                    return {"colour": colour, "pattern": pattern}
    raise LookupError(f"every colour and pattern exists among the {item.category} items")


def _edit(app: QApplication, window: SearchWindow, edits: dict[str, str]) -> None:
    """Pick values in the attribute panel, as a user does (each pick is a turn)."""
    for name, value in edits.items():
        turns = len(window.session)
        box = window._attribute_boxes[name]
        box.setCurrentIndex(box.findData(value))
        wait_until(app, lambda n=turns: len(window.session) == n + 1, 60, f"the edit {name}={value}")


def save_png(widget, path: Path) -> Path:
    """``widget`` grabbed as a PNG; one over MAX_PNG_BYTES (photos of noisy garments compress badly) is
    reduced to a 256-colour palette, which keeps it legible at a quarter of the size."""
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    widget.grab().save(buffer, "PNG")
    data = bytes(buffer.data())
    if len(data) > MAX_PNG_BYTES:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        image.quantize(256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.FLOYDSTEINBERG).save(
            path, optimize=True)
    else:
        path.write_bytes(data)
    return path


def _shot(window, path: Path, written: list[Path]) -> None:
    written.append(save_png(window, path))


@contextlib.contextmanager
def screenshot_window(workspace: Workspace, device: str = "cpu", config: EngineConfig | None = None,
                      engine_timeout: float = 600) -> Iterator[tuple[QApplication, SearchWindow, Path]]:
    """The app's search window at 1400 x 860 with its engine open (``config``: the workspace's engine
    choices, as Settings would save them), throw-away settings in a temporary folder (also yielded), and
    everything closed after."""
    app = QApplication.instance() or QApplication(["fashion-gui"])
    apply_style(app)
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat))
        if config is not None:
            settings.set_engine_config(workspace.root, config)
        client = EngineClient()
        window = SearchWindow(workspace, client, k=24, settings=settings, device=device)
        window.resize(1400, 860)
        window.show()
        opened: list[dict] = []
        client.opened.connect(opened.append)
        window.open_engine()
        wait_until(app, lambda: bool(opened), engine_timeout, "the engine")
        try:
            yield app, window, Path(tmp)
        finally:
            window.close()
            client.shutdown()


def take(workspace: Workspace, out: Path, device: str = "cpu", train_epochs: int = 6) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with screenshot_window(workspace, device) as (app, window, _tmp):
        query = pick_query(workspace)
        window.use_as_query(query)
        wait_until(app, lambda: len(window.session) == 1, 60, "the query")
        _edit(app, window, {"colour": "red"})  # "this dress, but red", default settings
        _settle(app, window)
        _shot(window, out / "app_search_edit.png", written)

        _edit(app, window, {"sleeve": second_edit(workspace, query)})
        _settle(app, window)
        _shot(window, out / "app_search_double_edit.png", written)

        window.reset_edits()
        _edit(app, window, missing_edit(workspace, query))
        _settle(app, window)
        _shot(window, out / "app_nothing_matches.png", written)

        window.reset_edits()
        window.tabs.setCurrentWidget(window.path_view)
        window.path_view.set_target_category("shoes")  # from the query (the default source)
        window.path_view.find()
        wait_until(app, lambda: window.path_view.result is not None, 60, "the path")
        _settle(app, window)
        _shot(window, out / "app_path_view.png", written)

        pane = window.settings_pane
        window.settings_action.trigger()
        window.settings_dock.resize(SETTINGS_SIZE)
        training = pane.training
        pane.tabs.setCurrentWidget(training)
        training.activate_check.setChecked(False)  # keep the demo's own model active
        training.select_method("adde", {**TRAIN_VALUES, "epochs": train_epochs, "device": device})
        training.name_edit.setText("screenshot-run")
        training.start_button.click()  # as a user would: the form, then Start
        wait_until(app, lambda: pane.run is not None and not pane.run.is_running(), 1200, "the training run")
        _settle(app, window, 1.5)
        _shot(window.settings_dock, out / "app_settings_training.png", written)
    with tempfile.TemporaryDirectory() as tmp:
        written.append(first_run_shot(app, Path(tmp) / "first-run", out / "first_run_progress.png", device))
    return written


def take_cooperative(workspace: Workspace, out: Path, model: str = "cooperative", device: str = "cpu",
                     values: dict[str, str] | None = None, space: str = "colour") -> list[Path]:
    """Cooperative embeddings' screenshots, with ``model`` (a cooperative checkpoint) as the encoder:

    * ``app_describe_session.png``: a session started without a picture (Describe..., Ctrl+D) from
      attribute values (default: colour=navy, pattern=striped);
    * ``app_path_view_subspace.png``: a style path in one attribute subspace of the cooperative model
      (default: colour), from a result of that session to the most typical reachable shoe.
    """
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    values = values or {"colour": "navy", "pattern": "striped"}
    with screenshot_window(workspace, device, EngineConfig(encoder_model=model)) as (app, window, _tmp):
        dialog = window.describe()
        dialog.set_choice(values)
        _settle(app, window, 0.3)
        dialog.accept()
        wait_until(app, lambda: len(window.session) == 1, 60, "the described search")
        _settle(app, window)
        _shot(window, out / "app_describe_session.png", written)

        window.tabs.setCurrentWidget(window.path_view)
        window.path_view.set_source(window.results_model.hit(0).item_id)
        window.path_view.set_target_category("shoes")
        window.path_view.set_space(space)
        window.path_view.find()
        wait_until(app, lambda: window.path_view.result is not None, 60, "the path")
        _settle(app, window)
        _shot(window, out / "app_path_view_subspace.png", written)
    return written


def first_run_shot(app: QApplication, folder: Path, path: Path, device: str = "cpu") -> Path:
    """The first-run dialog on a real first run (a smaller catalog, the default models), taken once the
    attribute model has trained two epochs (so the time left is measured), then the run is stopped."""
    client = EngineClient()
    dialog = DemoBuildDialog(Workspace(folder), client, catalog_flags=FIRST_RUN_CATALOG, device=device)
    epochs: list[dict] = []
    dialog.runs[1].event.connect(lambda e: e["kind"] == "epoch" and epochs.append(e))
    try:
        dialog.show()
        dialog.start()
        wait_until(app, lambda: len(epochs) >= 2 or dialog.finished_with is not None, 900, "two epochs")
        seen = len(epochs)
        wait_until(app, lambda: dialog.finished_with is not None or dialog.bar.value() > 0 and len(epochs) == seen
                   and "step" in dialog.detail_label.text(), 120, "a step report of the third epoch")
        save_png(dialog, path)
        dialog.stop()
        wait_until(app, lambda: dialog.finished_with is not None, 60, "the first run to stop")
    finally:
        dialog.shutdown()
        client.shutdown()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", "-w", required=True, help="a workspace with a trained model (the demo)")
    parser.add_argument("--out", type=Path, default=Path("resources/screenshots"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-epochs", type=int, default=6)
    parser.add_argument("--cooperative", metavar="CKPT", default=None,
                        help="take only cooperative embeddings' screenshots, with this checkpoint as the encoder")
    args = parser.parse_args(argv)
    if args.cooperative:
        for path in take_cooperative(Workspace.at(args.workspace), args.out, args.cooperative, args.device):
            print(path)
        return 0
    for path in take(Workspace.at(args.workspace), args.out, args.device, args.train_epochs):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
