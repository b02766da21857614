"""First run: build the demo workspace behind a progress dialog, with the same child processes as the Settings
pane (training_run.py): ``fashion catalog demo``, then ``fashion train`` of each first-run method one after
another (the attribute model first: the others build on it), then the engine opens once on the engine
worker thread so the indexes are built and the app opens ready to use. Nothing trains in the GUI process.

The dialog shows one bar over all the steps (each weighted by its usual duration), the step's name, its own
progress and the time left. Cancel (the button, Escape or the window's close button) asks first, then stops
the running child process; what is finished stays, and ``<workspace>/first_run.json`` (first_run_state.py)
records it, so the next start can resume: the finished steps are skipped and the interrupted training
continues from its ``state.pt`` (``fashion train --resume``).
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.engine import EngineConfig
from fashion_gui.inference.cpu import busy_cores, training_threads
from fashion_gui.methods import REQUEST_KINDS, MethodSpec, get_method
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.first_run_state import (
    CATALOG_STEP,
    FIRST_RUN_TRAINING,
    INDEX_STEP,
    BuildEstimate,
    FirstRunState,
    thread_values,
)
from fashion_gui.ui.training_run import PROGRESS_SCALE, CliRun, TrainingRun, device_values, format_remaining
from fashion_gui.workspace import Workspace

FIRST_RUN_METHODS: tuple[str, ...] = tuple(t.method for t in FIRST_RUN_TRAINING)
DEMO_FLAGS: tuple[str, ...] = ()  # `fashion catalog demo` flags: its defaults (one render process per core)
CATALOG_TITLE = "rendering the demo catalog"
INDEX_TITLE = "building the search indexes"
TITLE = "Building the demo workspace"


def training_title(spec: MethodSpec) -> str:
    """"training the attribute model (adde)", "training the model for text feedback and items that go with
    this (uigr-tirg)": what a first-run step does, from the method's registry entry."""
    if spec.encoder:
        return f"training the attribute model ({spec.name})"
    return f"training the model for {' and '.join(REQUEST_KINDS[k] for k in spec.serves)} ({spec.name})"


def step_titles(methods: Sequence[str]) -> list[str]:
    """What each step of a first run training ``methods`` does, in order (catalog, trainings, indexes)."""
    return [CATALOG_TITLE, *(training_title(get_method(m)) for m in methods), INDEX_TITLE]


def first_run_values(spec: MethodSpec, device: str, cpu_count: int | None, busy: float | None) -> dict[str, Any]:
    """The option values a first-run training starts from: the device chosen, and on a small machine as many
    CPU threads as the other programs leave free (first_run_state.thread_values)."""
    return {**device_values(spec, device), **thread_values((o.name for o in spec.options()), cpu_count, busy)}


