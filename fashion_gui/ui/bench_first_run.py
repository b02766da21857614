"""``fashion bench first-run``: the app's first run, timed: the real first-run dialog (offscreen) renders the
demo catalog and trains the first-run methods in child processes, then the engine worker builds the
indexes. Prints seconds per step and in all (what the README's first-run time comes from)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialog

from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.first_run import DemoBuildDialog
from fashion_gui.workspace import Workspace


def time_first_run(folder: str | Path, device: str = "cpu", **dialog_options) -> dict:
    """Run the first run into an empty ``folder``; seconds per step (catalog, each method, indexes).
    ``dialog_options`` go to the dialog (tests pass a small catalog and budget)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])  # kept alive for the whole run
    workspace = Workspace(Path(folder))
    client = EngineClient()
    dialog = DemoBuildDialog(workspace, client, device=device, **dialog_options)
    marks: list[tuple[int, float]] = []
    start = time.perf_counter()
    dialog.progressed.connect(lambda *_: (not marks or marks[-1][0] != dialog.step)
                              and marks.append((dialog.step, time.perf_counter())))
    try:
        result = dialog.exec()
        end = time.perf_counter()
    finally:
        dialog.shutdown()
        client.shutdown()
        app.processEvents()
    if result != QDialog.Accepted:
        raise RuntimeError(f"the first run did not finish: {dialog.error}")
    starts = {step: t for step, t in marks}
    steps = {}
    for i, key in enumerate(dialog.keys):
        begin = starts.get(i, start)
        stop = starts.get(i + 1, end)
        steps[key] = round(stop - begin, 1)
    return {"benchmark": "first-run", "cores": os.cpu_count(), "device": device, "workspace": str(workspace.root),
            "steps_seconds": steps, "total_seconds": round(end - start, 1)}
