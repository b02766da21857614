"""``fashion-gui``: open a workspace (building the demo workspace on first run) in the search window."""
from __future__ import annotations

import argparse
import sys
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from fashion_gui.ui.app_settings import AppSettings
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.first_run import DemoBuildDialog
from fashion_gui.ui.search_window import SearchWindow
from fashion_gui.ui.style import apply_style
from fashion_gui.workspace import Workspace, default_workspace
from fashion_gui.workspace_checks import workspace_problem


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="fashion-gui", description="Interactive fashion retrieval.")
    parser.add_argument("--workspace", "-w", default=None,
                        help=f"workspace folder (default: the last one opened, else {default_workspace()})")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda (default: the last one chosen)")
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("fashion-gui")
    app.setOrganizationName("fashion-gui")
    apply_style(app)
    settings = AppSettings()
    remembered = settings.workspace
    if args.workspace is None and remembered is not None and Workspace.at(remembered).exists():
        workspace = Workspace.at(remembered)
    else:
        workspace = Workspace.at(args.workspace)
    if args.device:
        settings.device = args.device
    client = EngineClient()
    try:
        return _run(app, settings, workspace, client, first_run=not workspace.exists() and args.workspace is None,
                    started=started)
    finally:
        client.shutdown()


def _run(app: QApplication, settings: AppSettings, workspace: Workspace, client: EngineClient, first_run: bool,
         started: float) -> int:
    if first_run:  # build the demo workspace: the same child processes as Settings, then its indexes
        dialog = DemoBuildDialog(workspace, client, device=settings.device)
        if dialog.exec() != QDialog.Accepted:
            QMessageBox.critical(None, "Demo catalog", f"The demo catalog could not be built:\n{dialog.error}")
            return 1
    problem = workspace_problem(workspace)
    if problem is not None:
        QMessageBox.critical(None, "Cannot open workspace", problem)
        return 1
    settings.workspace = workspace.root
    window = SearchWindow(workspace, client, start_with_item=True, settings=settings)
    if settings.window_state()[0] is None:
        window.resize(1400, 860)
    window.show()
    window.open_engine()
    client.opened.connect(lambda _info: window.statusBar().showMessage(  # the first open only, not reopens
        f"ready in {time.perf_counter() - started:.1f} s", 8000), Qt.SingleShotConnection)
    return app.exec()
