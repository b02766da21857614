"""The settings pane: the Search tab (device, models, index parameters), the Workspace tab (open, create the
demo, import a CSV) and the Training tab (a method's options, training in a child process with live curves).

The search window puts it in a dock and listens: ``apply_requested(workspace, device, config)`` (reopen
the engine; it rebuilds the indexes whose parameters changed), ``workspace_requested(workspace)`` and
``checkpoint_trained(name, method)``. Call ``shutdown()`` before the app quits: it ends any child process.
Widgets never call torch: the device list comes with the engine's ``describe()`` (torch loads on its thread).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QMessageBox, QTabWidget, QVBoxLayout, QWidget

from fashion_gui.engine import EngineConfig
from fashion_gui.ui.settings.search_tab import SearchTab
from fashion_gui.ui.settings.training_tab import TrainingTab
from fashion_gui.ui.settings.workspace_tab import WorkspaceTab
from fashion_gui.ui.training_run import CliRun, TrainingRun
from fashion_gui.workspace import Workspace
from fashion_gui.engine.models import ModelInfo
from fashion_gui.workspace_checks import list_models, workspace_problem


class SettingsPane(QWidget):
    """The three tabs (``search``, ``workspace_tab``, ``training``) and what they share: the workspace, the
    rule that one child process runs at a time, and error dialogs (``last_error`` keeps the last message)."""

    apply_requested = Signal(object, str, object)  # Workspace, device ("auto" | "cuda" | "cpu"), EngineConfig
    workspace_requested = Signal(object)  # Workspace
    checkpoint_trained = Signal(str, str)  # checkpoint name, method

    def __init__(self, workspace: Workspace, device: str = "auto", config: EngineConfig | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.last_error: str | None = None
        self.engine_info: dict | None = None
        self.models: list[ModelInfo] = []
        self.search = SearchTab(workspace, device, config, {})
        self.workspace_tab = WorkspaceTab(self._busy, self.search.current_device)
        self.training = TrainingTab(self._busy, self.search.current_device)
        self.search.apply_requested.connect(self.apply_requested)
        self.search.device_changed.connect(self.training.set_device)
        self.workspace_tab.open_requested.connect(self.open_workspace)
        self.workspace_tab.workspace_ready.connect(self._on_workspace_built)
        self.training.trained.connect(self._on_trained)
        for tab in (self.search, self.workspace_tab, self.training):
            tab.error.connect(self.show_error)
        for tab in (self.workspace_tab, self.training):
            tab.running_changed.connect(self._on_running_changed)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.search, qta.icon("fa5s.search"), "Search")
        self.tabs.addTab(self.workspace_tab, qta.icon("fa5s.folder"), "Workspace")
        self.tabs.addTab(self.training, qta.icon("fa5s.chart-line"), "Training")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.tabs)
        self.set_workspace(workspace)

    # --- what the tabs run -----------------------------------------------------------------------------
    @property
    def run(self) -> TrainingRun | None:
        """The Training tab's current or last run (None before the first)."""
        return self.training.run

    @property
    def job(self) -> CliRun | None:
        """The Workspace tab's running step (None when idle)."""
        return self.workspace_tab.job

    def current_device(self) -> str:
        return self.search.current_device()

    def current_config(self) -> EngineConfig:
        return self.search.current_config()

    def apply(self) -> bool:
        return self.search.apply()

    def start_training(self, method: str, values: Mapping[str, Any] | None = None, name: str | None = None) -> bool:
        """Train ``method`` with these option values in a child process (the Training tab shows it)."""
        self.tabs.setCurrentWidget(self.training)
        return self.training.start(method, values, name)

    def cancel_training(self) -> bool:
        return self.training.cancel()

    def create_demo(self, folder: str | Path) -> bool:
        return self.workspace_tab.create_demo(folder)

    def import_catalog(self, csv: str | Path, images: str | Path | None, folder: str | Path) -> bool:
        return self.workspace_tab.import_catalog(csv, images, folder)

    # --- the workspace ---------------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace, config: EngineConfig | None = None) -> None:
        """Show ``workspace`` everywhere (the window calls it too when it changes workspace). ``config``: the
        models chosen for it (see SearchTab.set_workspace)."""
        self.workspace = workspace
        self.search.set_workspace(workspace, config)
        self.workspace_tab.show_workspace(workspace)
        self.training.set_workspace(workspace)
        self.refresh_models()

    def refresh_models(self) -> None:
        """List the workspace's checkpoints in the model choosers and the Workspace tab."""
        self.models = list_models(self.workspace)
        self.search.set_models(self.models)
        self.workspace_tab.show_models(self.models)

    def open_workspace(self, path: str | Path) -> bool:
        """Switch to the workspace at ``path``; a folder that is not one gives a message and changes nothing."""
        if self._busy("open another workspace"):
            return False
        ws = Workspace.at(path)
        problem = workspace_problem(ws)
        if problem:
            self.show_error(problem)
            return False
        self.set_workspace(ws)
        self.workspace_requested.emit(ws)
        return True

    def _on_workspace_built(self, ws: Workspace) -> None:
        self.set_workspace(ws)
        self.workspace_requested.emit(ws)

    @property
    def devices(self) -> dict:
        """Torch's view of the devices, once the engine has reported it (empty before)."""
        return self.search.devices

    def set_engine_info(self, info: dict) -> None:
        """What the engine has open (``RetrievalEngine.describe()``), shown in the Search tab."""
        self.engine_info = info
        self.search.set_engine_info(info)

    # --- training results ------------------------------------------------------------------------------
    def _on_trained(self, name: str, method: str) -> None:
        self.refresh_models()
        self.checkpoint_trained.emit(name, method)
        if self.training.activate_check.isChecked():
            self.search.choose_trained(name, method)
            self.training.log_view.appendPlainText(f"using {name}: the search engine reopens with it")
            self.apply()

    # --- shared ----------------------------------------------------------------------------------------
    def _busy(self, what: str) -> bool:
        """True (with a message) while a training or a workspace job runs."""
        if self.training.is_running():
            self.show_error(f"A training is running; cancel it or wait before you {what}.")
            return True
        if self.workspace_tab.job is not None:
            self.show_error(f"\"{self.workspace_tab.job.title}\" is running; cancel it or wait before you {what}.")
            return True
        return False

    def _on_running_changed(self) -> None:
        training, job = self.training.is_running(), self.workspace_tab.job is not None
        self.training.set_running(training, job)
        self.workspace_tab.set_running(training, job)
        if not training and not job:
            self.refresh_models()  # a cancel may have ended just after a final save

    def show_error(self, message: str) -> None:
        """A non-blocking dialog (the first line as its text, the rest below); kept in ``last_error``."""
        self.last_error = message
        first, _, rest = message.partition("\n")
        box = QMessageBox(QMessageBox.Warning, "Settings", first, QMessageBox.Ok, self)
        if rest:
            box.setInformativeText(rest)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    def shutdown(self, wait_ms: int = 5000) -> None:
        """End every child process (blocking, at most about ``wait_ms`` each): call before the app quits."""
        self.workspace_tab.shutdown(wait_ms)
        self.training.shutdown(wait_ms)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
