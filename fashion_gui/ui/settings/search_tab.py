"""The Settings pane's Search tab: the device, the models the engine uses, how attribute edits are ranked and
the index parameters.

The model choosers come from the method registry: one for the encoder model (the gallery space, attribute
edits, "similar in", style paths) and one per request kind that some non-encoder method serves (text
feedback, compatible items), each listing the workspace's checkpoints whose method serves it, plus
"Automatic". The edit ranking (engine/edits.py EDIT_RANKINGS: visual, labels, paper) goes into the config's
``edits`` policy. Apply saves the index parameters and emits ``apply_requested(workspace, device, config)``.
"""
from __future__ import annotations

import dataclasses
import html

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.engine import EngineConfig, EngineError
from fashion_gui.engine.edits import EDIT_RANKINGS
from fashion_gui.engine.models import ModelInfo
from fashion_gui.engine.config import INDEX_CONFIG_FILE, load_index_config, save_index_config
from fashion_gui.index import IndexConfig
from fashion_gui.index.config import SPACES, STORAGE_DTYPES, SUBSPACE_KINDS
from fashion_gui.methods import REQUEST_KINDS, get_method, list_methods
from fashion_gui.ui.settings.log_view import ERROR_STYLE
from fashion_gui.workspace import Workspace
from fashion_gui.workspace_checks import headline, model_tooltip

# IndexConfig field -> (label, tooltip); a field missing here still gets a widget, labelled with its name
INDEX_HELP: dict[str, tuple[str, str]] = {
    "space": ("Distance", "cosine (vectors L2-normalised) or squared euclidean"),
    "M": ("HNSW links per node (M)", "16 loses ~7 points of recall@50; 48 builds ~2x slower"),
    "ef_construction": ("Build beam (ef_construction)", "larger: better graph, slower build"),
    "ef_search": ("Search beam (ef_search)", "recall 0.97 / 0.99 / 0.997 at 150 / 200 / 300 (M=32)"),
    "search_dim": ("Graph dimensions (PCA)", "the graph lives in a PCA projection; 0 = the full space"),
    "pca_sample": ("PCA sample rows", "rows sampled to learn the projection"),
    "rerank": ("Re-rank factor", "candidates = max(k x this, minimum candidates), re-ranked exactly"),
    "min_candidates": ("Minimum candidates", "100 recovers the exact top 50 in a 128-d projection"),
    "exact_threshold": ("Exact scan below (items)", "smaller catalogs are scanned exactly, without a graph"),
    "category_scan_fraction": ("Category scan fraction", "categories up to this share of items: projected scan"),
    "subspace_index": ("Attribute subspaces", "exact scan, an HNSW graph, or a projected scan + exact re-rank "
                                              "per attribute"),
    "subspace_search_dim": ("Subspace scan dimensions", "projected: PCA dims of each attribute's scan"),
    "subspace_candidates": ("Subspace candidates", "projected: candidates re-ranked exactly per query"),
    "storage": ("Re-ranking vectors", "float16 halves the memory but adds ~0.9 ms per query; int8 (+ a scale per "
                                      "item) quarters it, for catalogs of a million items"),
    "memmap": ("Map vectors from disk", "read the saved vectors on demand instead of into memory (catalogs "
                                        "larger than RAM); changing it reopens the index, never rebuilds it"),
    "num_threads": ("Build threads", "threads for building (0 = all cores); queries use one"),
    "seed": ("Seed", "seeds the projection and the HNSW level generator"),
}
INDEX_CHOICES = {"space": SPACES, "storage": STORAGE_DTYPES, "subspace_index": SUBSPACE_KINDS}
ENCODER_TIP = ("The encoder model gives the gallery space: it encodes query images, predicts their attributes "
               "and serves attribute edits, \u201csimilar in\u201d and style paths.")
AUTOMATIC_TIP = ("Automatic: the engine picks a checkpoint of this workspace whose method serves it, "
                 "preferring methods in the registry's order.")


def chooser_kinds() -> list[str]:
    """The request kinds that get a model chooser of their own: those some non-encoder method serves."""
    return [kind for kind in REQUEST_KINDS if list_methods(serves=kind, encoder=False)]


def kind_title(kind: str) -> str:
    label = REQUEST_KINDS[kind].split(" (")[0]
    return label[:1].upper() + label[1:]


