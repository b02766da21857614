"""Settings > Workspace: the workspace check (``fashion doctor``) as a small self-contained widget.

"Check workspace" runs ``workspace_doctor.check_workspace`` on a thread of the widget's own pool (the GUI never
waits on it) and lists every problem with the command that fixes it; "Clean up" first removes what killed
writers left behind (``fix_workspace``), then checks again. The report is the one ``fashion doctor`` prints.
"""
from __future__ import annotations

from collections.abc import Callable

import qtawesome as qta
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from fashion_gui.errors import failure_message
from fashion_gui.workspace import Workspace
from fashion_gui.workspace_doctor import Report, check_workspace, fix_workspace

__all__ = ["DoctorView"]

CheckFn = Callable[[Workspace], Report]


class _Signals(QObject):
    done = Signal(object)  # Report
    failed = Signal(str, str)  # one-line message, details


class _CheckTask(QRunnable):
    def __init__(self, workspace: Workspace, check: CheckFn, fix: bool, signals: _Signals) -> None:
        super().__init__()
        self.workspace, self.check, self.fix, self.signals = workspace, check, fix, signals

    def run(self) -> None:
        try:
            fixed = fix_workspace(self.workspace) if self.fix else []
            report = self.check(self.workspace)
            report.fixed = fixed + report.fixed
        except Exception as exc:  # shown in the widget; the app keeps running
            self.signals.failed.emit(*failure_message(exc))
            return
        self.signals.done.emit(report)


class DoctorView(QWidget):
    """A "Check workspace" button and the problems it finds, each with its fix command (double-click copies
    it). ``checked`` carries the Report; ``running`` says whether a check is in progress."""

    checked = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None, check: CheckFn | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.report: Report | None = None
        self.last_error: str | None = None
        self._check = check or (lambda ws: check_workspace(ws))
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._running = False
        self._build()

    def _build(self) -> None:
        self.check_button = QPushButton(qta.icon("fa5s.stethoscope"), "Check workspace")
        self.check_button.setToolTip("Check the catalog, every image, the checkpoints, the indexes and leftovers "
                                     "of interrupted writes (fashion doctor)")
        self.check_button.clicked.connect(lambda: self.run_check())
        self.clean_button = QPushButton(qta.icon("fa5s.broom"), "Clean up")
        self.clean_button.setToolTip("Remove what interrupted writes left behind, then check again "
                                     "(fashion doctor --fix)")
        self.clean_button.clicked.connect(lambda: self.run_check(fix=True))
        self.summary = QLabel("Not checked yet.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.problems = QTreeWidget()
        self.problems.setColumnCount(3)
        self.problems.setHeaderLabels(["", "Problem", "Fix"])
        self.problems.setRootIsDecorated(False)
        self.problems.setWordWrap(True)
        self.problems.setToolTip("Double-click a problem to copy its fix command")
        self.problems.itemDoubleClicked.connect(self._copy_fix)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.clean_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addWidget(self.problems, 1)

    # --- running ---------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def set_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.report = None
        self.problems.clear()
        self.summary.setText("Not checked yet.")

    def run_check(self, fix: bool = False) -> bool:
        """Start a check (after a clean-up with ``fix``) off the GUI thread; False while one runs."""
        if self._running:
            return False
        self._running = True
        self.check_button.setEnabled(False)
        self.clean_button.setEnabled(False)
        self.summary.setText(f"Checking {self.workspace.root}...")
        self._pool.start(_CheckTask(self.workspace, self._check, fix, self._signals))
        return True

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until a running check ends (shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    def _finish(self) -> None:
        self._running = False
        self.check_button.setEnabled(True)
        self.clean_button.setEnabled(True)

    def _on_failed(self, message: str, details: str) -> None:
        self._finish()
        self.last_error = message
        self.summary.setText(f"The check failed: {message}")
        self.summary.setToolTip(details)

    def _on_done(self, report: Report) -> None:
        self._finish()
        self.report = report
        self.problems.clear()
        for problem in report.problems:
            icon = qta.icon("fa5s.times-circle" if problem.severity == "error" else "fa5s.exclamation-triangle")
            item = QTreeWidgetItem(["", problem.message, problem.fix])
            item.setIcon(0, icon)
            item.setToolTip(0, problem.severity)
            item.setToolTip(1, f"{problem.area}: {problem.path}")
            item.setToolTip(2, problem.fix)
            item.setData(2, Qt.UserRole, problem.fix)
            self.problems.addTopLevelItem(item)
        self.problems.resizeColumnToContents(0)
        checked = ", ".join(f"{n} {what}" for what, n in report.checked.items())
        fixed = f" Cleaned up {len(report.fixed)} item(s)." if report.fixed else ""
        if report.ok:
            self.summary.setText(f"No problems found ({checked}).{fixed}")
        else:
            errors = sum(p.severity == "error" for p in report.problems)
            self.summary.setText(f"{len(report.problems)} problem(s), {errors} error(s) ({checked}).{fixed} "
                                 "Run the fix next to each problem.")
        self.checked.emit(report)

    def _copy_fix(self, item: QTreeWidgetItem, _column: int) -> None:
        QGuiApplication.clipboard().setText(str(item.data(2, Qt.UserRole)))
