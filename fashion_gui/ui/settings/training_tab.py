"""The Settings pane's Training tab: a method, its options as a form built from the method registry, and a
``fashion train`` child process with progress over the whole run, live curves and its log.

Start validates the form through ``MethodSpec.make_config`` (a bad value shows the registry's message and
nothing starts), then :class:`~fashion_gui.ui.training_run.TrainingRun` writes the values to a run.json and
launches ``fashion train METHOD --workspace W --config RUN_JSON --name NAME --progress-json``.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.methods import REQUEST_KINDS, MethodSpec, get_method, list_methods
from fashion_gui.ui.settings.log_view import ERROR_STYLE, make_log_view
from fashion_gui.ui.settings.option_form import OptionForm
from fashion_gui.ui.training_chart import TrainingChart
from fashion_gui.ui.training_run import DEVICE_OPTION, PROGRESS_SCALE, TrainingRun, describe_event, device_values
from fashion_gui.workspace import Workspace

CHECKPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class TrainingTab(QWidget):
    """Method, option form, checkpoint name, Start / Cancel, progress, curves and log. ``run`` is the
    current or last TrainingRun (None before the first); ``trained(name, method)`` follows a finished run
    of the open workspace."""

    trained = Signal(str, str)  # checkpoint name, method
    error = Signal(str)
    running_changed = Signal()

    def __init__(self, busy: Callable[[str], bool], device: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._busy, self._device = busy, device
        self.workspace: Workspace | None = None
        self.run: TrainingRun | None = None
        self.last_problem: str | None = None  # why the form's values cannot start a run (None: they can)

        self.method_box = QComboBox()
        for name in list_methods():
            self.method_box.addItem(name, name)
            self.method_box.setItemData(self.method_box.count() - 1, get_method(name).description, Qt.ToolTipRole)
        self.method_note = QLabel()
        self.method_note.setWordWrap(True)
        self.method_note.setStyleSheet("color: #555;")
        self.form = OptionForm()
        self.form.changed.connect(self._on_form_changed)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(420)
        self.name_edit = QLineEdit()
        self.name_edit.textChanged.connect(self._on_form_changed)
        self.activate_check = QCheckBox("Use it when done (reopens the search engine)")
        self.activate_check.setChecked(True)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(ERROR_STYLE)
        self.start_button = QPushButton(qta.icon("fa5s.play"), "Start")
        self.start_button.clicked.connect(self.start_from_form)
        self.cancel_button = QPushButton(qta.icon("fa5s.stop"), "Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.method_box.currentIndexChanged.connect(lambda _i: self._on_method_changed())

        top = QGridLayout()
        top.addWidget(QLabel("Method"), 0, 0)
        top.addWidget(self.method_box, 0, 1)
        top.addWidget(self.method_note, 1, 0, 1, 2)
        top.setColumnStretch(1, 1)
        bottom = QGridLayout()
        bottom.addWidget(QLabel("Checkpoint name"), 0, 0)
        bottom.addWidget(self.name_edit, 0, 1)
        bottom.addWidget(self.activate_check, 1, 0, 1, 2)
        bottom.addWidget(self.problem_label, 2, 0, 1, 2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(bottom)
        left_layout.addLayout(buttons)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_SCALE)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        self.progress_label = QLabel("Not running.")
        self.progress_label.setWordWrap(True)
        self.chart = TrainingChart()
        self.log_view = make_log_view("The training command's messages appear here.")
        curves = QSplitter(Qt.Vertical)
        curves.addWidget(self.chart)
        curves.addWidget(self.log_view)
        curves.setStretchFactor(0, 3)
        curves.setStretchFactor(1, 1)
        curves.setChildrenCollapsible(False)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.progress_bar)
        right_layout.addWidget(self.progress_label)
        right_layout.addWidget(curves, 1)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([520, 580])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self._on_method_changed()
        self.set_running(False, False)

    # --- the form ----------------------------------------------------------------------------------------
    @property
    def spec(self) -> MethodSpec:
        return get_method(self.method_box.currentData())

    def set_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._on_form_changed()

    def set_device(self, device: str) -> None:
        """The Search tab's device: the form's device option follows it."""
        self.form.set_values({DEVICE_OPTION: device})

    def select_method(self, method: str, values: Mapping[str, Any] | None = None) -> None:
        """Show ``method``'s form (its defaults, the Search tab's device, then ``values``)."""
        index = self.method_box.findData(method)
        if index < 0:
            raise ValueError(f"unknown method {method!r}; available: {', '.join(list_methods())}")
        self.method_box.setCurrentIndex(index)
        self.form.set_values(values or {})

    def _on_method_changed(self) -> None:
        spec = self.spec
        serves = ", ".join(REQUEST_KINDS[k] for k in spec.serves)
        self.method_note.setText(f"{spec.description}. {spec.paper}. Serves: {serves}.")
        self.form.set_method(spec, {DEVICE_OPTION: self._device()})
        self._on_form_changed()

    def _on_form_changed(self) -> None:
        """Check the values as the registry will (the problem is shown at once) and show the default
        checkpoint name of the current values."""
        if not hasattr(self, "problem_label"):  # still building
            return
        spec, name = self.spec, self.name_edit.text().strip()
        try:
            default = spec.default_checkpoint(spec.make_config(self.form.values()))
            problem = None
        except (ValueError, TypeError) as exc:
            default, problem = spec.name, str(exc)
        if problem is None and name and not CHECKPOINT_NAME.match(name):
            problem = f"Checkpoint name {name!r}: use letters, digits, '.', '-' and '_' (it names a folder)."
        self.last_problem = problem
        self.problem_label.setText(problem or "")
        exists = self.workspace is not None and (self.workspace.checkpoints / default / "weights.pt").is_file()
        self.name_edit.setPlaceholderText(f"{default} (the default{'; replaces the existing one' if exists else ''})")

    # --- running -----------------------------------------------------------------------------------------
    def start_from_form(self) -> bool:
        return self.start(self.method_box.currentData(), self.form.values(), self.name_edit.text().strip() or None)

    def start(self, method: str, values: Mapping[str, Any] | None = None, name: str | None = None) -> bool:
        """Launch ``fashion train`` for ``method`` with these option values (the form shows them); a value
        the registry refuses is reported and nothing starts."""
        if self._busy("start a training"):
            return False
        try:
            spec = get_method(method)
        except ValueError as exc:
            self.error.emit(f"{exc}.")
            return False
        if self.method_box.currentData() != method:
            self.select_method(method)
        values = dict(values or {})
        self.form.set_values(values)
        if name and not CHECKPOINT_NAME.match(name):
            self.error.emit(f"Checkpoint name {name!r}: use letters, digits, '.', '-' and '_' (it names a folder).")
            return False
        try:
            run = TrainingRun(self.workspace, spec.name, {**device_values(spec, self._device()), **values}, name,
                              parent=self)
        except (ValueError, TypeError) as exc:
            self.error.emit(f"Training {method}: {exc}")
            return False
        if self.run is not None:
            self.run.deleteLater()
        run.event.connect(self._on_event)
        run.log.connect(self.log_view.appendPlainText)
        run.progress.connect(self._on_progress)
        run.finished.connect(self._on_finished)
        run.failed.connect(self._on_failed)
        run.cancelled.connect(self._on_cancelled)
        self.run = run
        self.chart.clear()
        self.chart.set_total(run.tracker.total)
        self.progress_bar.setValue(0)
        self.progress_label.setText(f"starting {method} (loading the data)...")
        if self.log_view.blockCount() > 1:
            self.log_view.appendPlainText("")
        run.start()
        self.running_changed.emit()
        return True

    def cancel(self) -> bool:
        """Stop the running training (terminate, then kill); ``run.cancelled`` follows. False if none runs."""
        return self.run is not None and self.run.cancel()

    def is_running(self) -> bool:
        return self.run is not None and self.run.is_running()

    def set_running(self, training: bool, job: bool) -> None:
        self.start_button.setEnabled(not training and not job)
        self.cancel_button.setEnabled(training)

    def _on_event(self, event: dict) -> None:
        self.chart.add_event(event)  # the plan event sets the x axis to the whole run
        text = describe_event(event)
        if text:
            self.log_view.appendPlainText(text)

    def _on_progress(self, done: int, total: int, label: str) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.progress_label.setText(label)

    def _on_finished(self, name: str) -> None:
        run = self.run
        self.running_changed.emit()
        if run.workspace != self.workspace:  # the pane moved to another workspace meanwhile
            self.log_view.appendPlainText(f"saved {name} in {run.workspace.root} (not the open workspace)")
            return
        self._on_form_changed()
        self.trained.emit(name, run.method)

    def _on_failed(self, message: str) -> None:
        self.progress_label.setText("Failed.")
        self.running_changed.emit()
        self.error.emit(message)

    def _on_cancelled(self) -> None:
        self.progress_label.setText("Cancelled.")
        self.running_changed.emit()

    def shutdown(self, wait_ms: int) -> None:
        if self.is_running():
            self.run.cancel(wait_ms=wait_ms)
