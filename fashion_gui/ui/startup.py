"""The app after the system check (app.py): open a workspace in the search window, building the demo
workspace on first run, or resuming a first run that was stopped (first_run.py, first_run_state.py)."""
from __future__ import annotations

import sys
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from fashion_gui.ui.app_settings import AppSettings
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.first_run import DemoBuildDialog, step_titles
from fashion_gui.ui.first_run_state import FirstRunState
from fashion_gui.ui.search_window import SearchWindow
from fashion_gui.ui.style import apply_style
from fashion_gui.workspace import Workspace
from fashion_gui.workspace_checks import workspace_problem

RESUME, START_OVER, QUIT = "resume", "start over", "quit"


def start(workspace_arg: str | None, device: str | None, qt_args: list[str], started: float) -> int:
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("fashion-gui")
    app.setOrganizationName("fashion-gui")
    apply_style(app)
    settings = AppSettings()
    remembered = settings.workspace
    if workspace_arg is None and remembered is not None and Workspace.at(remembered).exists():
        workspace = Workspace.at(remembered)
    else:
        workspace = Workspace.at(workspace_arg)
    if device:
        settings.device = device
    client = EngineClient()
    try:
        return _run(app, settings, workspace, client, first_run=not workspace.exists() and workspace_arg is None,
                    started=started)
    finally:
        client.shutdown()


def ask_resume(state: FirstRunState, titles: list[str], parent: QWidget | None = None) -> QMessageBox:
    """The question a start asks when the workspace's first run was stopped: Resume (the default), Start
    over or Quit. ``titles`` name the steps (as the first-run dialog does); the caller opens the box."""
    step = state.next_step
    index = state.steps.index(step) if step in state.steps else len(state.steps) - 1
    box = QMessageBox(QMessageBox.Question, "Fashion retrieval: first run",
                      f"The first run stopped at step {index + 1} of {len(state.steps)}: {titles[index]}.",
                      QMessageBox.NoButton, parent)
    done = [titles[i] for i, s in enumerate(state.steps) if s in state.finished]
    box.setInformativeText("Finished: " + ", ".join(done) + ".\nResume where it stopped, or start the demo "
                           "workspace over?")
    box.setDefaultButton(box.addButton("Resume", QMessageBox.AcceptRole))
    box.addButton("Start over", QMessageBox.DestructiveRole)
    box.addButton("Quit", QMessageBox.RejectRole)
    return box


def choice(box: QMessageBox) -> str:
    """What the clicked button of :func:`ask_resume` means (Escape or closing the box: quit)."""
    role = box.buttonRole(box.clickedButton()) if box.clickedButton() is not None else QMessageBox.RejectRole
    return {QMessageBox.AcceptRole: RESUME, QMessageBox.DestructiveRole: START_OVER}.get(role, QUIT)


def _run(app: QApplication, settings: AppSettings, workspace: Workspace, client: EngineClient, first_run: bool,
         started: float) -> int:
    stopped = FirstRunState.load(workspace)
    resume = None
    if stopped is not None and not stopped.complete:
        box = ask_resume(stopped, step_titles(stopped.steps[1:-1]))
        box.exec()
        answer = choice(box)
        if answer == QUIT:
            return 0
        resume = stopped if answer == RESUME else None
        if resume is None:
            FirstRunState.remove(workspace)
        first_run = True
    if first_run:  # build the demo workspace: the same child processes as Settings, then its indexes
        dialog = DemoBuildDialog(workspace, client, device=settings.device, resume=resume)
        if dialog.exec() != QDialog.Accepted:
            if dialog.cancelled:
                QMessageBox.information(None, "Demo catalog", "The first run was stopped. What it finished is "
                                        "kept; the next start offers to resume where it stopped.")
            else:
                QMessageBox.critical(None, "Demo catalog", f"The demo catalog could not be built:\n{dialog.error}")
            return 1
    problem = workspace_problem(workspace)
    if problem is not None:
        QMessageBox.critical(None, "Cannot open workspace", problem)
        return 1
    settings.workspace = workspace.root
    window = SearchWindow(workspace, client, start_with_item=True, settings=settings)
    if settings.window_state()[0] is None:
        window.fit_to_screen()
    window.show()
    window.open_engine()
    client.opened.connect(lambda _info: window.statusBar().showMessage(  # the first open only, not reopens
        f"ready in {time.perf_counter() - started:.1f} s", 8000), Qt.SingleShotConnection)
    return app.exec()
