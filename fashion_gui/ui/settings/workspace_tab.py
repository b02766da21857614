"""The Settings pane's Workspace tab: the open workspace (folder, catalog counts, checkpoints), and the
commands that make a new one, each a child process: ``fashion catalog demo`` or ``fashion catalog import``,
then optionally ``fashion train`` of an attribute model (the DemoRecipe's method) so the engine can open.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.catalog.store import Catalog, CatalogError
from fashion_gui.engine.models import ModelInfo
from fashion_gui.ui.settings.log_view import ERROR_STYLE, make_log_view
from fashion_gui.methods import get_method
from fashion_gui.ui.training_run import CliRun, TrainingRun, describe_event, device_values
from fashion_gui.workspace import Workspace
from fashion_gui.ui.doctor_view import DoctorView
from fashion_gui.workspace_checks import DemoRecipe, remove_build_leftovers


class WorkspaceTab(QWidget):
    """Shows a workspace and builds new ones. ``job`` is the step running now (None when idle);
    ``open_requested(path)`` asks the pane to open a folder, ``workspace_ready(workspace)`` says a new one
    was built; ``busy(what)`` (the pane's) refuses to start while anything runs."""

    open_requested = Signal(object)  # Path
    workspace_ready = Signal(object)  # Workspace
    error = Signal(str)
    running_changed = Signal()

    def __init__(self, busy: Callable[[str], bool], device: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._busy, self._device = busy, device
        self.workspace: Workspace | None = None
        self.job: CliRun | None = None
        self.demo_recipe = DemoRecipe()
        self._job_queue: list[CliRun] = []
        self._job_workspace: Workspace | None = None
        self._job_folder_was_new = False

        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        self.catalog_label = QLabel()
        self.catalog_label.setWordWrap(True)
        self.checkpoints_label = QLabel()
        self.checkpoints_label.setWordWrap(True)
        info = QGroupBox("Current workspace")
        form = QFormLayout(info)
        form.addRow("Folder", self.folder_label)
        form.addRow("Catalog", self.catalog_label)
        form.addRow("Checkpoints", self.checkpoints_label)

        self.open_button = QPushButton(qta.icon("fa5s.folder-open"), "Open...")
        self.open_button.setToolTip("Open another workspace folder (one holding a catalog.sqlite)")
        self.open_button.clicked.connect(self._ask_open)
        self.demo_button = QPushButton(qta.icon("fa5s.magic"), "Create the demo...")
        self.demo_button.setToolTip("Render the procedural demo catalog into an empty folder "
                                    "(`fashion catalog demo`), then train its attribute model")
        self.demo_button.clicked.connect(self._ask_demo)
        self.import_button = QPushButton(qta.icon("fa5s.file-import"), "Import a CSV folder...")
        self.import_button.setToolTip("Build a new workspace from a CSV (path, category, one column per "
                                      "attribute) and its images folder (`fashion catalog import`)")
        self.import_button.clicked.connect(self._ask_import)
        self.job_cancel_button = QPushButton(qta.icon("fa5s.stop"), "Cancel")
        self.job_cancel_button.clicked.connect(self.cancel_job)
        self.train_after_check = QCheckBox("Then train an attribute model (needed to search)")
        self.train_after_check.setChecked(True)
        buttons = QHBoxLayout()
        for b in (self.open_button, self.demo_button, self.import_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.job_cancel_button)
        self.job_progress = QProgressBar()
        self.job_progress.setTextVisible(False)
        self.job_label = QLabel("")
        self.job_log = make_log_view("The output of the catalog and training commands appears here.")

        layout = QVBoxLayout(self)
        layout.addWidget(info)
        layout.addLayout(buttons)
        layout.addWidget(self.train_after_check)
        progress = QHBoxLayout()
        progress.addWidget(self.job_progress, 2)
        progress.addWidget(self.job_label, 3)
        layout.addLayout(progress)
        layout.addWidget(self.job_log, 1)
        self.doctor: DoctorView | None = None  # "Check workspace": fashion doctor's report, made on first show
        self.doctor_box = QGroupBox("Health (fashion doctor)")
        self.doctor_layout = QVBoxLayout(self.doctor_box)
        layout.addWidget(self.doctor_box, 1)
        self.set_running(False, False)

    # --- showing a workspace -------------------------------------------------------------------------------
    def show_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        if self.doctor is None:
            self.doctor = DoctorView(workspace)
            self.doctor_layout.addWidget(self.doctor)
        else:
            self.doctor.set_workspace(workspace)
        self.folder_label.setText(str(workspace.root))
        try:
            with Catalog.open(workspace.catalog_path) as catalog:
                counts = catalog.counts()
        except (CatalogError, sqlite3.Error, OSError) as exc:
            self.catalog_label.setText(str(exc))
            self.catalog_label.setStyleSheet(ERROR_STYLE)
            return
        splits = ", ".join(f"{k} {v}" for k, v in counts["splits"].items())
        self.catalog_label.setStyleSheet("")
        self.catalog_label.setText(
            f"{counts['items']} items ({splits}) \u00b7 {counts['categories']} categories \u00b7 "
            f"{counts['attribute_types']} attribute types, {counts['attribute_values']} values \u00b7 "
            f"{counts['outfits']} outfits \u00b7 {counts['feedback_triplets']} feedback triplets")

    def show_models(self, models: list[ModelInfo]) -> None:
        names = [f"{m.name} ({m.method or 'unreadable'})" for m in models]
        self.checkpoints_label.setText(", ".join(names) if names else "none yet: train one in the Training tab")

    def set_running(self, training: bool, job: bool) -> None:
        """Enable what can start now (the pane calls it whenever a training or a job starts or ends)."""
        for b in (self.open_button, self.demo_button, self.import_button):
            b.setEnabled(not training and not job)
        self.job_cancel_button.setEnabled(job)
        self.job_progress.setVisible(job)

    # --- new workspaces ----------------------------------------------------------------------------------
    def create_demo(self, folder: str | Path) -> bool:
        """Build the demo workspace in an empty or new ``folder`` (child processes; progress in the log)."""
        folder = Path(folder).expanduser().resolve()
        if self._busy("create the demo"):
            return False
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            self.error.emit(f"{folder} is not an empty folder.\nPick an empty or new folder for the demo workspace.")
            return False
        steps: list[CliRun] = [CliRun(["catalog", "demo", "--workspace", folder, *self.demo_recipe.catalog_flags],
                                      "Building the demo catalog", parent=self)]
        self._job_folder_was_new = True
        return self._start_job(Workspace(folder), steps)

    def import_catalog(self, csv: str | Path, images: str | Path | None, folder: str | Path) -> bool:
        """Import ``csv`` (paths relative to ``images``) into a new workspace at ``folder``."""
        csv, folder = Path(csv).expanduser().resolve(), Path(folder).expanduser().resolve()
        if self._busy("import a catalog"):
            return False
        if not csv.is_file():
            self.error.emit(f"{csv} is not a file; pick the CSV (columns: path, category, one per attribute).")
            return False
        if images is not None and not Path(images).is_dir():
            self.error.emit(f"{images} is not a folder; pick the folder the CSV's paths are relative to.")
            return False
        ws = Workspace(folder)
        if ws.exists():
            self.error.emit(f"{folder} already holds a catalog.\nPick a new folder for the import, or open it.")
            return False
        args = ["catalog", "import", "--workspace", folder, csv]
        if images is not None:
            args += ["--images", Path(images).expanduser().resolve()]
        self._job_folder_was_new = not folder.exists() or not any(folder.iterdir())
        return self._start_job(ws, [CliRun(args, f"Importing {csv.name}", parent=self)])

    def _start_job(self, ws: Workspace, steps: list[CliRun]) -> bool:
        if self.train_after_check.isChecked():
            recipe = self.demo_recipe
            try:
                values = {**device_values(get_method(recipe.train_method), self._device()), **recipe.train_values}
                steps.append(TrainingRun(ws, recipe.train_method, values, parent=self))
            except ValueError as exc:  # the recipe's values do not fit the method: nothing starts
                for step in steps:
                    step.deleteLater()
                self.error.emit(f"Training {recipe.train_method}: {exc}")
                return False
        self._job_workspace = ws
        self._job_queue = steps
        self.job_log.clear()
        self._next_job_step()
        return True

    def _next_job_step(self) -> None:
        if self.job is not None:
            self.job.deleteLater()
            self.job = None
        if not self._job_queue:
            ws, self._job_workspace = self._job_workspace, None
            self.job_label.setText(f"Ready: {ws.root}")
            self.job_log.appendPlainText(f"the workspace {ws.root} is ready")
            self.running_changed.emit()
            self.workspace_ready.emit(ws)
            return
        self.job = self._job_queue.pop(0)
        self.job.log.connect(self.job_log.appendPlainText)
        self.job.progress.connect(self._on_job_progress)
        self.job.finished.connect(lambda _result: self._next_job_step())
        self.job.failed.connect(self._on_job_failed)
        self.job.cancelled.connect(lambda: self._end_job("Cancelled."))
        if isinstance(self.job, TrainingRun):
            self.job.event.connect(self._on_job_event)
        self.job_label.setText(self.job.title)
        self.job_progress.setRange(0, 0)  # busy until the first progress report
        self.job.start()
        self.running_changed.emit()

    def _on_job_event(self, event: dict) -> None:
        text = describe_event(event)
        if text:
            self.job_log.appendPlainText(text)

    def _on_job_progress(self, done: int, total: int, label: str) -> None:
        self.job_progress.setRange(0, total)
        self.job_progress.setValue(done)
        self.job_label.setText(f"{self.job.title if self.job else ''}: {label}")

    def _end_job(self, message: str) -> None:
        self._job_queue.clear()
        if self.job is not None:
            self.job.deleteLater()
            self.job = None
        ws, self._job_workspace = self._job_workspace, None
        if ws is not None and self._job_folder_was_new and not ws.exists():
            remove_build_leftovers(ws.root)
        if ws is not None and ws.exists():
            message += f"\nThe catalog in {ws.root} is complete: open it, then train a model (Training tab)."
        self.job_progress.setRange(0, 1)
        self.job_progress.setValue(0)
        self.job_label.setText(message.splitlines()[0])
        self.running_changed.emit()

    def _on_job_failed(self, message: str) -> None:
        self._end_job(message)
        self.error.emit(message)

    def cancel_job(self) -> bool:
        if self.job is None or not self.job.is_running():
            return False
        return self.job.cancel()

    def shutdown(self, wait_ms: int) -> None:
        """End the running step, if any (blocking, at most about ``wait_ms``)."""
        self._job_queue.clear()
        if self.job is not None and self.job.is_running():
            self.job.cancel(wait_ms=wait_ms)
        if self.doctor is not None:
            self.doctor.wait(wait_ms)

    # --- dialogs -----------------------------------------------------------------------------------------
    def _start_folder(self) -> str:
        return str(self.workspace.root.parent) if self.workspace is not None else str(Path.home())

    def _ask_open(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a workspace folder", self._start_folder())
        if path:
            self.open_requested.emit(Path(path))

    def _ask_demo(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "An empty folder for the demo workspace", self._start_folder())
        if path:
            self.create_demo(path)

    def _ask_import(self) -> None:
        csv, _ = QFileDialog.getOpenFileName(self, "The dataset's CSV (path, category, one column per attribute)",
                                             str(Path.home()), "CSV files (*.csv);;All files (*)")
        if not csv:
            return
        images = QFileDialog.getExistingDirectory(self, "The folder the CSV's image paths are relative to",
                                                  str(Path(csv).parent))
        if not images:
            return
        folder = QFileDialog.getExistingDirectory(self, "A new folder for the workspace", str(Path(csv).parent))
        if folder:
            self.import_catalog(csv, images, folder)
