"""The interactive search window: a query, attribute edits, text feedback, compatible items, "similar in",
ranked results that can become the next query, and a session with undo/redo.

Every model and index call is a job for the engine worker thread (engine_worker.py); only the newest
answer is shown. The window keeps the session (engine/session.py) and never touches torch itself.
"""
from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QBuffer, QIODevice, QSize, Qt
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.engine import (
    Compatible,
    Manipulate,
    QueryState,
    Results,
    Session,
    SimilarIn,
    TextFeedback,
)
from fashion_gui.catalog.store import Catalog
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.main_window import MainWindow
from fashion_gui.ui.results_model import ItemIdRole, ResultsModel
from fashion_gui.ui.thumbnails import ThumbnailCache
from fashion_gui.workspace import Workspace

THUMB = 128
QUERY_SIDE = 192
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff *.gif)"


class SearchWindow(QMainWindow):
    """Query and controls on the left, results on the right, the session breadcrumb above them."""

    def __init__(self, workspace: Workspace, client: EngineClient, k: int = 30, start_with_item: bool = False) -> None:
        super().__init__()
        self.workspace, self.client = workspace, client
        self.start_with_item = start_with_item  # show a catalog item as the first query once the engine is open
        self.session = Session()
        self.query: QueryState | None = None
        self.edits: dict[str, str] = {}
        self.last_error: str | None = None
        self.engine_info: dict | None = None
        self._attribute_boxes: dict[str, QComboBox] = {}
        self._updating = False
        self.setWindowTitle(f"Fashion retrieval: {workspace.root.name}")
        self.setWindowIcon(qta.icon("fa5s.tshirt"))
        self.setAcceptDrops(True)
        self.thumbnails = ThumbnailCache(THUMB, self.devicePixelRatioF(), self)
        self.query_thumbnails = ThumbnailCache(QUERY_SIDE, self.devicePixelRatioF(), self)
        self.query_thumbnails.ready.connect(self._on_query_thumbnail)
        self.results_model = ResultsModel(self.thumbnails, self)
        self._build(k)
        self._job = 0  # id of this window's newest search job
        client.result.connect(self._on_result)
        client.error.connect(lambda job_id, message: job_id == self._job and self.show_error(message))
        client.opened.connect(self._on_opened)
        client.open_failed.connect(self.show_error)
        self.statusBar().showMessage("opening the workspace...")

    # --- layout ------------------------------------------------------------------------------------
    def _build(self, k: int) -> None:
        bar = QToolBar("Session")
        bar.setIconSize(QSize(18, 18))
        self.addToolBar(bar)
        self.open_action = QAction(qta.icon("fa5s.folder-open"), "Open image...", self, shortcut=QKeySequence.Open)
        self.paste_action = QAction(qta.icon("fa5s.paste"), "Paste image", self, shortcut=QKeySequence.Paste)
        self.undo_action = QAction(qta.icon("fa5s.undo"), "Undo", self, shortcut=QKeySequence.Undo)
        self.redo_action = QAction(qta.icon("fa5s.redo"), "Redo", self, shortcut=QKeySequence.Redo)
        self.focus_text_action = QAction("Text feedback", self, shortcut=QKeySequence("Ctrl+L"))
        self.browse_action = QAction(qta.icon("fa5s.th"), "Browse the catalog", self, shortcut=QKeySequence("Ctrl+B"))
        self.browse_action.triggered.connect(self.browse_catalog)
        self.browser: MainWindow | None = None
        self.open_action.triggered.connect(self.open_file)
        self.paste_action.triggered.connect(self.paste)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action.triggered.connect(self.redo)
        self.focus_text_action.triggered.connect(lambda: self.text_box.setFocus())
        for action in (self.open_action, self.paste_action, self.browse_action, self.undo_action, self.redo_action):
            bar.addAction(action)
        self.addAction(self.focus_text_action)
        self.breadcrumb = QLabel()
        self.breadcrumb.setTextFormat(Qt.RichText)
        bar.addSeparator()
        bar.addWidget(self.breadcrumb)

        self.query_label = QLabel("Drop, paste or open a garment image,\nor double-click a result.")
        self.query_label.setAlignment(Qt.AlignCenter)
        self.query_label.setFixedSize(QUERY_SIDE, QUERY_SIDE)
        self.query_label.setStyleSheet("border: 1px dashed #999; color: #666;")
        self.query_caption = QLabel()
        self.query_caption.setWordWrap(True)
        self.attribute_form = QFormLayout()
        attributes = QWidget()
        attributes.setLayout(self.attribute_form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(attributes)
        self.reset_button = QPushButton(qta.icon("fa5s.eraser"), "Reset edits")
        self.reset_button.clicked.connect(self.reset_edits)

        self.text_box = QLineEdit()
        self.text_box.setPlaceholderText('Text feedback, e.g. "change colour to red" (Enter)')
        self.text_box.returnPressed.connect(self.search_text)
        self.category_box = QComboBox()
        self.compatible_button = QPushButton(qta.icon("fa5s.link"), "Goes with")
        self.compatible_button.clicked.connect(self.search_compatible)
        self.similar_box = QComboBox()
        self.similar_button = QPushButton(qta.icon("fa5s.equals"), "Similar in")
        self.similar_button.clicked.connect(self.search_similar)
        self.k_box = QSpinBox()
        self.k_box.setRange(1, 500)
        self.k_box.setValue(k)

        left = QVBoxLayout()
        left.addWidget(self.query_label)
        left.addWidget(self.query_caption)
        left.addWidget(QLabel("<b>Attributes</b> (predicted value marked \u25cf)"))
        left.addWidget(scroll, 1)
        left.addWidget(self.reset_button)
        controls = QHBoxLayout()
        controls.addWidget(self.text_box, 3)
        controls.addWidget(self.compatible_button)
        controls.addWidget(self.category_box)
        controls.addWidget(self.similar_button)
        controls.addWidget(self.similar_box)
        controls.addWidget(QLabel("k"))
        controls.addWidget(self.k_box)

        self.results = QListView()
        self.results.setViewMode(QListView.IconMode)
        self.results.setResizeMode(QListView.Adjust)
        self.results.setIconSize(QSize(THUMB, THUMB))
        self.results.setGridSize(QSize(THUMB + 36, THUMB + 40))
        self.results.setWordWrap(True)
        self.results.setModel(self.results_model)
        self.results.doubleClicked.connect(lambda index: self.use_as_query(index.data(ItemIdRole)))
        self.results.activated.connect(lambda index: self.use_as_query(index.data(ItemIdRole)))

        right = QVBoxLayout()
        right.addLayout(controls)
        right.addWidget(self.results, 1)
        root = QHBoxLayout()
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setFixedWidth(QUERY_SIDE + 140)
        root.addWidget(left_widget)
        root.addLayout(right, 1)
        central = QWidget()
        central.setLayout(root)
        self.setCentralWidget(central)
        self._update_session_controls()

    def _on_opened(self, info: dict) -> None:
        self.engine_info = info
        self.category_box.clear()
        self.category_box.addItems(info["categories"])
        self.similar_box.clear()
        self.similar_box.addItems(info["attributes"])
        composed = info.get("composed") or {}
        if not composed.get("text_model"):  # the engine explains it too, if the user tries
            self.text_box.setPlaceholderText("Text feedback needs a composed model: fashion train uigr-tirg")
        self.statusBar().showMessage(f"{info['device']} \u00b7 {info['gallery_items']} items \u00b7 "
                                     f"model {info['attribute_model']}")
        if self.start_with_item and self.query is None:
            k = self.k_box.value()
            self._submit(lambda engine: engine.search(
                Manipulate(engine.query_from_item(int(engine.gallery.ids[len(engine.gallery.ids) // 2])), {}), k))

    # --- queries -------------------------------------------------------------------------------------
    def _submit(self, job) -> int:
        """A search job on the worker thread (channel "search"); only its newest answer is shown."""
        self._job = self.client.submit(job, channel="search")
        return self._job

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a garment image", str(Path.home()), IMAGE_FILTER)
        if path:
            self.load_image(path)

    def paste(self) -> None:
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is not None and mime.hasUrls() and mime.urls()[0].isLocalFile():
            self.load_image(mime.urls()[0].toLocalFile())
            return
        image = clipboard.image()
        if image.isNull():
            self.show_error("The clipboard holds no image; copy an image or an image file first.")
            return
        self.load_image(_png_bytes(image))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        mime = event.mimeData()
        if mime.hasUrls() and mime.urls()[0].isLocalFile():
            self.load_image(mime.urls()[0].toLocalFile())
        elif mime.hasImage():
            self.load_image(_png_bytes(QImage(mime.imageData())))
        event.acceptProposedAction()

    def browse_catalog(self) -> None:
        """The catalog browser (filters by split, category and attribute); double-click an item to query."""
        if self.browser is None:
            self.browser = MainWindow(self.workspace, Catalog.open(self.workspace.catalog_path))
            self.browser.view.doubleClicked.connect(lambda index: self.use_as_query(index.data(ItemIdRole)))
        self.browser.show()
        self.browser.raise_()

    def load_image(self, source: str | bytes) -> None:
        """A new query from a file or image bytes (encoded on the worker thread), then its neighbours."""
        k = self.k_box.value()
        self._submit(lambda engine: engine.search(Manipulate(engine.encode(source), {}), k))

    def use_as_query(self, item_id: int | None) -> None:
        """A result (or any catalog item) becomes the next query."""
        if item_id is None:
            return
        k = self.k_box.value()
        self._submit(lambda engine: engine.search(Manipulate(engine.query_from_item(item_id), {}), k))

    # --- requests ------------------------------------------------------------------------------------
    def _on_attribute_changed(self, name: str) -> None:
        if self._updating or self.query is None:
            return
        value = self._attribute_boxes[name].currentData()
        current = self.query.attributes.get(name)
        if value is None or value == current:
            self.edits.pop(name, None)
        else:
            self.edits[name] = value
        self.search_edits()

    def search_edits(self) -> None:
        if self.query is None:
            return
        query, edits, k = self.query, dict(self.edits), self.k_box.value()
        self._submit(lambda engine: engine.search(Manipulate(query, edits), k))

    def reset_edits(self) -> None:
        self.edits.clear()
        self._show_attributes()
        self.search_edits()

    def search_text(self) -> None:
        text = self.text_box.text().strip()
        if self.query is None or not text:
            return
        query, k = self.query, self.k_box.value()
        self._submit(lambda engine: engine.search(TextFeedback(query, text), k))

    def search_compatible(self) -> None:
        if self.query is None:
            return
        query, category, k = self.query, self.category_box.currentText(), self.k_box.value()
        self._submit(lambda engine: engine.search(Compatible(query, category), k))

    def search_similar(self) -> None:
        if self.query is None:
            return
        query, attribute, k = self.query, self.similar_box.currentText(), self.k_box.value()
        self._submit(lambda engine: engine.search(SimilarIn(query, attribute), k))

    # --- answers -------------------------------------------------------------------------------------
    def _on_result(self, job_id: int, value: object, seconds: float) -> None:
        if job_id != self._job or not isinstance(value, Results):
            return
        self.session.record(value)
        self._show_turn(value)
        self.statusBar().showMessage(self._status(value, seconds))

    def _status(self, results: Results, seconds: float) -> str:
        info = self.engine_info or {}
        note = f" \u00b7 {results.note}" if results.note else ""
        return (f"{info.get('device', '?')} \u00b7 {info.get('gallery_items', '?')} items \u00b7 "
                f"{len(results)} results in {seconds * 1e3:.0f} ms{note}")

    def _show_turn(self, results: Results) -> None:
        self.query = results.request.query
        self.edits = dict(results.request.edits) if isinstance(results.request, Manipulate) else {}
        self.results_model.set_hits(results.hits)
        self._show_query()
        self._show_attributes()
        self._update_session_controls()

    def _show_query(self) -> None:
        """The query's picture: files are decoded off the GUI thread (thumbnail cache); an image that came as
        bytes is the engine's small RGB copy."""
        q = self.query
        if q.image_path is not None:
            pixmap = self.query_thumbnails.get(str(q.image_path))  # None: shown when it arrives
        else:
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap.fromImage(_qimage(q.image)).scaled(QSize(QUERY_SIDE, QUERY_SIDE) * ratio,
                                                                Qt.KeepAspectRatio, Qt.SmoothTransformation)
            pixmap.setDevicePixelRatio(ratio)
        if pixmap is not None and not pixmap.isNull():
            self.query_label.setPixmap(pixmap)
        self.query_caption.setText(f"{q.category or ''} \u00b7 {q.source}")

    def _on_query_thumbnail(self, path: str) -> None:
        if self.query is not None and self.query.image_path is not None and str(self.query.image_path) == path:
            self._show_query()

    def _show_attributes(self) -> None:
        """One combo per attribute type: values, the predicted one marked with its confidence, edits shown."""
        q = self.query
        if q is None:
            return
        self._updating = True
        try:
            if not self._attribute_boxes:
                for name in (self.engine_info or {}).get("attributes", list(q.predicted)):
                    box = QComboBox()
                    box.currentIndexChanged.connect(lambda _i, n=name: self._on_attribute_changed(n))
                    self._attribute_boxes[name] = box
                    self.attribute_form.addRow(name, box)
            values = (self.engine_info or {}).get("values", {})
            for name, box in self._attribute_boxes.items():
                box.clear()
                predicted, confidence = q.predicted.get(name, (None, 0.0))
                box.addItem("\u2014", None)
                for value in values.get(name, []):
                    mark = f"  \u25cf {confidence:.0%}" if value == predicted else ""
                    box.addItem(f"{value}{mark}", value)
                shown = self.edits.get(name, q.attributes.get(name))
                box.setCurrentIndex(max(box.findData(shown), 0))
                edited = name in self.edits
                box.setStyleSheet("font-weight: bold;" if edited else "")
        finally:
            self._updating = False

    def show_error(self, message: str) -> None:
        """A non-blocking dialog; the app keeps running."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Warning, "Fashion retrieval", message, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    # --- session -------------------------------------------------------------------------------------
    def undo(self) -> None:
        turn = self.session.undo()
        if turn is not None and turn.results is not None:
            self._show_turn(turn.results)

    def redo(self) -> None:
        turn = self.session.redo()
        if turn is not None and turn.results is not None:
            self._show_turn(turn.results)

    def _update_session_controls(self) -> None:
        self.undo_action.setEnabled(self.session.can_undo)
        self.redo_action.setEnabled(self.session.can_redo)
        parts = []
        for i, turn in enumerate(self.session.turns[-6:], start=max(0, len(self.session) - 6)):
            label = turn.label if turn.request is not None else "query"
            parts.append(f"<b>{label}</b>" if i == self.session.cursor else label)
        self.breadcrumb.setText(" \u203a ".join(parts))

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.browser is not None:
            self.browser.close()
            self.browser.catalog.close()
        self.thumbnails.wait(5000)
        self.query_thumbnails.wait(5000)
        super().closeEvent(event)


def _png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def _qimage(image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format_RGB888).copy()
