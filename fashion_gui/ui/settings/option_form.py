"""A method's training options as a form, built from the registry (``MethodSpec.options()``): one widget per
option by its kind, grouped per training stage with the stage's epoch count next to its title, the advanced
options behind "More options". The form only collects values; ``MethodSpec.make_config`` validates them.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.methods import MethodSpec, Option

INT_MAX = 100_000_000  # the largest int a spin box offers (keeps the boxes narrow)
NUMBER_WIDTH = 130  # spin boxes do not need the whole row
# what a float may look like while it is being typed ("1e", "-", "2.")
PARTIAL_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d*)?([eE][+-]?\d*)?$")


class FloatSpinBox(QDoubleSpinBox):
    """A float spin box that shows and reads values as 0.001, 4e-05 or 1e-4 (not a fixed count of decimals),
    so learning rates and weight decays read as they are written in the papers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(-1e9, 1e9)

    def textFromValue(self, value: float) -> str:  # noqa: N802
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            float(text)
        except ValueError:
            state = QValidator.Intermediate if PARTIAL_FLOAT.match(text) else QValidator.Invalid
            return state, text, pos
        return QValidator.Acceptable, text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())


class PathField(QWidget):
    """A file path: a line edit and a button that opens a file dialog."""

    changed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("none")
        self.edit.textChanged.connect(self.changed)
        self.button = QToolButton()
        self.button.setIcon(qta.icon("fa5s.folder-open"))
        self.button.setToolTip("Choose a file")
        self.button.clicked.connect(self.browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.title, self.edit.text())
        if path:
            self.edit.setText(path)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802
        self.edit.setText(text)


def label_text(opt: Option) -> str:
    """"image_size" -> "Image size"; short names ("d", "lr") as they are, like their flags."""
    text = opt.name.replace("_", " ")
    return text[:1].upper() + text[1:] if len(text) > 2 else text


def make_widget(opt: Option) -> QWidget:
    """The editor of one option: a combo for choices, a check box, a spin box, a file picker or a line edit."""
    if opt.choices is not None:
        box = QComboBox()
        for choice in opt.choices:
            box.addItem(str(choice), choice)
        return box
    if opt.kind == "bool":
        return QCheckBox()
    if opt.kind == "int" and not opt.optional:
        spin = QSpinBox()
        spin.setRange(min(0, int(opt.default)), INT_MAX)
        spin.setMaximumWidth(NUMBER_WIDTH)
        return spin
    if opt.kind == "float" and not opt.optional:
        spin = FloatSpinBox()
        spin.setMaximumWidth(NUMBER_WIDTH)
        spin.setSingleStep(10.0 ** math.floor(math.log10(abs(float(opt.default)) or 1.0)))  # 3e-4 steps by 1e-4
        return spin
    if opt.kind == "path":
        return PathField(f"{label_text(opt)}: {opt.help}")
    edit = QLineEdit()
    if opt.kind in ("ints", "strs"):
        edit.setPlaceholderText("values separated by spaces; empty: none")
    elif opt.optional:
        edit.setPlaceholderText("none")
    return edit


def widget_value(opt: Option, widget: QWidget) -> Any:
    """What the widget holds, as the registry reads it: list options as their text; None for an empty field
    of an option that may be none (its default is None, e.g. no weights file)."""
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value()
    text = widget.text().strip() if isinstance(widget, (QLineEdit, PathField)) else ""
    if opt.kind in ("ints", "strs"):
        return text
    return None if not text and (opt.optional or opt.default is None) else text


def set_widget_value(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QComboBox):
        index = widget.findData(value)
        widget.setCurrentIndex(index if index >= 0 else widget.findText(str(value)))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QDoubleSpinBox):
        widget.setValue(float(value))
    elif isinstance(widget, (QLineEdit, PathField)):
        if value is None:
            widget.setText("")
        elif isinstance(value, (list, tuple)):
            widget.setText(" ".join(str(v) for v in value))
        else:
            widget.setText(str(value))


def _changed_signal(widget: QWidget):
    if isinstance(widget, QComboBox):
        return widget.currentIndexChanged
    if isinstance(widget, QCheckBox):
        return widget.toggled
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.valueChanged
    if isinstance(widget, PathField):
        return widget.changed
    return widget.textChanged


