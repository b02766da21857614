"""Style-transition paths (cooperative embeddings, Sec. 5.3): the shortest path in the gallery's k-NN graph
from one garment to another, or to the most typical reachable item of a category, in the full space or in
one attribute's subspace.

The chain is a horizontal filmstrip (source first, target last); each item's caption names its category and
the arrow to the next item carries the hop's L2 length. The largest hop, where the style changes most, is
drawn as a thick amber arrow with its distance and the two items it joins are outlined.

The filmstrip (filmstrip.py) is shared with the typicality view. Every engine call is a job on the worker thread (channel ``"path"``; the item
previews use their own channels), and only the answer to this view's newest job is shown.
"""
from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.engine import Hit, PathResult
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.filmstrip import FULL, Filmstrip, FilmstripModel, fill_spaces, hit_tooltip, select_data, show_error
from fashion_gui.ui.thumbnails import ThumbnailCache

__all__ = ["PathView", "summary"]

PREVIEW = 40  # the small pictures next to the source and target ids


class _ItemPicker(QWidget):
    """A catalog item id with a small picture of the item (looked up on the worker thread)."""

    def __init__(self, client: EngineClient, thumbnails: ThumbnailCache, channel: str, parent=None) -> None:
        super().__init__(parent)
        self.client, self.thumbnails, self.channel = client, thumbnails, channel
        self.spin = QSpinBox()
        self.spin.setRange(0, 2_147_483_647)
        self.spin.setPrefix("#")
        self.spin.setMinimumWidth(84)
        self.picture = QLabel()
        self.picture.setFixedSize(PREVIEW, PREVIEW)
        self.picture.setAlignment(Qt.AlignCenter)
        self.picture.setStyleSheet("border: 1px solid palette(mid); border-radius: 3px;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.spin)
        layout.addWidget(self.picture)
        self.hit: Hit | None = None
        self._job = 0
        self.spin.valueChanged.connect(self.lookup)
        client.result.connect(self._on_result)
        client.error.connect(self._on_error)
        thumbnails.ready.connect(self._on_thumbnail)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, item_id: int) -> None:
        if self.spin.value() == item_id:
            self.lookup()
        else:
            self.spin.setValue(item_id)  # valueChanged looks it up

    def lookup(self) -> None:
        item_id = self.spin.value()
        self.hit = None
        self.picture.clear()
        self.picture.setToolTip("")
        self._job = self.client.submit(lambda engine: engine.hits([item_id], [0.0])[0], channel=self.channel)

    def _on_result(self, job_id: int, value: object, _seconds: float) -> None:
        if job_id != self._job or not isinstance(value, Hit):
            return
        self.hit = value
        self.picture.setToolTip(hit_tooltip(value))
        self._show_picture()

    def _on_error(self, job_id: int, message: str) -> None:
        if job_id == self._job:
            self.picture.setText("?")
            self.picture.setToolTip(message)

    def _on_thumbnail(self, path: str) -> None:
        if self.hit is not None and str(self.hit.image_path) == path:
            self._show_picture()

    def _show_picture(self) -> None:
        pixmap = self.thumbnails.get(str(self.hit.image_path))  # None: shown when it arrives
        if pixmap is None or pixmap.isNull():
            return
        ratio = self.devicePixelRatioF()
        small = pixmap.scaled(QSize(PREVIEW - 4, PREVIEW - 4) * ratio, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        small.setDevicePixelRatio(ratio)
        self.picture.setPixmap(small)


# --- the view ------------------------------------------------------------------------------------------
class PathView(QWidget):
    """Source item, target (an item or a category), space; "Find path"; the path as a filmstrip with the
    largest step marked, and a one-line summary."""

    use_as_query = Signal(int)

    def __init__(self, client: EngineClient, thumbnails: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.thumbnails = client, thumbnails
        self.result: PathResult | None = None
        self.last_error: str | None = None
        self._job = 0  # id of this view's newest path job
        self._defaults_job = 0
        self._user_chose = False  # set_source/set_target_item were called: keep the engine's defaults away
        self.model = FilmstripModel(thumbnails, self)
        self._build()
        client.result.connect(self._on_result)
        client.error.connect(self._on_error)

    def _build(self) -> None:
        self.source = _ItemPicker(self.client, self.thumbnails, "path-source")
        self.target_item = _ItemPicker(self.client, self.thumbnails, "path-target")
        self.item_radio = QRadioButton("item")
        self.category_radio = QRadioButton("category")
        self.item_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.item_radio)
        group.addButton(self.category_radio)
        self.category_box = QComboBox()
        self.space_box = QComboBox()
        self.space_box.addItem("full space", FULL)
        self.space_box.setToolTip("Walk the k-NN graph of the full embedding or of one attribute's subspace")
        self.find_button = QPushButton(qta.icon("fa5s.route"), "Find path")
        self.find_button.clicked.connect(self.find)
        for picker in (self.source, self.target_item):
            picker.spin.lineEdit().returnPressed.connect(self.find)
        self.item_radio.toggled.connect(self._update_target_controls)
        self.category_box.activated.connect(lambda _i: self.category_radio.setChecked(True))

        ends = QHBoxLayout()  # two rows, so the tab stays narrow enough for the settings pane beside it
        ends.addWidget(QLabel("From"))
        ends.addWidget(self.source)
        ends.addSpacing(12)
        ends.addWidget(QLabel("to"))
        ends.addWidget(self.item_radio)
        ends.addWidget(self.target_item)
        ends.addSpacing(6)
        ends.addWidget(self.category_radio)
        ends.addWidget(self.category_box)
        ends.addStretch(1)
        where = QHBoxLayout()
        where.addWidget(QLabel("in"))
        where.addWidget(self.space_box)
        where.addStretch(1)
        where.addWidget(self.find_button)
        controls = QVBoxLayout()
        controls.addLayout(ends)
        controls.addLayout(where)

        self.strip = Filmstrip(self.model, connectors=True)
        self.strip.use_as_query.connect(self.use_as_query)
        self.strip.add_item_action("Path from this item", "fa5s.play", self.set_source)
        self.strip.add_item_action("Path to this item", "fa5s.flag-checkered", self.set_target_item)
        self.status = QLabel("Pick a source item and a target item or category, then Find path.")
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.strip, 1)
        layout.addWidget(self.status)
        self._update_target_controls()

    def _update_target_controls(self) -> None:
        by_item = self.item_radio.isChecked()
        self.target_item.setEnabled(by_item)
        self.category_box.setEnabled(not by_item)

    # --- public API ------------------------------------------------------------------------------------
    @property
    def filmstrip_model(self) -> FilmstripModel:
        return self.model

    def set_engine_info(self, info: dict) -> None:
        """Categories and spaces from ``engine.describe()``; a default source and target if none was set."""
        current = self.category_box.currentText()
        self.category_box.clear()
        self.category_box.addItems(info.get("categories", []))
        if current:
            self.category_box.setCurrentText(current)
        fill_spaces(self.space_box, info)
        if not self._user_chose:
            self._defaults_job = self.client.submit(_default_ends, channel="path-defaults")

    def set_source(self, item_id: int) -> None:
        self._user_chose = True
        self.source.set_value(int(item_id))

    def set_target_item(self, item_id: int) -> None:
        self._user_chose = True
        self.item_radio.setChecked(True)
        self.target_item.set_value(int(item_id))

    def set_target_category(self, category: str) -> None:
        self.category_radio.setChecked(True)
        select_data(self.category_box, category)  # an unknown one gets the engine's explanation on Find

    def set_space(self, space: str) -> None:
        """"full" or an attribute type name."""
        select_data(self.space_box, space)

    def find(self) -> int:
        """Submit the path request for the current controls; returns the job id."""
        source, space = self.source.value(), self.space_box.currentData() or FULL
        if self.item_radio.isChecked():
            target, category = self.target_item.value(), None
            what = f"#{target}"
        else:
            target, category = None, self.category_box.currentText()
            what = f"a typical {category} item"
        self._job = self.client.submit(
            lambda engine: engine.path(source, target, target_category=category, space=space), channel="path")
        self.status.setText(f"Finding a path from #{source} to {what} ({_space_name(space)})\u2026")
        return self._job

    # --- answers ---------------------------------------------------------------------------------------
    def _on_result(self, job_id: int, value: object, seconds: float) -> None:
        if job_id == self._defaults_job and isinstance(value, tuple):
            if not self._user_chose:
                self.source.set_value(value[0])
                self.target_item.set_value(value[1])
            return
        if job_id != self._job or not isinstance(value, PathResult):
            return
        self.result, self.last_error = value, None
        self._show(value)
        self.status.setText(f"{summary(value)} \u00b7 {seconds * 1e3:.0f} ms")

    def _on_error(self, job_id: int, message: str) -> None:
        if job_id != self._job:
            return
        self.result, self.last_error = None, message
        self.model.clear()
        self.status.setText("No path: " + message.splitlines()[0])
        show_error(self, message)

    def _show(self, path: PathResult) -> None:
        n = len(path.hits)
        captions, tooltips = [], []
        for i, hit in enumerate(path.hits):
            role = "source" if i == 0 else "target" if i == n - 1 else f"step {i}"
            captions.append(f"{hit.category} #{hit.item_id}\n{role}")
            hop = (f"hop to #{path.hits[i + 1].item_id}: {path.steps[i]:.3f}" if i < n - 1 else "end of the path")
            tooltips.append(hit_tooltip(hit, f"{role} &middot; {hop}", f"cosine to the target: {hit.score:.3f}"))
        largest = path.largest_step
        marked = (largest, largest + 1) if largest is not None else ()
        self.model.set_strip(path.hits, captions, tooltips, hops=path.steps, marked=marked)
        self.strip.horizontalScrollBar().setValue(0)  # from the source, then as little as shows the largest hop
        if largest is not None:
            self.strip.scrollTo(self.model.index(largest + 1))
            self.strip.scrollTo(self.model.index(largest))


def _default_ends(engine) -> tuple[int, int]:
    """A source and a target to start from: the first and the middle gallery item."""
    ids = engine.gallery.ids
    return int(ids[0]), int(ids[len(ids) // 2])


def _space_name(space: str) -> str:
    return "full space" if space == FULL else f"{space} space"


def summary(path: PathResult) -> str:
    """"6 steps, largest step 0.83 between #12 and #40; space: colour"."""
    n = len(path.steps)
    if n == 0:
        head = "The source is already the target"
    else:
        i = path.largest_step if path.largest_step is not None else max(range(n), key=path.steps.__getitem__)
        a, b = path.hits[i].item_id, path.hits[i + 1].item_id
        head = (f"{n} step{'s' if n != 1 else ''}, largest step {path.steps[i]:.2f} between #{a} and #{b}, "
                f"total {sum(path.steps):.2f}")
    to = f"; ends at the most typical reachable {path.target_category}" if path.target_category else ""
    return f"{head}; space: {path.space}{to}"
