"""The catalog browser: filter the catalog by split, category and attribute values (opened from the search
window; double-clicking an item there makes it the query)."""
from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QListView, QMainWindow, QWidget, QVBoxLayout,
)

from fashion_gui.catalog.store import Catalog
from fashion_gui.ui.catalog_model import CatalogItemsModel
from fashion_gui.ui.thumbnails import ThumbnailCache
from fashion_gui.workspace import Workspace

THUMB = 128
ANY = "any"


class MainWindow(QMainWindow):
    """Filters on the left, the thumbnail grid on the right, counts in the status bar."""

    def __init__(self, workspace: Workspace, catalog: Catalog) -> None:
        super().__init__()
        self.workspace, self.catalog = workspace, catalog
        self.setWindowTitle(f"Fashion retrieval: {workspace.root.name}")
        self.setWindowIcon(qta.icon("fa5s.tshirt"))
        self.thumbnails = ThumbnailCache(THUMB, self.devicePixelRatioF(), self)
        self.model = CatalogItemsModel(catalog, workspace, self.thumbnails, self)
        # a fixed cell: the view measures the first row once per filter (uniform sizes), before its thumbnail
        # has arrived, and would otherwise lay every cell out as a sliver until the next resize
        self.model.item_size = QSize(THUMB + 20, THUMB + 32)

        self.split_box = QComboBox()
        self.split_box.addItems([ANY, *catalog.counts()["splits"]])
        self.category_box = QComboBox()
        self.category_box.addItems([ANY, *catalog.schema.categories])
        self.value_boxes: dict[str, QComboBox] = {}
        filters = QFormLayout()
        filters.addRow("split", self.split_box)
        filters.addRow("category", self.category_box)
        for t in catalog.schema.types:
            if t.name == "category":
                continue
            box = QComboBox()
            box.addItems([ANY, *t.values])
            self.value_boxes[t.name] = box
            filters.addRow(t.name, box)
        for box in [self.split_box, self.category_box, *self.value_boxes.values()]:
            box.currentTextChanged.connect(self.refresh)
        panel = QWidget()
        panel_layout = QVBoxLayout(panel)
        title = QLabel("Filter the catalog")
        title.setObjectName("panelTitle")
        panel_layout.addWidget(title)
        panel_layout.addLayout(filters)
        panel_layout.addStretch(1)
        panel.setFixedWidth(240)

        self.view = QListView()
        self.view.setViewMode(QListView.IconMode)
        self.view.setResizeMode(QListView.Adjust)
        self.view.setMovement(QListView.Static)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 24, THUMB + 36))
        self.view.setSpacing(4)
        self.view.setModel(self.model)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(panel)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.resize(1180, 780)
        self.refresh()

    def current_filters(self) -> dict:
        pick = lambda box: None if box.currentText() == ANY else box.currentText()  # noqa: E731
        return {
            "split": pick(self.split_box),
            "category": pick(self.category_box),
            "attributes": {n: b.currentText() for n, b in self.value_boxes.items() if b.currentText() != ANY},
        }

    def refresh(self) -> None:
        ids = self.catalog.ids(**self.current_filters()).tolist()
        self.model.set_items(ids)
        self.statusBar().showMessage(f"{len(ids)} of {len(self.catalog)} items shown")

    def closeEvent(self, event) -> None:  # noqa: N802
        self.thumbnails.wait(5000)
        super().closeEvent(event)
