"""A list model over engine hits: thumbnail, score and matched/unmatched attribute chips, attributes in the
tooltip. Everything shown is computed once per result set, so painting never touches the engine."""
from __future__ import annotations

from PySide6.QtCore import Qt

from fashion_gui.engine import Hit
from fashion_gui.ui.thumbnail_model import ItemIdRole, ThumbnailListModel
from fashion_gui.ui.thumbnails import ThumbnailCache

__all__ = ["HitRole", "ItemIdRole", "ResultsModel", "chips"]  # ItemIdRole is re-exported for the views

HitRole = Qt.UserRole + 2  # the engine Hit of a row (ItemIdRole: its item id)
MATCH, MISS = "\u2713", "\u2717"  # check mark, ballot x


def chips(hit: Hit) -> str:
    """"✓colour ✗sleeve": one chip per requested attribute value."""
    return " ".join(f"{MATCH if ok else MISS}{name}" for name, ok in hit.matches.items())


class ResultsModel(ThumbnailListModel):
    def __init__(self, thumbnails: ThumbnailCache, parent=None) -> None:
        super().__init__(thumbnails, parent)
        self._hits: list[Hit] = []

    def set_hits(self, hits: list[Hit] | tuple[Hit, ...]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        captions = [f"{h.score:.3f}  {chips(h)}".rstrip() for h in self._hits]
        tooltips = []
        for h in self._hits:
            lines = [f"<b>{h.category}</b> &middot; item {h.item_id} &middot; score {h.score:.3f}"]
            lines += [f"{k}: {v}" for k, v in h.attributes.items() if k != "category"]
            if h.matches:
                lines.append("asked: " + ", ".join(f"{k} {'matches' if ok else 'differs'}" for k, ok in h.matches.items()))
            tooltips.append("<br>".join(lines))
        self._set_rows([h.item_id for h in self._hits], [str(h.image_path) for h in self._hits], captions, tooltips)
        self.endResetModel()

    def hit(self, row: int) -> Hit:
        return self._hits[row]

    def row_data(self, row: int, role: int):
        return self._hits[row] if role == HitRole else None
