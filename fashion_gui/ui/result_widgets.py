"""Small widgets of the search window: the results' cell painter (nearest alternatives washed out and tagged),
the "nothing matches" banner, and the session breadcrumb that drops its oldest turns to fit the toolbar."""
from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from fashion_gui.ui.results_model import AlternativeRole

ALTERNATIVE = "alternative"
ALTERNATIVE_COLOUR = QColor("#b45309")  # amber: the tag, the cell's outline and the banner's edge
WASH = QColor(255, 255, 255, 95)  # over an alternative's cell: visibly second choice
SEPARATOR = " \u203a "
ELLIPSIS = "\u2026"


class ResultDelegate(QStyledItemDelegate):
    """The default icon-mode cell; a nearest alternative is washed out, outlined and tagged "alternative"."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        if not index.data(AlternativeRole):
            return
        painter.save()
        rect = option.rect.adjusted(1, 1, -1, -1)
        painter.fillRect(rect, WASH)
        painter.setPen(QPen(ALTERNATIVE_COLOUR, 1, Qt.DashLine))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
        font = QFont(option.font)
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 0.85)
        metrics = QFontMetrics(font)
        tag = QRect(rect.left() + 3, rect.top() + 3, metrics.horizontalAdvance(ALTERNATIVE) + 10,
                    metrics.height() + 2)
        painter.setPen(Qt.NoPen)
        painter.setBrush(ALTERNATIVE_COLOUR)
        painter.drawRoundedRect(tag, 3, 3)
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(tag, Qt.AlignCenter, ALTERNATIVE)
        painter.restore()


class NoticeBanner(QLabel):
    """A visible line above the results when the catalog has too few items with the asked values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.setWordWrap(True)
        self.setTextFormat(Qt.RichText)
        self.setStyleSheet(f"QLabel#noticeBanner {{ background: #fff7e6; color: #7c2d12; border: 1px solid "
                           f"{ALTERNATIVE_COLOUR.name()}; border-radius: 4px; padding: 5px 8px; }}")
        self.hide()

    def show_note(self, note: str, alternatives_from: int | None, count: int) -> None:
        """Show ``note`` when some of the ``count`` hits are alternatives (from ``alternatives_from`` on)."""
        if alternatives_from is None or alternatives_from >= count:
            self.clear()
            self.hide()
            return
        note = note or "too few items have everything you asked for: the nearest alternatives follow"
        where = ("Every result below is" if alternatives_from == 0 else
                 f"Results from #{alternatives_from + 1} on are")
        self.setText(f"<b>{html.escape(note[:1].upper() + note[1:])}.</b> "
                     f"{where} marked \u201c{ALTERNATIVE}\u201d.")
        self.show()


class Breadcrumb(QLabel):
    """The session's turns, "query › colour=red › <b>pattern=striped</b>"; when they do not fit, the oldest
    are dropped (shown as "…"), then the labels are elided, so the toolbar never runs out of room. The
    tooltip lists every turn shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.RichText)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setMinimumWidth(80)
        self._crumbs: list[tuple[str, bool]] = []
        self.hidden = 0  # crumbs dropped to fit

    def set_crumbs(self, crumbs: Sequence[tuple[str, bool]]) -> None:
        self._crumbs = list(crumbs)
        self.setToolTip(SEPARATOR.join(label for label, _ in self._crumbs))
        self._fit()

    def sizeHint(self) -> QSize:  # noqa: N802
        """The full width: the toolbar gives it what is left (size policy Ignored)."""
        return QSize(self._width(self._crumbs, 0), super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def _width(self, crumbs: Sequence[tuple[str, bool]], dropped: int) -> int:
        plain, bold = self.fontMetrics(), _bold_metrics(self.font())
        parts = [ELLIPSIS] if dropped else []
        width = sum((bold if current else plain).horizontalAdvance(label) for label, current in crumbs)
        return width + plain.horizontalAdvance(SEPARATOR.join([*parts, *[""] * len(crumbs)])) + 8

    def _fit(self) -> None:
        room = max(self.contentsRect().width(), self.minimumWidth())
        crumbs, dropped = list(self._crumbs), 0
        while len(crumbs) > 1 and self._width(crumbs, dropped) > room:
            crumbs.pop(0)
            dropped += 1
        self.hidden = dropped
        if crumbs and self._width(crumbs, dropped) > room:  # one crumb still too wide: elide its label
            label, current = crumbs[0]
            metrics = _bold_metrics(self.font()) if current else self.fontMetrics()
            spare = room - self._width([("", current)], dropped)
            crumbs = [(metrics.elidedText(label, Qt.ElideRight, max(spare, 0)), current)]
        parts = [ELLIPSIS] if dropped else []
        parts += [f"<b>{html.escape(label)}</b>" if current else html.escape(label) for label, current in crumbs]
        self.setText(html.escape(SEPARATOR).join(parts))


def _bold_metrics(font: QFont) -> QFontMetrics:
    bold = QFont(font)
    bold.setBold(True)
    return QFontMetrics(bold)
