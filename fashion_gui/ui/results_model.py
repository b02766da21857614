"""A list model over engine hits: thumbnail, score and matched/unmatched attribute chips, attributes in the
tooltip. Everything shown is computed once per result set, so painting never touches the engine."""
from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from fashion_gui.engine import Hit
from fashion_gui.ui.thumbnails import ThumbnailCache

HitRole = Qt.UserRole + 1
ItemIdRole = Qt.UserRole + 2
MATCH, MISS = "\u2713", "\u2717"  # check mark, ballot x


def chips(hit: Hit) -> str:
    """"✓colour ✗sleeve": one chip per requested attribute value."""
    return " ".join(f"{MATCH if ok else MISS}{name}" for name, ok in hit.matches.items())


class ResultsModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self._thumbs = thumbnails
        self._hits: list[Hit] = []
        self._paths: list[str] = []
        self._captions: list[str] = []
        self._tooltips: list[str] = []
        self._row_of_path: dict[str, int] = {}
        thumbnails.ready.connect(self._on_thumbnail)

    def set_hits(self, hits: list[Hit] | tuple[Hit, ...]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self._paths = [str(h.image_path) for h in self._hits]
        self._row_of_path = {p: r for r, p in enumerate(self._paths)}
        self._captions = [f"{h.score:.3f}  {chips(h)}".rstrip() for h in self._hits]
        self._tooltips = []
        for h in self._hits:
            lines = [f"<b>{h.category}</b> &middot; item {h.item_id} &middot; score {h.score:.3f}"]
            lines += [f"{k}: {v}" for k, v in h.attributes.items() if k != "category"]
            if h.matches:
                lines.append("asked: " + ", ".join(f"{k} {'matches' if ok else 'differs'}" for k, ok in h.matches.items()))
            self._tooltips.append("<br>".join(lines))
        self.endResetModel()

    def hit(self, row: int) -> Hit:
        return self._hits[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._hits)

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
        if role == HitRole:
            return self._hits[row]
        if role == ItemIdRole:
            return self._hits[row].item_id
        return None

    def _on_thumbnail(self, path: str) -> None:
        row = self._row_of_path.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.DecorationRole])
