"""First run: build the demo workspace in a worker thread behind a progress dialog."""
from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.workspace import Workspace


class DemoBuildWorker(QObject):
    """Runs ``build_demo`` on its own thread; reports (stage, done, total), then finished or failed."""

    progress = Signal(str, int, int)
    finished = Signal(dict)
    failed = Signal(str)

    def __init__(self, workspace: Workspace, config: DemoConfig) -> None:
        super().__init__()
        self.workspace, self.config = workspace, config

    @Slot()
    def run(self) -> None:
        try:
            counts = build_demo(self.workspace, self.config, force=True, progress=self.progress.emit)
        except Exception as exc:  # reported to the user in a dialog; the app keeps running
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(counts)


class DemoBuildDialog(QProgressDialog):
    """Modal progress while the demo catalog renders; ``exec()`` returns Accepted when it succeeded."""

    def __init__(self, workspace: Workspace, config: DemoConfig = DemoConfig(), parent: QWidget | None = None) -> None:
        super().__init__("Rendering the demo catalog...", "", 0, 100, parent)
        self.setWindowTitle("Fashion retrieval: first run")
        self.setCancelButton(None)
        self.setMinimumDuration(0)
        self.setAutoClose(False)  # reaching 100% of one stage must not end the dialog (exec would return Rejected)
        self.setAutoReset(False)
        self.error: str | None = None
        self._thread = QThread(self)
        self._worker = DemoBuildWorker(workspace, config)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)

    def exec(self) -> int:
        self._thread.start()
        return super().exec()

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.setLabelText(f"Building the demo catalog: {stage} {done}/{total}")
        self.setMaximum(max(total, 1))
        self.setValue(done)

    def _stop_thread(self) -> None:
        self._thread.quit()
        self._thread.wait(10_000)

    def _on_finished(self, counts: dict) -> None:
        self._stop_thread()
        self.accept()

    def _on_failed(self, message: str) -> None:
        self.error = message
        self._stop_thread()
        self.reject()