class DemoBuildDialog(QDialog):
    """Modal progress while the demo workspace is built; ``exec()`` returns Accepted when it succeeded, else
    Rejected with the reason in ``error`` (``cancelled`` tells a user's cancel from a failure).

    ``values`` maps a method to option values on top of :func:`first_run_values`; ``resume`` is the state
    of an interrupted first run of this workspace: its finished steps are skipped, its trainings keep the
    values they had, and a training whose checkpoint folder holds a ``state.pt`` continues from it.
    ``client`` is the app's engine worker, which opens the new workspace to build its indexes.
    ``progressed(value, label)`` follows the bar (per mille, never moving back) and its text; the text's
    second line names the step ("step 2 of 5: training the attribute model (adde)")."""

    progressed = Signal(int, str)

    def __init__(self, workspace: Workspace, client: EngineClient, catalog_flags: Sequence[str] = DEMO_FLAGS,
                 methods: Sequence[str] = FIRST_RUN_METHODS, values: Mapping[str, Mapping[str, Any]] | None = None,
                 device: str = "auto", resume: FirstRunState | None = None, cpu_count: int | None = None,
                 busy: float | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fashion retrieval: first run")
        self.setModal(True)
        self.workspace, self.client, self.device = workspace, client, device
        self.error: str | None = None
        self.cancelled = False
        self.log: list[str] = []  # every child's output, for the error message and tests
        cpu_count = os.cpu_count() if cpu_count is None else cpu_count
        if busy is None and training_threads(cpu_count, 0.0) is not None:
            busy = busy_cores()  # what other programs use now, before anything of ours runs (a quarter second)
        values = values or {}
        methods = list(resume.steps[1:-1]) if resume is not None else list(methods)
        self.keys = [CATALOG_STEP, *methods, INDEX_STEP]
        self.state = resume or FirstRunState(list(self.keys))
        self.runs: list[CliRun] = [CliRun(["catalog", "demo", "--workspace", workspace.root, "--force", *catalog_flags],
                                          "Rendering the demo catalog", parent=self)]
        self.titles = [CATALOG_TITLE]
        for name in methods:  # every method's values are checked here, before anything runs
            spec = get_method(name)
            if resume is not None and name in resume.values:
                run_values = resume.values[name]  # the options its state.pt was saved with
            else:
                run_values = {**first_run_values(spec, device, cpu_count, busy), **values.get(name, {})}
            folder = workspace.checkpoints / spec.default_checkpoint(spec.make_config(dict(run_values)))
            again = resume is not None and name not in resume.finished and (folder / "state.pt").is_file()
            run = TrainingRun(workspace, name, run_values, resume=again, parent=self)
            self.state.values.setdefault(name, dict(run.values))
            self.runs.append(run)
            self.titles.append(training_title(spec))
        self.titles.append(INDEX_TITLE)
        self.estimate = BuildEstimate(self.keys)
        self._weights = self.estimate.weights()
        self.step = 0  # 0-based index of the step running now
        self._engine_connected = False
        self._stopping = False
        self._value = 0
        self.confirmation: QMessageBox | None = None  # the "stop the first run?" question while it is open
        self.finished_with: int | None = None  # Accepted / Rejected once the build is over
        for run in self.runs:
            run.log.connect(self.log.append)
            run.progress.connect(self._on_step_progress)
            run.finished.connect(lambda _result: self._step_finished())
            run.failed.connect(self._fail)
            run.cancelled.connect(self._stopped)
        self._build()

    def _build(self) -> None:
        self.title_label = QLabel(TITLE)
        self.title_label.setObjectName("sectionTitle")
        self.step_label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, PROGRESS_SCALE)
        self.bar.setFormat("%p%")
        self.detail_label = QLabel()
        self.detail_label.setStyleSheet("color: #555;")
        self.time_label = QLabel("estimating the time left\u2026")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the first run (it asks first); what is finished is kept and the "
                                      "next start offers to resume")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QDialogButtonBox()
        buttons.addButton(self.cancel_button, QDialogButtonBox.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.step_label)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.time_label)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    @property
    def steps(self) -> int:
        return len(self.titles)

    def value(self) -> int:
        """The bar, per mille of the whole build."""
        return self._value

    def start(self) -> None:
        """Start the first step not finished (``exec`` does; a caller that shows the dialog itself calls it)."""
        first = next((i for i, key in enumerate(self.keys) if key not in self.state.finished), len(self.keys))
        for key in self.keys[:first]:
            self.log.append(f"{key}: finished before, skipped")
        self._start_step(first)

    def exec(self) -> int:
        self.start()
        if self.finished_with is not None:  # over before the dialog showed (nothing left to do)
            return self.finished_with
        return super().exec()

    def done(self, result: int) -> None:
        self.finished_with = result
        super().done(result)

    # --- steps ---------------------------------------------------------------------------------------
    def _start_step(self, index: int) -> None:
        if index >= len(self.keys):  # everything had been finished before
            self._done()
            return
        self.step = index
        self.estimate.start(self.keys[index], time.monotonic())
        self._show(0.0, "")
        if index < len(self.runs):
            self.runs[index].start()
        else:
            self.client.opened.connect(self._on_opened)
            self.client.open_failed.connect(self._on_open_failed)
            self.client.progress.connect(self._on_engine_progress)
            self._engine_connected = True
            self.client.open(self.workspace, self.device, EngineConfig())

    def _step_finished(self) -> None:
        key = self.keys[self.step]
        self.estimate.finish(key, time.monotonic())
        self.state.mark_finished(key)
        self._save_state()
        if self._stopping:  # it ended before the cancel reached it: keep it, stop here
            self._stopped()
            return
        self._start_step(self.step + 1)

    def _save_state(self) -> None:
        """Record what is finished (once the catalog exists: the folder is the workspace from then on)."""
        if CATALOG_STEP not in self.state.finished:
            return
        try:
            self.state.save(self.workspace)
        except OSError as exc:  # the build goes on; only a later resume is lost
            self.log.append(f"could not record the first run's progress in {FirstRunState.path(self.workspace)}: "
                            f"{exc}")

    def _show(self, fraction: float, detail: str, step_remaining: float | None = None) -> None:
        """The bar: the finished steps plus ``fraction`` of the current one, each weighted by its usual time."""
        fraction = min(max(fraction, 0.0), 1.0)
        done = sum(w for key, w in zip(self.keys, self._weights) if key in self.state.finished
                   and key != self.keys[self.step])
        value = round(PROGRESS_SCALE * (done + fraction * self._weights[self.step]))
        value = min(max(value, self._value), PROGRESS_SCALE)  # the index step reports several stages, each from 0
        self._value = value
        step = f"step {self.step + 1} of {self.steps}: {self.titles[self.step]}"
        left = self.estimate.remaining(self.keys[self.step], fraction, time.monotonic(), step_remaining)
        remaining = f"{format_remaining(left)} in all"
        self.step_label.setText(step[:1].upper() + step[1:])
        self.detail_label.setText(detail)
        self.time_label.setText(remaining)
        self.bar.setValue(value)
        self.progressed.emit(value, "\n".join([TITLE, step, detail, remaining]))

    def _on_step_progress(self, done: int, total: int, label: str) -> None:
        run = self.runs[self.step] if self.step < len(self.runs) else None
        step_remaining = run.remaining if isinstance(run, TrainingRun) else None
        self._show(done / max(total, 1), label, step_remaining)

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
        self._done()

    def _done(self) -> None:
        self._value = PROGRESS_SCALE
        self.bar.setValue(PROGRESS_SCALE)
        FirstRunState.remove(self.workspace)  # nothing left to resume
        self._close_confirmation()
        self.accept()

    def _on_open_failed(self, message: str) -> None:
        self._disconnect_engine()
        self._fail(f"The search engine could not open the new workspace: {message}")

    def _fail(self, message: str) -> None:
        self.error = message
        self._close_confirmation()
        QDialog.reject(self)

    def is_running(self) -> bool:
        """A child process of the build is running."""
        return any(run.is_running() for run in self.runs)

    # --- cancel ----------------------------------------------------------------------------------------
    def reject(self) -> None:
        """Cancel, Escape: ask before stopping (the build goes on while the question is open)."""
        self.ask_to_stop()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """The window's close button asks too; a dialog that is over (or never shown) just closes."""
        if not self.isVisible() or self.cancelled or self.error is not None:
            event.accept()
            return
        event.ignore()
        self.ask_to_stop()

    def ask_to_stop(self) -> QMessageBox | None:
        """Open the question (once); Stop cancels the running step. Returns the question box."""
        if self._stopping:
            return None
        if self.confirmation is None:
            finished = [self.titles[i] for i, key in enumerate(self.keys) if key in self.state.finished]
            kept = ("What is finished is kept (" + ", ".join(finished) + ")" if finished
                    else "Nothing is finished yet")
            box = QMessageBox(QMessageBox.Question, "Stop the first run?",
                              f"Stop building the demo workspace?\nIt is at step {self.step + 1} of {self.steps}: "
                              f"{self.titles[self.step]}.", QMessageBox.NoButton, self)
            box.setInformativeText(f"{kept}; the next start offers to resume where it stopped.")
            self.stop_button = box.addButton("Stop", QMessageBox.DestructiveRole)
            box.setDefaultButton(box.addButton("Keep going", QMessageBox.RejectRole))
            box.setWindowModality(Qt.WindowModal)
            box.finished.connect(lambda _r: self._on_confirmation(box))
            self.confirmation = box
            box.open()
        return self.confirmation

    def _on_confirmation(self, box: QMessageBox) -> None:
        stop = box.clickedButton() is self.stop_button
        self.confirmation = None
        box.deleteLater()
        if stop:
            self.stop()

    def _close_confirmation(self) -> None:
        if self.confirmation is not None:
            box, self.confirmation = self.confirmation, None
            box.finished.disconnect()
            box.close()
            box.deleteLater()

    def stop(self) -> None:
        """Stop now (no question): cancel the running child process; the dialog ends when it has gone."""
        if self._stopping:
            return
        self._stopping = True
        self.cancel_button.setText("Stopping\u2026")
        self.cancel_button.setEnabled(False)  # the stop is under way; a second one would change nothing
        self.time_label.setText("stopping: waiting for the running step to end\u2026")
        running = [run for run in self.runs if run.is_running()]
        for run in running:
            run.cancel()  # terminate, then kill after a few seconds; `cancelled` follows
        if not running:  # between steps, or the engine building the indexes (left to the app's worker)
            self._stopped()

    def _stopped(self) -> None:
        """The running step has gone: record where it stopped and end the dialog."""
        if self.cancelled:
            return
        self._stopping = True
        self.cancelled = True
        self._disconnect_engine()
        key = self.keys[self.step]
        self.state.interrupted = None if key in self.state.finished else key
        self._save_state()
        self.error = self.error or "The first run was cancelled before the demo workspace was ready."
        self._close_confirmation()
        QDialog.reject(self)

    def shutdown(self, wait_ms: int = 5000) -> None:
        """End any child process (blocking): for closing the app while the dialog runs."""
        for run in self.runs:
            if run.is_running():
                run.cancel(wait_ms=wait_ms)
