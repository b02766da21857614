"""A list model over engine hits: thumbnail, the item's category and score, matched/unmatched attribute chips,
attributes in the tooltip, and whether a row is a nearest alternative (``Results.alternatives_from``: the
catalog has too few items with everything asked). Everything shown is computed once per result set, so
painting never touches the engine."""
from __future__ import annotations

from PySide6.QtCore import Qt

from fashion_gui.engine import Hit
from fashion_gui.ui.thumbnail_model import ItemIdRole, ThumbnailListModel
from fashion_gui.ui.thumbnails import ThumbnailCache

__all__ = ["AlternativeRole", "HitRole", "ItemIdRole", "ResultsModel", "caption", "chips"]  # ItemIdRole is
#                                                                                  re-exported for the views
HitRole = Qt.UserRole + 2  # the engine Hit of a row (ItemIdRole: its item id)
AlternativeRole = Qt.UserRole + 5  # bool: the row lacks something asked (a nearest alternative)
MATCH, MISS = "\u2713", "\u2717"  # check mark, ballot x


def chips(hit: Hit) -> str:
    """"✓colour ✗sleeve": one chip per requested attribute value."""
    return " ".join(f"{MATCH if ok else MISS}{name}" for name, ok in hit.matches.items())


def caption(hit: Hit) -> str:
    """"✓dress · 0.812" over "✓colour ✗sleeve": the item's category and score, then the chips. A requested
    category is checked on the first line (it names the category anyway), so two more chips fit below."""
    mark = (MATCH if hit.matches["category"] else MISS) if "category" in hit.matches else ""
    others = " ".join(f"{MATCH if ok else MISS}{name}" for name, ok in hit.matches.items() if name != "category")
    if hit.note:  # what the model thinks of the item (MODC: its pseudo label, "≈red 0.93")
        others = f"{others} {hit.note}".strip()
    return f"{mark}{hit.category} \u00b7 {hit.score:.3f}\n{others}".rstrip()


class ResultsModel(ThumbnailListModel):
    def __init__(self, thumbnails: ThumbnailCache, parent=None) -> None:
        super().__init__(thumbnails, parent)
        self._hits: list[Hit] = []
        self.alternatives_from: int | None = None  # rows from here on are nearest alternatives

    def set_hits(self, hits: list[Hit] | tuple[Hit, ...], alternatives_from: int | None = None) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self.alternatives_from = alternatives_from
        tooltips = []
        for row, h in enumerate(self._hits):
            lines = [f"<b>{h.category}</b> &middot; item {h.item_id} &middot; score {h.score:.3f}"]
            if self.is_alternative(row):
                lines.append("<i>a nearest alternative: it lacks something you asked for</i>")
            lines += [f"{k}: {v}" for k, v in h.attributes.items() if k != "category"]
            if h.note:
                lines.append(f"model: {h.note}")
            if h.matches:
                lines.append("asked: " + ", ".join(f"{k} {'matches' if ok else 'differs'}" for k, ok in h.matches.items()))
            tooltips.append("<br>".join(lines))
        self._set_rows([h.item_id for h in self._hits], [str(h.image_path) for h in self._hits],
                       [caption(h) for h in self._hits], tooltips)
        self.endResetModel()

    def hit(self, row: int) -> Hit:
        return self._hits[row]

    def is_alternative(self, row: int) -> bool:
        return self.alternatives_from is not None and row >= self.alternatives_from

    def row_data(self, row: int, role: int):
        if role == HitRole:
            return self._hits[row]
        if role == AlternativeRole:
            return self.is_alternative(row)
        return None
