"""The read-only, fixed-width log views of the Workspace and Training tabs."""
from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit

LOG_LINES = 2000  # the log views keep this many lines
ERROR_STYLE = "color: #b00020;"


def make_log_view(placeholder: str) -> QPlainTextEdit:
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setMaximumBlockCount(LOG_LINES)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
    view.setLineWrapMode(QPlainTextEdit.WidgetWidth)
    view.setPlaceholderText(placeholder)
    return view
