"""A list model over catalog items for QListView, with lazily loaded thumbnails."""
from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from fashion_gui.catalog.store import Catalog
from fashion_gui.ui.thumbnails import ThumbnailCache
from fashion_gui.workspace import Workspace

ItemIdRole = Qt.UserRole + 1


class CatalogItemsModel(QAbstractListModel):
    """Rows are catalog items (ids); decoration is the thumbnail, tooltip the attributes."""

    def __init__(self, catalog: Catalog, workspace: Workspace, thumbnails: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self._catalog, self._workspace, self._thumbs = catalog, workspace, thumbnails
        self._ids: list[int] = []
        self._paths: list[str] = []
        self._row_of_path: dict[str, int] = {}
        self._labels: list[str] = []
        self._tooltips: list[str] = []
        thumbnails.ready.connect(self._on_thumbnail)

    def set_items(self, item_ids: list[int]) -> None:
        self.beginResetModel()
        self._ids = list(item_ids)
        self._paths = [str(self._workspace.resolve_image(p)) for p in self._catalog.image_paths(self._ids)]
        self._row_of_path = {p: r for r, p in enumerate(self._paths)}
        # captions and tooltips come from the catalog's in-memory label table, once per filter change,
        # so painting never queries SQLite
        schema = self._catalog.schema
        self._labels, self._tooltips = [], []
        rows = zip(self._ids, self._catalog.splits_of(self._ids), self._catalog.categories_of(self._ids),
                   self._catalog.labels(self._ids))
        for item_id, split, cat, label in rows:
            attrs = schema.decode(label)
            category = schema.categories[cat]
            self._labels.append(f"{attrs.get('colour', '')} {category}".strip())
            lines = [f"<b>{category}</b> &middot; item {item_id} &middot; {split}"]
            lines += [f"{k}: {v}" for k, v in attrs.items() if k != "category"]
            self._tooltips.append("<br>".join(lines))
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        row = index.row()
        if role == Qt.DecorationRole:
            return self._thumbs.get(self._paths[row])
        if role == Qt.DisplayRole:
            return self._labels[row]
        if role == Qt.ToolTipRole:
            return self._tooltips[row]
        if role == ItemIdRole:
            return self._ids[row]
        return None

    def _on_thumbnail(self, path: str) -> None:
        row = self._row_of_path.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.DecorationRole])
