"""The README's screenshot of "similar in" with MODC's prioritized retrieval, taken from the real app on a
workspace that has a trained MODC checkpoint (offscreen, no screen needed):

    python -m fashion_gui.ui.screenshots_asen -w WORKSPACE --model modc-asen --out resources/screenshots

``app_similar_in_modc.png``: the search window with "similar in <attribute>" served by the MODC model chosen
in the settings, "same value first" (the query's predicted value); every card shows its pseudo label and
whether it shares the query's value.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from fashion_gui.engine import EngineConfig  # noqa: E402
from fashion_gui.ui.app_settings import AppSettings  # noqa: E402
from fashion_gui.ui.bench_ui import wait_until  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.screenshots import _settle, pick_query, save_png  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow  # noqa: E402
from fashion_gui.ui.style import apply_style  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


def take(workspace: Workspace, out: Path, model: str, attribute: str = "pattern", device: str = "cpu",
         mode: str = "same value first") -> Path:
    app = QApplication.instance() or QApplication(["fashion-gui"])
    apply_style(app)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat))
        settings.set_engine_config(workspace.root, EngineConfig(models={"similar_in": model}))
        client = EngineClient()
        window = SearchWindow(workspace, client, k=24, settings=settings, device=device)
        window.resize(1400, 860)
        window.show()
        opened: list[dict] = []
        client.opened.connect(opened.append)
        window.open_engine()
        wait_until(app, lambda: bool(opened), 900, "the engine")
        try:
            window.use_as_query(pick_query(workspace, category="dress"))
            wait_until(app, lambda: len(window.session) == 1, 60, "the query")
            window.similar_box.setCurrentText(attribute)
            window.prioritize_box.setCurrentText(mode)
            window.similar_button.click()
            wait_until(app, lambda: len(window.session) == 2, 120, "the similar-in search")
            _settle(app, window, 1.5)
            path = save_png(window, out / "app_similar_in_modc.png")
        finally:
            window.close()
            client.shutdown()
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-w", "--workspace", type=Path, required=True)
    p.add_argument("--model", required=True, help="the MODC checkpoint folder serving similar-in")
    p.add_argument("--attribute", default="pattern")
    p.add_argument("--out", type=Path, default=Path("resources/screenshots"))
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    print(take(Workspace.at(args.workspace), args.out, args.model, args.attribute, args.device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
