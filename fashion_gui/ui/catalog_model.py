"""A list model over catalog items for QListView, with lazily loaded thumbnails."""
from __future__ import annotations

from fashion_gui.catalog.store import Catalog
from fashion_gui.ui.thumbnail_model import ItemIdRole, ThumbnailListModel
from fashion_gui.ui.thumbnails import ThumbnailCache
from fashion_gui.workspace import Workspace

__all__ = ["CatalogItemsModel", "ItemIdRole"]  # ItemIdRole is re-exported for the views


class CatalogItemsModel(ThumbnailListModel):
    """Rows are catalog items (ids); decoration is the thumbnail, tooltip the attributes."""

    def __init__(self, catalog: Catalog, workspace: Workspace, thumbnails: ThumbnailCache, parent=None) -> None:
        super().__init__(thumbnails, parent)
        self._catalog, self._workspace = catalog, workspace

    def set_items(self, item_ids: list[int]) -> None:
        self.beginResetModel()
        ids = list(item_ids)
        paths = [str(self._workspace.resolve_image(p)) for p in self._catalog.image_paths(ids)]
        # captions and tooltips come from the catalog's in-memory label table, once per filter change,
        # so painting never queries SQLite
        schema = self._catalog.schema
        captions, tooltips = [], []
        rows = zip(ids, self._catalog.splits_of(ids), self._catalog.categories_of(ids), self._catalog.labels(ids))
        for item_id, split, cat, label in rows:
            attrs = schema.decode(label)
            category = schema.categories[cat]
            captions.append(f"{attrs.get('colour', '')} {category}".strip())
            lines = [f"<b>{category}</b> &middot; item {item_id} &middot; {split}"]
            lines += [f"{k}: {v}" for k, v in attrs.items() if k != "category"]
            tooltips.append("<br>".join(lines))
        self._set_rows(ids, paths, captions, tooltips)
        self.endResetModel()