class SearchTab(QWidget):
    """Device, model choosers and index parameters. ``models`` are the workspace's checkpoints as the
    choosers last listed them; ``model_boxes`` maps each request kind with a chooser to its combo."""

    apply_requested = Signal(object, str, object)  # Workspace, device, EngineConfig
    error = Signal(str)
    device_changed = Signal(str)

    def __init__(self, workspace: Workspace, device: str, config: EngineConfig | None, devices: dict,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.base_config = config or EngineConfig()
        self.devices = devices
        self.models: list[ModelInfo] = []
        self.index_widgets: dict[str, QWidget] = {}
        self._listed = False  # the choosers have been filled once (from base_config)

        top = QHBoxLayout()
        top.addWidget(self._build_device_group(device), 2)
        top.addWidget(self._build_models_group(), 3)
        self.defaults_button = QPushButton(qta.icon("fa5s.undo"), "Default parameters")
        self.defaults_button.clicked.connect(lambda: self._show_index_config(IndexConfig()))
        self.apply_button = QPushButton(qta.icon("fa5s.check"), "Apply")
        self.apply_button.setToolTip("Save the index parameters and reopen the search engine with these choices")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.apply)
        buttons = QHBoxLayout()
        buttons.addWidget(self.defaults_button)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self._build_index_group())
        layout.addStretch(1)
        layout.addLayout(buttons)

    # --- building ----------------------------------------------------------------------------------------
    def _build_device_group(self, device: str) -> QGroupBox:
        self.device_box = QComboBox()
        self.device_note = QLabel()
        self.device_note.setWordWrap(True)
        self._fill_devices(device)
        self.device_box.currentIndexChanged.connect(lambda _i: self.device_changed.emit(self.current_device()))
        group = QGroupBox("Device")
        form = QFormLayout(group)
        form.addRow("Run on", self.device_box)
        form.addRow("", self.device_note)
        return group

    def _build_models_group(self) -> QGroupBox:
        self.encoder_box = _model_box()
        self.encoder_box.setToolTip(ENCODER_TIP)
        self.model_boxes: dict[str, QComboBox] = {kind: _model_box() for kind in chooser_kinds()}
        self.active_label = QLabel("The search engine has not reported yet.")
        self.active_label.setWordWrap(True)
        self.active_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.active_label.setStyleSheet("color: #444;")
        group = QGroupBox("Models")
        form = QFormLayout(group)
        form.addRow("Attribute model", self.encoder_box)
        for kind, box in self.model_boxes.items():
            form.addRow(kind_title(kind), box)
        form.addRow("Edits ranked by", self._build_ranking_box())
        form.addRow("Active", self.active_label)
        return group

    def _build_ranking_box(self) -> QWidget:
        """The edit ranking: one entry per EDIT_RANKINGS key, its description as the tooltip and below."""
        self.ranking_box = QComboBox()
        for name, description in EDIT_RANKINGS.items():
            self.ranking_box.addItem(name, name)
            self.ranking_box.setItemData(self.ranking_box.count() - 1, description, Qt.ToolTipRole)
        self.ranking_note = QLabel()
        self.ranking_note.setWordWrap(True)
        self.ranking_note.setStyleSheet("color: #444;")
        self.ranking_box.currentIndexChanged.connect(lambda _i: self._show_ranking_note())
        self._select_ranking(self.base_config.edits.ranking)
        cell = QWidget()
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.ranking_box)
        column.addWidget(self.ranking_note)
        return cell

    def _select_ranking(self, ranking: str) -> None:
        self.ranking_box.setCurrentIndex(max(self.ranking_box.findData(ranking), 0))
        self._show_ranking_note()

    def _show_ranking_note(self) -> None:
        description = EDIT_RANKINGS.get(self.ranking_box.currentData(), "")
        self.ranking_note.setText(description[:1].upper() + description[1:])
        self.ranking_box.setToolTip(f"How \u201cthis, but red\u201d is ranked: {description}")

    def _build_index_group(self) -> QGroupBox:
        group = QGroupBox("Index parameters (saved per workspace; a change rebuilds the index, except mapping from disk "
                          "and build threads)")
        grid = QGridLayout(group)
        grid.setHorizontalSpacing(12)
        defaults = IndexConfig()
        for n, f in enumerate(dataclasses.fields(IndexConfig)):
            label, tip = INDEX_HELP.get(f.name, (f.name, ""))
            widget = _index_widget(f.name, getattr(defaults, f.name))
            widget.setToolTip(f"{f.name}: {tip}" if tip else f.name)
            self.index_widgets[f.name] = widget
            row, col = n % 7, 2 * (n // 7)
            text = QLabel(label)
            text.setToolTip(widget.toolTip())
            grid.addWidget(text, row, col)
            grid.addWidget(widget, row, col + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.index_note = QLabel()
        self.index_note.setWordWrap(True)
        grid.addWidget(self.index_note, 7, 0, 1, 4)
        return group

    # --- state -------------------------------------------------------------------------------------------
    def current_device(self) -> str:
        return str(self.device_box.currentData())

    def current_config(self) -> EngineConfig:
        """The models and the edit ranking chosen here, on top of the config the tab was given. ``index`` is
        None: the engine reads the workspace's saved parameters, which Apply writes."""
        models = {kind: box.currentData() for kind, box in self.model_boxes.items() if box.currentData()}
        edits = dataclasses.replace(self.base_config.edits, ranking=self.ranking_box.currentData())
        return dataclasses.replace(self.base_config, encoder_model=self.encoder_box.currentData(), models=models,
                                   edits=edits, index=None)

    def current_index_config(self) -> IndexConfig:
        """The index parameters in the widgets (ValueError with IndexConfig's message when one is invalid)."""
        values = {}
        for name, widget in self.index_widgets.items():
            if isinstance(widget, QComboBox):
                values[name] = widget.currentText()
            elif isinstance(widget, QCheckBox):
                values[name] = widget.isChecked()
            else:
                values[name] = widget.value()
        return IndexConfig(**values)

    def set_workspace(self, workspace: Workspace, config: EngineConfig | None = None) -> None:
        """Another workspace (or new choices for this one): ``config`` holds its models; without it the
        choices stay for the same workspace and go back to Automatic for another (a checkpoint name means
        nothing in another workspace)."""
        if config is not None or workspace != self.workspace:
            self.base_config = config or dataclasses.replace(self.base_config, encoder_model=None, models={})
            self._listed = False  # the next listing selects from base_config
            self._select_ranking(self.base_config.edits.ranking)
        self.workspace = workspace
        self._load_index_config()

    def apply(self) -> bool:
        """Save the index parameters, then ask the window to reopen the engine (``apply_requested``)."""
        try:
            index = self.current_index_config()
            save_index_config(self.workspace, index)
        except ValueError as exc:
            self.error.emit(f"Index parameters: {exc}")
            return False
        except OSError as exc:
            self.error.emit(f"Cannot save the index parameters in {self.workspace.indexes}: {exc}")
            return False
        self.index_note.setText(f"Saved to {self.workspace.indexes / INDEX_CONFIG_FILE}.")
        self.index_note.setStyleSheet("color: #444;")
        self.apply_requested.emit(self.workspace, self.current_device(), self.current_config())
        return True

    # --- models ------------------------------------------------------------------------------------------
    def set_models(self, models: list[ModelInfo]) -> None:
        """List ``models`` in the choosers: the encoder chooser lists encoder checkpoints, each kind's chooser
        the checkpoints whose method serves that kind. The current choices stay (the first listing after a
        workspace change takes them from the config instead); a checkpoint that does not fit the catalog is
        listed but cannot be chosen."""
        first, self._listed = not self._listed, True
        wanted_encoder = self.base_config.encoder_model if first else self.encoder_box.currentData()
        _fill(self.encoder_box, [m for m in models if m.encoder], wanted_encoder)
        for kind, box in self.model_boxes.items():
            wanted = self.base_config.models.get(kind) if first else box.currentData()
            # encoders serve their kinds through the encoder chooser (Automatic here = the encoder, if it serves it)
            _fill(box, [m for m in models if kind in m.serves and not m.encoder], wanted)
        self.models = models

    def choose_trained(self, name: str, method: str) -> None:
        """A checkpoint just trained becomes the choice for what its method serves."""
        spec = get_method(method)
        boxes = [self.encoder_box] if spec.encoder else []
        # an encoder serves its kinds through the encoder chooser (a kind left on Automatic uses the encoder)
        boxes += [self.model_boxes[kind] for kind in spec.serves if kind in self.model_boxes and not spec.encoder]
        for box in boxes:
            index = box.findData(name)
            if index >= 0 and item_enabled(box, index):
                box.setCurrentIndex(index)

    def _fill_devices(self, device: str) -> None:
        """The device list from ``self.devices`` (torch's view, which arrives with the engine: empty until
        then, when every choice is offered and the note says so), with ``device`` selected."""
        info = self.devices
        known = bool(info)
        gpus = list(info.get("gpus", []))
        blocked = self.device_box.blockSignals(True)
        self.device_box.clear()
        auto = f"CUDA: {gpus[0]}" if info.get("cuda") and gpus else "the CPU" if known else "a GPU when there is one"
        self.device_box.addItem(f"Automatic (uses {auto})", "auto")
        self.device_box.addItem(f"CUDA: {gpus[0]}" if gpus else "CUDA (no GPU found)" if known else "CUDA", "cuda")
        for i, name in enumerate(gpus[1:], start=1):
            self.device_box.addItem(f"CUDA {i}: {name}", f"cuda:{i}")
        self.device_box.addItem("CPU", "cpu")
        if known and not info.get("cuda"):
            set_item_enabled(self.device_box, 1, False,
                             f"torch {info.get('torch', '?')} sees no CUDA GPU (no NVIDIA GPU or driver, or a "
                             "CPU-only build of torch); search and training run on the CPU")
        self.device_note.setText(
            f"torch {info.get('torch', '?')}, CPU threads: {info.get('threads', '?')}\n"
            f"{'GPU: ' + ', '.join(gpus) if gpus else 'No CUDA GPU found'}" if known else
            "torch is loading with the search engine: the GPUs are listed once it has opened.")
        index = self.device_box.findData(device)
        if index < 0 or not item_enabled(self.device_box, index):
            if device != "auto":
                self.device_note.setText(self.device_note.text() + f"\n{device!r} is not available here: "
                                         "using Automatic.")
            index = 0
        self.device_box.setCurrentIndex(index)
        self.device_box.blockSignals(blocked)

    def set_devices(self, devices: dict) -> None:
        """Torch's view of the devices (``describe_devices()``, from the engine): relist them, keeping the
        choice when it is still available (else Automatic, and the device-changed signal says so)."""
        if devices == self.devices:
            return
        before = self.current_device()
        self.devices = dict(devices)
        self._fill_devices(before)
        if self.current_device() != before:
            self.device_changed.emit(self.current_device())

    def set_engine_info(self, info: dict) -> None:
        """What the engine has open (``RetrievalEngine.describe()``): encoder, device, models, indexes."""
        if info.get("devices"):
            self.set_devices(info["devices"])
        encoder = info.get("encoder_model", "?")
        parts = [f"<b>{html.escape(str(encoder))}</b> ({html.escape(str(info.get('method', '?')))}) on "
                 f"<b>{html.escape(str(info.get('device', '?')))}</b>", f"{info.get('gallery_items', '?')} items"]
        for kind, folder in (info.get("models") or {}).items():
            if kind in self.model_boxes and folder:
                parts.append(f"{html.escape(REQUEST_KINDS.get(kind, kind))}: {html.escape(str(folder))}")
        indexes = [f"{html.escape(name)}: {i.get('kind', '?')}, {i.get('items', '?')} items, {i.get('status', '?')}"
                   for name, i in (info.get("indexes") or {}).items()]
        self.active_label.setText(" \u00b7 ".join(parts) + ("<br>Indexes: " + "; ".join(indexes) if indexes else ""))

    # --- index parameters --------------------------------------------------------------------------------
    def _show_index_config(self, config: IndexConfig) -> None:
        for name, widget in self.index_widgets.items():
            value = getattr(config, name)
            if isinstance(widget, QComboBox):
                widget.setCurrentIndex(max(widget.findText(str(value)), 0))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            else:
                widget.setValue(value)

    def _load_index_config(self) -> None:
        try:
            config = load_index_config(self.workspace)
            self.index_note.setText("")
        except EngineError as exc:
            config = IndexConfig()
            self.index_note.setText(f"{exc}\nShowing the defaults; Apply replaces the file.")
            self.index_note.setStyleSheet(ERROR_STYLE)
        self._show_index_config(config)


def _model_box() -> QComboBox:
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(28)
    return box


def _fill(box: QComboBox, models: list[ModelInfo], wanted: str | None) -> None:
    """Refill a model chooser: "Automatic" (None), then each checkpoint (disabled when it does not fit)."""
    box.blockSignals(True)
    box.clear()
    box.addItem("Automatic", None)
    box.setItemData(0, AUTOMATIC_TIP, Qt.ToolTipRole)
    for m in models:
        text = f"{m.name} \u00b7 {headline(m)}" if m.name == m.method else f"{m.name} ({m.method}) \u00b7 {headline(m)}"
        box.addItem(text, m.name)
        set_item_enabled(box, box.count() - 1, m.problem is None, model_tooltip(m))
    index = box.findData(wanted) if wanted is not None else 0
    box.setCurrentIndex(index if index >= 0 and item_enabled(box, index) else 0)
    box.blockSignals(False)


def _index_widget(name: str, default: object) -> QWidget:
    if name in INDEX_CHOICES:
        box = QComboBox()
        box.addItems(list(INDEX_CHOICES[name]))
        return box
    if isinstance(default, bool):
        return QCheckBox()
    if isinstance(default, float):
        spin = QDoubleSpinBox()
        spin.setRange(0.0, 1.0)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        return spin
    spin = QSpinBox()
    spin.setRange(0, 10_000_000)
    spin.setGroupSeparatorShown(True)
    return spin


def set_item_enabled(box: QComboBox, index: int, enabled: bool, tooltip: str) -> None:
    item = box.model().item(index)
    item.setEnabled(enabled)
    box.setItemData(index, tooltip or None, Qt.ToolTipRole)


def item_enabled(box: QComboBox, index: int) -> bool:
    return box.model().item(index).isEnabled()
