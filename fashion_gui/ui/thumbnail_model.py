"""List models whose rows are images with a caption and a tooltip (catalog browser, search results).

Thumbnails come from a :class:`ThumbnailCache` (decoded in a thread pool) and a row repaints when its
thumbnail arrives; captions and tooltips are computed once per reset, so painting does no other work.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt

from fashion_gui.ui.thumbnails import ThumbnailCache

ItemIdRole = Qt.UserRole + 1  # the catalog item id of a row


class ThumbnailListModel(QAbstractListModel):
    """Subclasses call :meth:`_set_rows` between ``beginResetModel``/``endResetModel`` and may answer
    extra roles in :meth:`row_data`."""

    def __init__(self, thumbnails: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self.item_size: QSize | None = None  # a fixed cell size: rows lay out the same before and after
        #                                      their thumbnail arrives (and allows uniform item sizes)
        self._thumbs = thumbnails
        self._ids: list[int] = []
        self._paths: list[str] = []
        self._captions: list[str] = []
        self._tooltips: list[str] = []
        self._row_of_path: dict[str, int] = {}
        thumbnails.ready.connect(self._on_thumbnail)

    def _set_rows(self, ids: list[int], paths: list[str], captions: list[str], tooltips: list[str]) -> None:
        self._ids, self._paths, self._captions, self._tooltips = list(ids), list(paths), captions, tooltips
        self._row_of_path = {p: r for r, p in enumerate(self._paths)}

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._paths)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        row = index.row()
        if role == Qt.DecorationRole:
            return self._thumbs.get(self._paths[row])
        if role == Qt.DisplayRole:
            return self._captions[row]
        if role == Qt.ToolTipRole:
            return self._tooltips[row]
        if role == ItemIdRole:
            return self._ids[row]
        if role == Qt.SizeHintRole and self.item_size is not None:
            return self.item_size
        return self.row_data(row, role)

    def row_data(self, row: int, role: int):
        return None

    def _on_thumbnail(self, path: str) -> None:
        row = self._row_of_path.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.DecorationRole])
