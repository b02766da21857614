"""First run: build the demo workspace in a worker thread behind a progress dialog: the catalog, the
default attribute model (ADDE), the composed model for text feedback (UIGR-TIRG) and the outfit head
(ADDE-O), then the search indexes, so the app opens ready to use."""
from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.engine import RetrievalEngine
from fashion_gui.errors import failure_message
from fashion_gui.training.adde import ADDETrainConfig, ADDETrainer
from fashion_gui.training.outfit import OutfitTrainConfig, OutfitTrainer
from fashion_gui.training.uigr import UIGRTrainConfig, UIGRTrainer
from fashion_gui.training.events import TrainEvent
from fashion_gui.workspace import Workspace

DEMO_MODEL = "adde"  # checkpoint folder of the attribute model trained at first run
DEMO_TEXT_MODEL = "uigr-tirg"  # ... of the composed model (text feedback, compatible items)
DEMO_OUTFIT_MODEL = "adde-o"  # ... of the outfit head on DEMO_MODEL


class DemoBuildWorker(QObject):
    """Renders the demo catalog, trains the models that are given a config (attribute model first: the
    others build on it), then opens the engine once so the indexes are built.

    Reports (stage, done, total), then finished or failed.
    """

    progress = Signal(str, int, int)
    finished = Signal(dict)
    failed = Signal(str)

    def __init__(self, workspace: Workspace, config: DemoConfig, train: ADDETrainConfig | None,
                 composed: UIGRTrainConfig | None = None, outfit: OutfitTrainConfig | None = None) -> None:
        super().__init__()
        self.workspace, self.config, self.train = workspace, config, train
        self.composed, self.outfit = composed, outfit

    def _on_train_event(self, event: TrainEvent) -> None:
        if event.kind == "step":
            self.progress.emit(f"training the {event.stage} stage, epoch {event.epoch}/{event.epochs}",
                               event.step, event.steps)

    def _on_engine_progress(self, stage: str, done: int, total: int) -> None:
        self.progress.emit(f"building the search indexes: {stage}", done, total)

    @Slot()
    def run(self) -> None:
        try:
            counts = build_demo(self.workspace, self.config, force=True, progress=self.progress.emit)
            ckpts = self.workspace.checkpoints
            if self.train is not None:
                ADDETrainer(self.workspace, self.train, ckpts / DEMO_MODEL, [self._on_train_event]).run()
                if self.composed is not None:
                    UIGRTrainer(self.workspace, self.composed, ckpts / DEMO_TEXT_MODEL, [self._on_train_event]).run()
                if self.outfit is not None:
                    OutfitTrainer(self.workspace, self.outfit, ckpts / DEMO_OUTFIT_MODEL, [self._on_train_event]).run()
                engine = RetrievalEngine.open(self.workspace, progress=self._on_engine_progress)
                engine.close()
        except Exception as exc:  # reported to the user in a dialog; the app keeps running
            self.failed.emit(failure_message(exc)[0])
            return
        self.finished.emit(counts)


class DemoBuildDialog(QProgressDialog):
    """Modal progress while the demo workspace is built; ``exec()`` returns Accepted when it succeeded."""

    def __init__(self, workspace: Workspace, config: DemoConfig = DemoConfig(),
                 train: ADDETrainConfig | None = ADDETrainConfig(),
                 composed: UIGRTrainConfig | None = UIGRTrainConfig(),
                 outfit: OutfitTrainConfig | None = OutfitTrainConfig(), parent: QWidget | None = None) -> None:
        super().__init__("Rendering the demo catalog...", "", 0, 100, parent)
        self.setWindowTitle("Fashion retrieval: first run")
        self.setCancelButton(None)
        self.setMinimumDuration(0)
        self.setAutoClose(False)  # reaching 100% of one stage must not end the dialog (exec would return Rejected)
        self.setAutoReset(False)
        self.error: str | None = None
        self._thread = QThread(self)
        self._worker = DemoBuildWorker(workspace, config, train, composed, outfit)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)

    def exec(self) -> int:
        self._thread.start()
        return super().exec()

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.setLabelText(f"Building the demo workspace: {stage} ({done}/{total})")
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