class OptionForm(QWidget):
    """The form of one method: general options, then one group per training stage whose header holds the
    stage's title and its epoch count, then "More options" (the advanced ones, hidden until asked for).
    ``changed`` fires on every edit; :meth:`values` returns the option values; :meth:`set_values` fills it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec: MethodSpec | None = None
        self.options: dict[str, Option] = {}
        self.widgets: dict[str, QWidget] = {}
        self.epoch_widgets: dict[str, QWidget] = {}  # stage name -> its epochs editor
        self.stage_titles: dict[str, QLabel] = {}  # stage name -> its header label
        self._rows: list[tuple[QFormLayout, QWidget, Option]] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._body: QWidget | None = None
        self.more_button = QToolButton()
        self.more_button.setText("More options")
        self.more_button.setCheckable(True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.more_button.setArrowType(Qt.RightArrow)
        self.more_button.toggled.connect(self.show_advanced)

    # --- building -------------------------------------------------------------------------------------
    def set_method(self, spec: MethodSpec, values: Mapping[str, Any] | None = None) -> None:
        """Rebuild the form for ``spec`` with its defaults, then ``values`` on top."""
        if self._body is not None:
            self._layout.removeWidget(self._body)
            self._layout.removeWidget(self.more_button)
            self.more_button.setParent(None)
            self._body.deleteLater()
        self.spec = spec
        self.options = {o.name: o for o in spec.options()}
        self.widgets, self.epoch_widgets, self.stage_titles, self._rows = {}, {}, {}, []
        body = self._body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)

        stage_names = {s.name for s in spec.stages}
        epoch_fields = {s.epochs_field for s in spec.stages}
        general = [o for o in self.options.values()
                   if (o.stage not in stage_names) and o.name not in epoch_fields]
        general_box = QGroupBox("General")
        general_form = _form(general_box)
        column.addWidget(general_box)
        for stage_number, stage in enumerate(spec.stages, start=1):
            group = QGroupBox()
            group.setObjectName(f"stage-{stage.name}")
            rows = QVBoxLayout(group)
            header = QHBoxLayout()
            prefix = f"Stage {stage_number} of {len(spec.stages)}: " if len(spec.stages) > 1 else ""
            title = QLabel(f"<b>{prefix}{stage.title}</b>")
            title.setWordWrap(True)  # a narrow panel wraps the title, not the epochs beside it
            self.stage_titles[stage.name] = title
            header.addWidget(title, 1)
            epochs = self.options.get(stage.epochs_field)
            if epochs is not None:
                widget = self._add_widget(epochs)
                header.addWidget(QLabel("Epochs"))
                header.addWidget(widget)
                self.epoch_widgets[stage.name] = widget
            rows.addLayout(header)
            form = _form()
            rows.addLayout(form)
            for opt in self.options.values():
                if opt.stage == stage.name and opt.name not in epoch_fields:
                    self._add_row(form, opt)
            column.addWidget(group)
        for opt in general:
            if not opt.advanced:
                self._add_row(general_form, opt)
        column.addWidget(self.more_button, 0, Qt.AlignLeft)
        self.advanced_box = QGroupBox("More options")
        advanced_form = _form(self.advanced_box)
        for opt in general:
            if opt.advanced:
                self._add_row(advanced_form, opt)
        column.addWidget(self.advanced_box)
        column.addStretch(1)
        self._layout.addWidget(body)
        self.set_values(values or {})
        self.show_advanced(self.more_button.isChecked())

    def _add_widget(self, opt: Option) -> QWidget:
        widget = make_widget(opt)
        widget.setToolTip(f"{opt.flag}: {opt.help}")
        set_widget_value(widget, opt.default)
        _changed_signal(widget).connect(self.changed)
        self.widgets[opt.name] = widget
        return widget

    def _add_row(self, form: QFormLayout, opt: Option) -> None:
        widget = self._add_widget(opt)
        label = QLabel(label_text(opt))
        label.setToolTip(widget.toolTip())
        form.addRow(label, widget)
        self._rows.append((form, widget, opt))

    # --- values ---------------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The option values; an empty field of an option that may be none is left out (its default, none)."""
        values = {name: widget_value(self.options[name], w) for name, w in self.widgets.items()}
        return {name: value for name, value in values.items() if value is not None}

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (option name -> value); names this method does not offer are ignored."""
        for name, value in values.items():
            if name in self.widgets:
                set_widget_value(self.widgets[name], value)

    def show_advanced(self, on: bool) -> None:
        """Show or hide the advanced options (the "More options" toggle)."""
        self.more_button.setArrowType(Qt.DownArrow if on else Qt.RightArrow)
        if self.more_button.isChecked() != on:
            self.more_button.setChecked(on)
        self.advanced_box.setVisible(on and bool(self.advanced_box.layout().rowCount()))
        for form, widget, opt in self._rows:
            if opt.advanced and form.parentWidget() is not self.advanced_box:
                form.setRowVisible(widget, on)


def _form(parent: QWidget | None = None) -> QFormLayout:
    form = QFormLayout(parent) if parent is not None else QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)
    form.setLabelAlignment(Qt.AlignRight)
    return form
