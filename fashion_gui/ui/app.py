"""``fashion-gui``: open a workspace (building the demo workspace on first run) in the search window."""
from __future__ import annotations

import argparse
import sys

from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from fashion_gui.catalog.store import Catalog, CatalogError
from fashion_gui.ui.first_run import DemoBuildDialog
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.search_window import SearchWindow
from fashion_gui.workspace import Workspace, default_workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fashion-gui", description="Interactive fashion retrieval.")
    parser.add_argument("--workspace", "-w", default=None, help=f"workspace folder (default {default_workspace()})")
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("fashion-gui")
    app.setOrganizationName("fashion-gui")
    workspace = Workspace.at(args.workspace)
    if not workspace.exists():
        dialog = DemoBuildDialog(workspace)
        if dialog.exec() != QDialog.Accepted:
            QMessageBox.critical(None, "Demo catalog", f"The demo catalog could not be built:\n{dialog.error}")
            return 1
    try:
        Catalog.open(workspace.catalog_path).close()
    except CatalogError as exc:
        QMessageBox.critical(None, "Cannot open workspace", str(exc))
        return 1
    client = EngineClient()
    window = SearchWindow(workspace, client, start_with_item=True)
    window.resize(1400, 860)
    window.show()
    client.open(workspace)
    try:
        return app.exec()
    finally:
        client.shutdown()
