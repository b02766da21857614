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
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fashion_gui.engine import EngineConfig  # noqa: E402
from fashion_gui.ui.bench_ui import wait_until  # noqa: E402
from fashion_gui.ui.screenshots import _settle, pick_query, save_png, screenshot_window  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


def take(workspace: Workspace, out: Path, model: str, attribute: str = "pattern", device: str = "cpu",
         mode: str = "same value first") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    config = EngineConfig(models={"similar_in": model})
    with screenshot_window(workspace, device, config, engine_timeout=900) as (app, window, _tmp):
        window.use_as_query(pick_query(workspace, category="dress"))
        wait_until(app, lambda: len(window.session) == 1, 60, "the query")
        window.similar_box.setCurrentText(attribute)
        window.prioritize_box.setCurrentText(mode)
        window.similar_button.click()
        wait_until(app, lambda: len(window.session) == 2, 120, "the similar-in search")
        _settle(app, window, 1.5)
        path = save_png(window, out / "app_similar_in_modc.png")
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
