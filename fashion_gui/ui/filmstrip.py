"""The filmstrip: a horizontal row of catalog items (picture, caption, optional arrow to the next item labelled
with the hop length, the largest hop thick and amber), and the small helpers that the style-path and
typicality views share (the "space" chooser, a warning dialog).

:class:`FilmstripModel` holds engine hits with captions, hop lengths and marks; :class:`FilmstripDelegate`
paints them; :class:`Filmstrip` is the one-row list that turns double-click, Enter and its context menu into
``use_as_query(item id)``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import qtawesome as qta
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QContextMenuEvent, QFont, QFontMetrics, QKeyEvent, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QListView,
    QMenu,
    QMessageBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from fashion_gui.engine import Hit
from fashion_gui.ui.results_model import HitRole, ItemIdRole
from fashion_gui.ui.thumbnail_model import ThumbnailListModel
from fashion_gui.ui.thumbnails import ThumbnailCache

__all__ = ["ARROW", "FULL", "LARGEST", "THUMB", "Filmstrip", "FilmstripDelegate", "FilmstripModel", "HopRole",
           "MarkRole", "fill_spaces", "hit_tooltip", "select_data", "show_error"]

THUMB = 112  # logical side of a filmstrip picture
FULL = "full"  # the engine's name of the full embedding space
HopRole = Qt.UserRole + 3  # float | None: L2 length of the hop from this row to the next one
MarkRole = Qt.UserRole + 4  # bool: the row is one end of the largest hop
LARGEST = QColor("#e8590c")  # the largest hop: arrow, distance and outlines
ARROW = QColor("#868e96")

# --- the filmstrip -------------------------------------------------------------------------------------
class FilmstripModel(ThumbnailListModel):
    """Engine hits in a row, each with a caption, an optional hop length to the next row and a mark."""

    def __init__(self, thumbnails: ThumbnailCache, parent=None) -> None:
        super().__init__(thumbnails, parent)
        self._hits: list[Hit] = []
        self._hops: list[float | None] = []
        self._marked: set[int] = set()

    def set_strip(self, hits: Sequence[Hit], captions: Sequence[str], tooltips: Sequence[str] | None = None,
                  hops: Sequence[float] | None = None, marked: Sequence[int] = ()) -> None:
        """``hops[i]``: length of the hop from row i to row i + 1 (one fewer than hits); ``marked``: rows to
        outline."""
        self.beginResetModel()
        self._hits = list(hits)
        self._hops = [*(hops or ()), *[None] * (len(self._hits) - len(hops or ()))]
        self._marked = set(marked)
        self._set_rows([h.item_id for h in self._hits], [str(h.image_path) for h in self._hits], list(captions),
                       list(tooltips) if tooltips is not None else [hit_tooltip(h) for h in self._hits])
        self.endResetModel()

    def clear(self) -> None:
        self.set_strip([], [])

    def hit(self, row: int) -> Hit:
        return self._hits[row]

    @property
    def ids(self) -> list[int]:
        return [h.item_id for h in self._hits]

    @property
    def marked_rows(self) -> list[int]:
        return sorted(self._marked)

    def row_data(self, row: int, role: int):
        if role == HitRole:
            return self._hits[row]
        if role == HopRole:
            return self._hops[row]
        if role == MarkRole:
            return row in self._marked
        return None


def hit_tooltip(hit: Hit, *extra: str) -> str:
    lines = [f"<b>{hit.category}</b> &middot; item {hit.item_id}", *extra]
    lines += [f"{k}: {v}" for k, v in hit.attributes.items() if k != "category"]
    return "<br>".join(lines)


class FilmstripDelegate(QStyledItemDelegate):
    """A card per item (picture, caption below) and, with ``connectors``, an arrow to the next card labelled
    with the hop length; the largest hop is thick and amber and its two cards are outlined."""

    PAD = 6
    CONNECTOR = 52

    def __init__(self, thumb: int = THUMB, connectors: bool = True, parent=None) -> None:
        super().__init__(parent)
        self.thumb, self.connectors = thumb, connectors

    def cell_size(self, metrics: QFontMetrics) -> QSize:
        """Every cell has this size (a card plus its connector)."""
        width = self.thumb + 2 * self.PAD + (self.CONNECTOR if self.connectors else 2 * self.PAD)
        return QSize(width, self.thumb + 3 * self.PAD + 2 * metrics.height() + 6)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        return self.cell_size(option.fontMetrics)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        pad, rect = self.PAD, option.rect
        height = self.cell_size(option.fontMetrics).height() - 4  # a list without wrapping stretches its cells
        card = QRect(rect.left() + (0 if self.connectors else pad), rect.top() + max(2, (rect.height() - height) // 2),
                     self.thumb + 2 * pad, height)
        palette = option.palette
        selected = bool(option.state & QStyle.State_Selected)
        marked = bool(index.data(MarkRole))
        painter.setPen(QPen(LARGEST, 3) if marked else QPen(palette.mid().color(), 1))
        painter.setBrush(palette.highlight().color().lighter(170) if selected else palette.base().color())
        painter.drawRoundedRect(QRectF(card).adjusted(1.5, 1.5, -1.5, -1.5), 6, 6)

        picture = QRect(card.left() + pad, card.top() + pad, self.thumb, self.thumb)
        pixmap = index.data(Qt.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            size = pixmap.deviceIndependentSize().toSize().scaled(picture.size(), Qt.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(picture.center())
            painter.drawPixmap(target, pixmap)
        else:  # still decoding (or unreadable)
            painter.fillRect(picture, palette.alternateBase())

        metrics = option.fontMetrics
        text = QRect(card.left() + 2, picture.bottom() + pad, card.width() - 4, 2 * metrics.height())
        painter.setPen(palette.text().color())
        lines = str(index.data(Qt.DisplayRole) or "").split("\n")
        for i, line in enumerate(lines[:2]):
            line_rect = QRect(text.left(), text.top() + i * metrics.height(), text.width(), metrics.height())
            if i == 1:
                painter.setPen(palette.placeholderText().color())
            painter.drawText(line_rect, Qt.AlignHCenter | Qt.AlignVCenter,
                             metrics.elidedText(line, Qt.ElideRight, text.width()))

        hop = index.data(HopRole)
        if self.connectors and hop is not None:
            area = QRect(card.right() + 1, picture.top(), rect.right() - card.right(), picture.height())
            self._paint_connector(painter, option, area, float(hop), marked and self._starts_hop(index))
        painter.restore()

    @staticmethod
    def _starts_hop(index: QModelIndex | QPersistentModelIndex) -> bool:
        """A marked row followed by a marked row starts the largest hop."""
        below = index.siblingAtRow(index.row() + 1)
        return below.isValid() and bool(below.data(MarkRole))

    def _paint_connector(self, painter: QPainter, option: QStyleOptionViewItem, area: QRect, hop: float,
                         largest: bool) -> None:
        y = area.center().y()
        left, right = area.left() + 3, area.right() - 1
        colour = LARGEST if largest else ARROW
        width = 4 if largest else 1.5
        head = 9 if largest else 6
        painter.setPen(QPen(colour, width, Qt.SolidLine, Qt.RoundCap))
        painter.drawLine(QPointF(left, y), QPointF(right - head, y))
        arrow = QPainterPath(QPointF(right, y))
        arrow.lineTo(right - head - 2, y - head * 0.7)
        arrow.lineTo(right - head - 2, y + head * 0.7)
        arrow.closeSubpath()
        painter.setPen(Qt.NoPen)
        painter.setBrush(colour)
        painter.drawPath(arrow)
        font = QFont(option.font)
        font.setBold(largest)
        painter.setFont(font)
        painter.setPen(colour)
        above = QRect(area.left(), y - option.fontMetrics.height() - 6, area.width(), option.fontMetrics.height())
        painter.drawText(above, Qt.AlignCenter, f"{hop:.2f}")
        if largest:
            font.setBold(False)
            if font.pointSizeF() > 0:
                font.setPointSizeF(font.pointSizeF() * 0.85)
            painter.setFont(font)
            below = QRect(area.left(), y + 8, area.width(), option.fontMetrics.height())
            painter.drawText(below, Qt.AlignCenter, "largest")


class Filmstrip(QListView):
    """A one-row, horizontally scrolling list of items. Double-click, Enter or the context menu's "Use as
    query" emit ``use_as_query(item id)``; views add their own per-item actions with :meth:`add_item_action`."""

    use_as_query = Signal(int)

    def __init__(self, model: FilmstripModel, connectors: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._actions: list[tuple[str, str, Callable[[int], None]]] = []
        self.setModel(model)
        self.setItemDelegate(FilmstripDelegate(THUMB, connectors, self))
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Static)
        self.setUniformItemSizes(True)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSpacing(0)
        self.setMouseTracking(True)
        cell = self.itemDelegate().cell_size(self.fontMetrics())
        self.setMinimumHeight(cell.height() + self.horizontalScrollBar().sizeHint().height() + 2 * self.frameWidth())
        self.doubleClicked.connect(self._emit)

    def add_item_action(self, text: str, icon: str, callback: Callable[[int], None]) -> None:
        """An extra context-menu action; ``callback`` gets the item id."""
        self._actions.append((text, icon, callback))

    def _emit(self, index: QModelIndex | QPersistentModelIndex) -> None:
        if index.isValid():
            self.use_as_query.emit(int(index.data(ItemIdRole)))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and self.currentIndex().isValid():
            self._emit(self.currentIndex())
            return
        super().keyPressEvent(event)

    def menu_for(self, index: QModelIndex | QPersistentModelIndex) -> QMenu | None:
        """The context menu of one item (None off the items)."""
        if not index.isValid():
            return None
        item_id = int(index.data(ItemIdRole))
        menu = QMenu(self)
        action = menu.addAction(qta.icon("fa5s.search"), "Use as query")
        action.triggered.connect(lambda _checked=False: self.use_as_query.emit(item_id))
        for text, icon, callback in self._actions:
            action = menu.addAction(qta.icon(icon), text)
            action.triggered.connect(lambda _checked=False, cb=callback: cb(item_id))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        menu = self.menu_for(self.indexAt(event.pos()))
        if menu is not None:
            menu.exec(event.globalPos())
            menu.deleteLater()


# --- helpers shared by the path and typicality views ---------------------------------------------------
def fill_spaces(box: QComboBox, info: dict) -> None:
    """"full space" plus one entry per attribute subspace the encoder offers (item data: the engine's space
    name; ``describe()["spaces"]``, else every attribute type)."""
    current = box.currentData()
    box.clear()
    box.addItem("full space", FULL)
    for name in info.get("spaces", [FULL, *info.get("attributes", [])]):
        if name != FULL:
            box.addItem(name, name)
    box.setCurrentIndex(max(box.findData(current), 0))


def select_data(box: QComboBox, value: str) -> None:
    """Select the entry whose data (or, failing that, text) is ``value``; unknown values are added."""
    i = box.findData(value)
    if i < 0:
        i = box.findText(value)
    if i < 0:
        box.addItem(value, value)
        i = box.count() - 1
    box.setCurrentIndex(i)


def show_error(parent: QWidget, message: str) -> None:
    """A non-blocking warning dialog; the view keeps running."""
    box = QMessageBox(QMessageBox.Warning, "Fashion retrieval", message, QMessageBox.Ok, parent)
    box.setAttribute(Qt.WA_DeleteOnClose)
    box.open()
