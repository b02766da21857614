"""The app's look: Fusion with a light palette and one small stylesheet (kept here, not in every widget).
Combo and spin boxes and list items are left to Fusion and the palette: a rule on them makes Qt draw their
arrows unstyled, or lay out icon-mode items without room for the icon."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

ACCENT = "#2f6fde"
STYLESHEET = f"""
QMainWindow, QDialog {{ background: #f6f7f9; }}
QToolBar {{ background: #ffffff; border-bottom: 1px solid #dde1e6; spacing: 4px; padding: 3px; }}
QToolButton {{ padding: 4px 6px; border-radius: 4px; }}
QToolButton:hover {{ background: #e8eef9; }}
QPushButton {{ padding: 4px 10px; border: 1px solid #c7ccd3; border-radius: 4px; background: #ffffff; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:default {{ border-color: {ACCENT}; }}
QLineEdit {{ padding: 3px 5px; border: 1px solid #c7ccd3; border-radius: 4px; background: #ffffff; }}
QLineEdit:focus {{ border-color: {ACCENT}; }}
QListView {{ background: #ffffff; border: 1px solid #dde1e6; border-radius: 4px; }}
QTabWidget::pane {{ border: 1px solid #dde1e6; border-radius: 4px; background: #ffffff; }}
QTabBar::tab {{ padding: 5px 12px; }}
QTabBar::tab:selected {{ color: {ACCENT}; border-bottom: 2px solid {ACCENT}; }}
QGroupBox {{ font-weight: bold; border: 1px solid #dde1e6; border-radius: 4px; margin-top: 10px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 3px; }}
QStatusBar {{ background: #ffffff; border-top: 1px solid #dde1e6; }}
QLabel#queryImage {{ border: 1px dashed #aab1bb; border-radius: 6px; color: #6b7280; background: #ffffff; }}
QLabel#sectionTitle {{ font-weight: bold; color: #374151; }}
QLabel#predictionNote {{ color: #8a5a00; font-size: 11px; padding-left: 2px; }}
"""


def apply_style(app: QApplication) -> None:
    """Fusion (the same on every platform) with a light palette and the stylesheet above."""
    app.setStyle(QStyleFactory.create("Fusion"))
    palette = app.palette()
    palette.setColor(QPalette.Window, QColor("#f6f7f9"))
    palette.setColor(QPalette.Base, QColor("#ffffff"))
    palette.setColor(QPalette.Highlight, QColor(ACCENT))
    palette.setColor(QPalette.HighlightedText, QColor("#ffffff"))
    app.setPalette(palette)
    app.setStyleSheet(STYLESHEET)
