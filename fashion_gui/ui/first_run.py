"""First run: build the demo workspace behind a progress dialog, with the same child processes as the Settings
pane (training_run.py): ``fashion catalog demo``, then ``fashion train`` of each first-run method one after
another (the attribute model first: the others build on it), then the engine opens once on the engine
worker thread so the indexes are built and the app opens ready to use. Nothing trains in the GUI process.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QProgressDialog, QWidget

from fashion_gui.engine import EngineConfig
from fashion_gui.methods import REQUEST_KINDS, MethodSpec, get_method
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.training_run import PROGRESS_SCALE, CliRun, TrainingRun, device_values
from fashion_gui.workspace import Workspace

# the models trained at first run, in this order (each later one may build on the earlier ones)
FIRST_RUN_METHODS: tuple[str, ...] = ("adde", "uigr-tirg", "adde-o")
DEMO_FLAGS: tuple[str, ...] = ()  # `fashion catalog demo` flags: its defaults (one render process per core)
INDEX_STEP = "building the search indexes"


def training_title(spec: MethodSpec) -> str:
    """"training the attribute model (adde)", "training the model for text feedback and items that go with
    this (uigr-tirg)": what a first-run step does, from the method's registry entry."""
    if spec.encoder:
        return f"training the attribute model ({spec.name})"
    return f"training the model for {' and '.join(REQUEST_KINDS[k] for k in spec.serves)} ({spec.name})"


class DemoBuildDialog(QProgressDialog):
    """Modal progress while the demo workspace is built; ``exec()`` returns Accepted when it succeeded, else
    Rejected with the reason in ``error``. The bar shows the whole build: each of the steps (the catalog,
    one per method, the indexes) is an equal share, and the label names the step ("step 2 of 5: training
    the attribute model (adde)") with the step's own progress below it.

    ``values`` maps a method to its option values (the registry's defaults otherwise); ``client`` is the
    app's engine worker, which opens the new workspace to build its indexes. ``progressed(value, label)``
    follows the bar (per mille, never moving back) and its label."""

    progressed = Signal(int, str)

    def __init__(self, workspace: Workspace, client: EngineClient, catalog_flags: Sequence[str] = DEMO_FLAGS,
                 methods: Sequence[str] = FIRST_RUN_METHODS, values: Mapping[str, Mapping[str, Any]] | None = None,
                 device: str = "auto", parent: QWidget | None = None) -> None:
        super().__init__("Building the demo workspace...", "", 0, PROGRESS_SCALE, parent)
        self.setWindowTitle("Fashion retrieval: first run")
        self.setCancelButton(None)
        self.setMinimumDuration(0)
        self.setAutoClose(False)  # reaching 100% of one step must not end the dialog (exec would return Rejected)
        self.setAutoReset(False)
        self.workspace, self.client, self.device = workspace, client, device
        self.error: str | None = None
        values = values or {}
        self.runs: list[CliRun] = [CliRun(["catalog", "demo", "--workspace", workspace.root, "--force", *catalog_flags],
                                          "Rendering the demo catalog", parent=self)]
        self.titles = ["rendering the demo catalog"]
        for name in methods:  # every method's values are checked here, before anything runs
            spec = get_method(name)
            self.runs.append(TrainingRun(workspace, name, {**device_values(spec, device), **values.get(name, {})},
                                         parent=self))
            self.titles.append(training_title(spec))
        self.titles.append(INDEX_STEP)
        self.canceled.connect(self.reject)  # the window's close button: QProgressDialog cancels, then this
        self.step = 0  # 0-based index of the step running now
        self._engine_connected = False
        self.log: list[str] = []  # every child's output, for the error message and tests
        for run in self.runs:
            run.log.connect(self.log.append)
            run.progress.connect(self._on_step_progress)
            run.finished.connect(lambda _result: self._next_step())
            run.failed.connect(self._fail)

    @property
    def steps(self) -> int:
        return len(self.titles)

    def exec(self) -> int:
        self._start_step(0)
        return super().exec()

    # --- steps ---------------------------------------------------------------------------------------
    def _start_step(self, index: int) -> None:
        self.step = index
        self._show(0.0, "")
        if index < len(self.runs):
            self.runs[index].start()
        else:
            self.client.opened.connect(self._on_opened)
            self.client.open_failed.connect(self._on_open_failed)
            self.client.progress.connect(self._on_engine_progress)
            self._engine_connected = True
            self.client.open(self.workspace, self.device, EngineConfig())

    def _next_step(self) -> None:
        self._start_step(self.step + 1)

    def _show(self, fraction: float, detail: str) -> None:
        """Overall progress: the finished steps plus ``fraction`` of the current one, each an equal share."""
        value = round(PROGRESS_SCALE * (self.step + min(max(fraction, 0.0), 1.0)) / self.steps)
        value = max(value, self.value())  # the index step reports several stages, each from 0
        text = f"Building the demo workspace\nstep {self.step + 1} of {self.steps}: {self.titles[self.step]}"
        text += f"\n{detail}" if detail else ""
        # setValue last: a modal progress dialog processes events inside it, so a newer report may be
        # shown from there; this one must not overwrite it afterwards
        self.progressed.emit(value, text)
        self.setLabelText(text)
        self.setValue(value)

    def _on_step_progress(self, done: int, total: int, label: str) -> None:
        self._show(done / max(total, 1), label)

    def _on_engine_progress(self, stage: str, done: int, total: int) -> None:
        self._show(done / max(total, 1), f"{stage} ({done}/{total})")

    def _disconnect_engine(self) -> None:
        if not self._engine_connected:
            return
        self._engine_connected = False
        self.client.opened.disconnect(self._on_opened)
        self.client.open_failed.disconnect(self._on_open_failed)
        self.client.progress.disconnect(self._on_engine_progress)

    def _on_opened(self, _info: dict) -> None:
        self._disconnect_engine()
        self.setValue(PROGRESS_SCALE)
        self.accept()

    def _on_open_failed(self, message: str) -> None:
        self._disconnect_engine()
        self._fail(f"The search engine could not open the new workspace: {message}")

    def _fail(self, message: str) -> None:
        self.error = message
        QDialog.reject(self)

    def is_running(self) -> bool:
        """A child process of the build is running."""
        return any(run.is_running() for run in self.runs)

    def reject(self) -> None:
        """Closing the dialog (Escape, the window's close button) cancels the build."""
        for run in self.runs:
            if run.is_running():
                run.cancel(wait_ms=5000)
        self._disconnect_engine()  # an engine still opening is left to the app's worker, unwatched
        self.error = self.error or "The first run was cancelled before the demo workspace was ready."
        QDialog.reject(self)
