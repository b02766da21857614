"""Typical and atypical garments of a category (cooperative embeddings, Sec. 5.3): typicality is the L2
distance of an item's embedding (full space or one attribute's subspace) to its category's centre.

Two filmstrips: the N most typical items (nearest the centre first) and the N most atypical ones (farthest
first), each captioned with its rank and distance. The ranking is a job on the engine worker thread (channel
``"typicality"``); only the answer to this view's newest job is shown.
"""
from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from fashion_gui.engine import TypicalityResult
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.filmstrip import FULL, Filmstrip, FilmstripModel, fill_spaces, hit_tooltip, select_data, show_error
from fashion_gui.ui.thumbnails import ThumbnailCache

__all__ = ["TypicalityView"]


class TypicalityView(QWidget):
    """Category, space and N; "Rank"; the most typical and the most atypical items as two filmstrips."""

    use_as_query = Signal(int)

    def __init__(self, client: EngineClient, thumbnails: ThumbnailCache, parent: QWidget | None = None,
                 count: int = 12) -> None:
        super().__init__(parent)
        self.client, self.thumbnails = client, thumbnails
        self.result: TypicalityResult | None = None
        self.last_error: str | None = None
        self._job = 0  # id of this view's newest typicality job
        self.typical_model = FilmstripModel(thumbnails, self)
        self.atypical_model = FilmstripModel(thumbnails, self)
        self._build(count)
        client.result.connect(self._on_result)
        client.error.connect(self._on_error)

    def _build(self, count: int) -> None:
        self.category_box = QComboBox()
        self.category_box.activated.connect(lambda _i: self.rank())
        self.space_box = QComboBox()
        self.space_box.addItem("full space", FULL)
        self.space_box.setToolTip("Distance to the centre in the full embedding or in one attribute's subspace")
        self.space_box.activated.connect(lambda _i: self.rank())
        self.count_box = QSpinBox()
        self.count_box.setRange(1, 500)
        self.count_box.setValue(count)
        self.count_box.setToolTip("How many items each strip shows")
        self.count_box.valueChanged.connect(self._refill)
        self.rank_button = QPushButton(qta.icon("fa5s.bullseye"), "Rank")
        self.rank_button.clicked.connect(self.rank)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Category"))
        controls.addWidget(self.category_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("in"))
        controls.addWidget(self.space_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("show"))
        controls.addWidget(self.count_box)
        controls.addStretch(1)
        controls.addWidget(self.rank_button)

        self.typical_strip = Filmstrip(self.typical_model, connectors=False)
        self.atypical_strip = Filmstrip(self.atypical_model, connectors=False)
        self.typical_title = QLabel("<b>Most typical</b>")
        self.atypical_title = QLabel("<b>Most atypical</b>")
        for strip in (self.typical_strip, self.atypical_strip):
            strip.use_as_query.connect(self.use_as_query)
        self.status = QLabel("Pick a category and Rank: items nearest its centre are the most typical.")
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.typical_title)
        layout.addWidget(self.typical_strip, 1)
        layout.addWidget(self.atypical_title)
        layout.addWidget(self.atypical_strip, 1)
        layout.addWidget(self.status)

    # --- public API ------------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """N: how many items each strip shows."""
        return self.count_box.value()

    def set_count(self, n: int) -> None:
        self.count_box.setValue(n)  # re-splits the current result

    def set_engine_info(self, info: dict) -> None:
        """Categories and spaces from ``engine.describe()``."""
        current = self.category_box.currentText()
        self.category_box.clear()
        self.category_box.addItems(info.get("categories", []))
        if current:
            self.category_box.setCurrentText(current)
        fill_spaces(self.space_box, info)

    def show_category(self, category: str, space: str = FULL) -> int:
        """Select ``category`` and ``space`` ("full" or an attribute type) and rank; returns the job id."""
        select_data(self.category_box, category)
        select_data(self.space_box, space)
        return self.rank()

    def rank(self) -> int:
        """Submit the typicality request for the current controls; returns the job id."""
        category, space = self.category_box.currentText(), self.space_box.currentData() or FULL
        self._job = self.client.submit(lambda engine: engine.typicality(category, space), channel="typicality")
        self.status.setText(f"Ranking the {category} items by distance to their centre\u2026")
        return self._job

    # --- answers ---------------------------------------------------------------------------------------
    def _on_result(self, job_id: int, value: object, seconds: float) -> None:
        if job_id != self._job or not isinstance(value, TypicalityResult):
            return
        self.result, self.last_error = value, None
        self._refill()
        d = value.distances
        space = "full space" if value.space == FULL else f"{value.space} space"
        self.status.setText(f"{len(d)} {value.category} items, {space}: distance to the centre from {d[0]:.3f} "
                            f"(most typical) to {d[-1]:.3f} (most atypical) \u00b7 {seconds * 1e3:.0f} ms")

    def _on_error(self, job_id: int, message: str) -> None:
        if job_id != self._job:
            return
        self.result, self.last_error = None, message
        self.typical_model.clear()
        self.atypical_model.clear()
        self.status.setText("No ranking: " + message.splitlines()[0])
        show_error(self, message)

    def _refill(self) -> None:
        """Split the ranking into the strips: the first N, and the last N (most atypical first) without
        repeating an item when the category has fewer than 2N."""
        r = self.result
        if r is None:
            return
        n, total = self.count, len(r.hits)
        typical = list(range(min(n, total)))
        atypical = list(range(total - 1, max(n, total - n) - 1, -1))
        for model, rows in ((self.typical_model, typical), (self.atypical_model, atypical)):
            hits = [r.hits[i] for i in rows]
            captions = [f"{r.hits[i].category} #{r.hits[i].item_id}\nrank {i + 1} \u00b7 d {r.distances[i]:.3f}"
                        for i in rows]
            tooltips = [hit_tooltip(r.hits[i], f"rank {i + 1} of {total} &middot; distance to the centre "
                                               f"{r.distances[i]:.3f}") for i in rows]
            model.set_strip(hits, captions, tooltips)
        self.typical_title.setText(f"<b>Most typical</b> {r.category}: nearest the centre first")
        self.atypical_title.setText(f"<b>Most atypical</b> {r.category}: farthest from the centre first")
