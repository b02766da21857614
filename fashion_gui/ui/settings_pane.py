"""The settings pane: device, models and index parameters (Search), the workspace (open, create the demo,
import a CSV) and training in a separate process with live curves (Training).

The search window puts it in a dock or a dialog and listens: ``apply_requested(workspace, device, config)``
(reopen the engine; it rebuilds the indexes whose parameters changed), ``workspace_requested(workspace)``
and ``checkpoint_trained(name, family)``. Call ``shutdown()`` before the app quits: it ends any child
process. Widgets never call torch; the one exception is ``describe_devices()`` for the device list.
"""
from __future__ import annotations

import dataclasses
import html
import re
import shlex
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.catalog.store import Catalog, CatalogError
from fashion_gui.cli.train import TRAIN_FLAGS
from fashion_gui.engine import EngineConfig, EngineError
from fashion_gui.engine.engine import INDEX_CONFIG_FILE, load_index_config, save_index_config
from fashion_gui.index import IndexConfig
from fashion_gui.index.config import SPACES, STORAGE_DTYPES, SUBSPACE_KINDS
from fashion_gui.inference.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from fashion_gui.inference.device import describe_devices
from fashion_gui.training.outfit import OUTFIT_METHODS
from fashion_gui.training.registry import METHODS, list_methods
from fashion_gui.training.uigr import COMPOSED_METHODS
from fashion_gui.ui.training_chart import TrainingChart
from fashion_gui.ui.training_run import CliRun, TrainingRun, checkpoint_name, describe_event, flag_value
from fashion_gui.workspace import Workspace

LOG_LINES = 2000  # the log views keep this many lines
CHECKPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ERROR_STYLE = "color: #b00020;"
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
    "subspace_index": ("Attribute subspaces", "exact scan or an HNSW graph per attribute"),
    "storage": ("Re-ranking vectors", "float16 halves the memory but adds ~0.9 ms per query"),
    "num_threads": ("Build threads", "threads for building (0 = all cores); queries use one"),
    "seed": ("Seed", "seeds the projection and the HNSW level generator"),
}
INDEX_CHOICES = {"space": SPACES, "storage": STORAGE_DTYPES, "subspace_index": SUBSPACE_KINDS}
COMPATIBLE_SOURCES = (
    ("auto", "Automatic (UIGR when present, else ADDE-O)"),
    ("uigr", "UIGR: the compatible-retrieval branch"),
    ("adde-o", "ADDE-O: the outfit head on the attribute model"),
)
# headline validation figure of a checkpoint: metrics key -> short label (first present wins)
HEADLINES = (("val_top10", "manip. top-10"), ("val_score", "val. score"),
             ("val_vcr_in_category_R@10", "VCR R@10"), ("val_attr_acc", "attr. acc."))


@dataclass
class DemoRecipe:
    """What "Create the demo..." runs: ``fashion catalog demo`` with these flags, then (when the pane's
    "train an attribute model" box is ticked, as for imports) ``fashion train`` so the engine can open."""

    catalog_flags: list[str] = field(default_factory=lambda: ["--workers", "1"])  # one process: a cancel
    #                                                       leaves no orphaned render workers behind
    train_method: str = "adde"
    train_epochs: int = 10  # the ADDE defaults: about a minute and a half on a 2-core CPU
    train_flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckpointInfo:
    """One checkpoint folder as the combos show it; ``problem`` is set when it does not fit the catalog."""

    name: str
    method: str
    family: str
    metrics: dict
    problem: str | None = None

    @property
    def headline(self) -> str:
        for key, label in HEADLINES:
            value = self.metrics.get(key)
            if isinstance(value, (int, float)):
                return f"{label} {value:.2f}"
        return "no validation figures"

    @property
    def tooltip(self) -> str:
        if self.problem:
            return self.problem
        lines = [f"{self.name}: {METHODS[self.method].description}"]
        lines += [f"{k} = {v:.4g}" for k, v in self.metrics.items() if isinstance(v, (int, float))]
        return "\n".join(lines)


def scan_checkpoints(ws: Workspace) -> list[CheckpointInfo]:
    """The workspace's checkpoints, newest first, each checked against the catalog's attribute schema."""
    try:
        with Catalog.open(ws.catalog_path) as catalog:
            schema = catalog.schema.to_dict()
    except (CatalogError, sqlite3.Error, OSError):
        schema = None
    found = []
    for folder in list_checkpoints(ws.checkpoints):
        try:
            ckpt, problem = load_checkpoint(folder, expected_schema=schema), None
        except CheckpointError as exc:
            try:
                ckpt, problem = load_checkpoint(folder), str(exc)
            except CheckpointError:
                continue
        if ckpt.method not in METHODS:
            continue
        metrics = ckpt.metrics.get("validation", ckpt.metrics)
        found.append(CheckpointInfo(folder.name, ckpt.method, METHODS[ckpt.method].family,
                                    metrics if isinstance(metrics, dict) else {}, problem))
    return found


def workspace_problem(ws: Workspace) -> str | None:
    """Why ``ws`` cannot be opened, in words a person can act on; None when it can."""
    if not ws.root.is_dir():
        return f"{ws.root} does not exist."
    if not ws.exists():
        return (f"{ws.root} is not a workspace: it has no catalog.sqlite.\nPick a folder made by "
                "\"Create the demo\" or \"Import a CSV\", or create one there.")
    try:
        Catalog.open(ws.catalog_path).close()
    except (CatalogError, sqlite3.Error, OSError) as exc:
        return f"The workspace {ws.root} cannot be opened:\n{exc}"
    return None


class SettingsPane(QWidget):
    """Search / Workspace / Training tabs. ``run`` is the Training tab's TrainingRun (None before the first);
    ``job`` the Workspace tab's current catalog or training step; ``last_error`` the last message shown."""

    apply_requested = Signal(object, str, object)  # Workspace, device ("auto" | "cuda" | "cpu"), EngineConfig
    workspace_requested = Signal(object)  # Workspace
    checkpoint_trained = Signal(str, str)  # checkpoint name, family ("attributes" | "composed")

    def __init__(self, workspace: Workspace, device: str = "auto", config: EngineConfig | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.base_config = config or EngineConfig()
        self.run: TrainingRun | None = None
        self.job: CliRun | None = None
        self.last_error: str | None = None
        self.engine_info: dict | None = None
        self.demo_recipe = DemoRecipe()
        self.checkpoints: list[CheckpointInfo] = []
        self.devices = describe_devices()
        self._job_queue: list[CliRun] = []
        self._job_workspace: Workspace | None = None
        self._job_folder_was_new = False
        self.index_widgets: dict[str, QWidget] = {}
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_search_tab(device), qta.icon("fa5s.search"), "Search")
        self.tabs.addTab(self._build_workspace_tab(), qta.icon("fa5s.folder"), "Workspace")
        self.tabs.addTab(self._build_training_tab(), qta.icon("fa5s.chart-line"), "Training")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.tabs)
        self.set_workspace(workspace)

    # --- Search tab -----------------------------------------------------------------------------------
    def _build_search_tab(self, device: str) -> QWidget:
        self.device_box = QComboBox()
        info = self.devices
        gpus = list(info.get("gpus", []))
        auto = f"CUDA: {gpus[0]}" if info.get("cuda") and gpus else "the CPU"
        self.device_box.addItem(f"Automatic (uses {auto})", "auto")
        self.device_box.addItem(f"CUDA: {gpus[0]}" if gpus else "CUDA (no GPU found)", "cuda")
        for i, name in enumerate(gpus[1:], start=1):
            self.device_box.addItem(f"CUDA {i}: {name}", f"cuda:{i}")
        self.device_box.addItem("CPU", "cpu")
        if not info.get("cuda"):
            _set_enabled(self.device_box, 1, False,
                         f"torch {info.get('torch', '?')} sees no CUDA GPU (no NVIDIA GPU or driver, or a "
                         "CPU-only build of torch); search and training run on the CPU")
        self.device_note = QLabel(f"torch {info.get('torch', '?')}, CPU threads: {info.get('threads', '?')}\n"
                                  f"{'GPU: ' + ', '.join(gpus) if gpus else 'No CUDA GPU found'}")
        self.device_note.setWordWrap(True)
        index = self.device_box.findData(device)
        if index < 0 or not _is_enabled(self.device_box, index):
            if device != "auto":
                self.device_note.setText(self.device_note.text() + f"\n{device!r} is not available here: "
                                         "using Automatic.")
            index = 0
        self.device_box.setCurrentIndex(index)
        device_group = QGroupBox("Device")
        device_form = QFormLayout(device_group)
        device_form.addRow("Run on", self.device_box)
        device_form.addRow("", self.device_note)

        self.attribute_box = QComboBox()
        self.composed_box = QComboBox()
        self.compatible_box = QComboBox()
        for value, text in COMPATIBLE_SOURCES:
            self.compatible_box.addItem(text, value)
        for box in (self.attribute_box, self.composed_box, self.compatible_box):
            box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(28)
        self.active_label = QLabel("The search engine has not reported yet.")
        self.active_label.setWordWrap(True)
        self.active_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.active_label.setStyleSheet("color: #444;")
        models_group = QGroupBox("Models")
        models_form = QFormLayout(models_group)
        models_form.addRow("Attribute model", self.attribute_box)
        models_form.addRow("Text feedback model", self.composed_box)
        models_form.addRow("Compatible items", self.compatible_box)
        models_form.addRow("Active", self.active_label)

        index_group = QGroupBox("Index parameters (saved per workspace; a change rebuilds the index)")
        grid = QGridLayout(index_group)
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

        top = QHBoxLayout()
        top.addWidget(device_group, 2)
        top.addWidget(models_group, 3)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(top)
        layout.addWidget(index_group)
        layout.addStretch(1)
        layout.addLayout(buttons)
        return tab

    def current_device(self) -> str:
        return str(self.device_box.currentData())

    def current_config(self) -> EngineConfig:
        """The models chosen here, on top of the config the pane was given. ``index`` is None: the engine
        reads the workspace's saved parameters, which Apply writes."""
        return dataclasses.replace(self.base_config, attribute_model=self.attribute_box.currentData(),
                                   composed_model=self.composed_box.currentData(),
                                   compatible_model=str(self.compatible_box.currentData()), index=None)

    def current_index_config(self) -> IndexConfig:
        """The index parameters in the widgets (ValueError with IndexConfig's message when one is invalid)."""
        values = {}
        for name, widget in self.index_widgets.items():
            if isinstance(widget, QComboBox):
                values[name] = widget.currentText()
            else:
                values[name] = widget.value()
        return IndexConfig(**values)

    def apply(self) -> bool:
        """Save the index parameters, then ask the window to reopen the engine (``apply_requested``)."""
        try:
            index = self.current_index_config()
            save_index_config(self.workspace, index)
        except ValueError as exc:
            self.show_error(f"Index parameters: {exc}")
            return False
        except OSError as exc:
            self.show_error(f"Cannot save the index parameters in {self.workspace.indexes}: {exc}")
            return False
        self.index_note.setText(f"Saved to {self.workspace.indexes / INDEX_CONFIG_FILE}.")
        self.index_note.setStyleSheet("color: #444;")
        self.apply_requested.emit(self.workspace, self.current_device(), self.current_config())
        return True

    def _show_index_config(self, config: IndexConfig) -> None:
        for name, widget in self.index_widgets.items():
            value = getattr(config, name)
            if isinstance(widget, QComboBox):
                widget.setCurrentIndex(max(widget.findText(str(value)), 0))
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

    def set_engine_info(self, info: dict) -> None:
        """What the engine has open (``RetrievalEngine.describe()``): model, device, indexes."""
        self.engine_info = info
        composed = info.get("composed") or {}
        parts = [f"<b>{html.escape(str(info.get('attribute_model', '?')))}</b> "
                 f"({html.escape(str(info.get('method', '?')))}) on <b>{html.escape(str(info.get('device', '?')))}</b>",
                 f"{info.get('gallery_items', '?')} items"]
        if composed.get("text_model"):
            parts.append(f"text model {html.escape(composed['text_model'])}")
        if composed.get("compatible_via"):
            parts.append(f"compatible items via {html.escape(composed['compatible_via'])}")
        indexes = [f"{html.escape(name)}: {i.get('kind', '?')}, {i.get('items', '?')} items, {i.get('status', '?')}"
                   for name, i in (info.get("indexes") or {}).items()]
        text = " \u00b7 ".join(parts) + ("<br>Indexes: " + "; ".join(indexes) if indexes else "")
        self.active_label.setText(text)

    # --- checkpoints ----------------------------------------------------------------------------------
    def refresh_checkpoints(self) -> None:
        """List the workspace's checkpoints in the model combos (keeping the current choices)."""
        self.checkpoints = scan_checkpoints(self.workspace)
        first = self.attribute_box.count() == 0
        attributes = [c for c in self.checkpoints if c.family == "attributes"]
        composed = [c for c in self.checkpoints if c.method in COMPOSED_METHODS]
        _fill(self.attribute_box, attributes, "Automatic: adde, else the newest",
              self.base_config.attribute_model if first else self.attribute_box.currentData())
        _fill(self.composed_box, composed, "Automatic: the newest, if any",
              self.base_config.composed_model if first else self.composed_box.currentData())
        wanted = self.base_config.compatible_model if first else self.compatible_box.currentData()
        has = {"auto": True, "uigr": any(c.method in COMPOSED_METHODS and c.method != "tgr-only" for c in composed),
               "adde-o": any(c.method in OUTFIT_METHODS and not c.problem for c in self.checkpoints)}
        for i, (value, _) in enumerate(COMPATIBLE_SOURCES):
            _set_enabled(self.compatible_box, i, has[value],
                         "" if has[value] else f"no {value} model in this workspace: train one (Training tab)")
        index = self.compatible_box.findData(wanted)
        self.compatible_box.setCurrentIndex(index if index >= 0 and has.get(wanted, False) else 0)
        names = [f"{c.name} ({c.method})" for c in self.checkpoints]
        self.checkpoints_label.setText(", ".join(names) if names else "none yet: train one in the Training tab")

    # --- Workspace tab --------------------------------------------------------------------------------
    def _build_workspace_tab(self) -> QWidget:
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        self.catalog_label = QLabel()
        self.catalog_label.setWordWrap(True)
        self.checkpoints_label = QLabel()
        self.checkpoints_label.setWordWrap(True)
        info = QGroupBox("Current workspace")
        form = QFormLayout(info)
        form.addRow("Folder", self.folder_label)
        form.addRow("Catalog", self.catalog_label)
        form.addRow("Checkpoints", self.checkpoints_label)

        self.open_button = QPushButton(qta.icon("fa5s.folder-open"), "Open...")
        self.open_button.setToolTip("Open another workspace folder (one holding a catalog.sqlite)")
        self.open_button.clicked.connect(self._ask_open)
        self.demo_button = QPushButton(qta.icon("fa5s.magic"), "Create the demo...")
        self.demo_button.setToolTip("Render the procedural demo catalog into an empty folder "
                                    "(`fashion catalog demo`), then train its attribute model")
        self.demo_button.clicked.connect(self._ask_demo)
        self.import_button = QPushButton(qta.icon("fa5s.file-import"), "Import a CSV folder...")
        self.import_button.setToolTip("Build a new workspace from a CSV (path, category, one column per "
                                      "attribute) and its images folder (`fashion catalog import`)")
        self.import_button.clicked.connect(self._ask_import)
        self.job_cancel_button = QPushButton(qta.icon("fa5s.stop"), "Cancel")
        self.job_cancel_button.clicked.connect(self.cancel_job)
        self.train_after_check = QCheckBox("Then train an attribute model (needed to search)")
        self.train_after_check.setChecked(True)
        buttons = QHBoxLayout()
        for b in (self.open_button, self.demo_button, self.import_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.job_cancel_button)
        self.job_progress = QProgressBar()
        self.job_progress.setTextVisible(False)
        self.job_label = QLabel("")
        self.job_log = _log_view()
        self.job_log.setPlaceholderText("The output of the catalog and training commands appears here.")

        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(info)
        layout.addLayout(buttons)
        layout.addWidget(self.train_after_check)
        progress = QHBoxLayout()
        progress.addWidget(self.job_progress, 2)
        progress.addWidget(self.job_label, 3)
        layout.addLayout(progress)
        layout.addWidget(self.job_log, 1)
        self._update_controls()
        return tab

    def set_workspace(self, workspace: Workspace, config: EngineConfig | None = None) -> None:
        """Show ``workspace`` everywhere (the window calls it too when it changes workspace). ``config``: the
        models chosen for it; without it the choices stay for the same workspace and go back to Automatic for
        another (a checkpoint name means nothing in another workspace)."""
        if config is not None or workspace != self.workspace:
            self.base_config = config or dataclasses.replace(self.base_config, attribute_model=None,
                                                             composed_model=None, compatible_model="auto")
            self.attribute_box.clear()  # the refresh below selects from base_config
        self.workspace = workspace
        self.folder_label.setText(str(workspace.root))
        self._show_catalog_counts()
        self._load_index_config()
        self.refresh_checkpoints()
        self._update_name_hint()

    def _show_catalog_counts(self) -> None:
        try:
            with Catalog.open(self.workspace.catalog_path) as catalog:
                counts = catalog.counts()
        except (CatalogError, sqlite3.Error, OSError) as exc:
            self.catalog_label.setText(str(exc))
            self.catalog_label.setStyleSheet(ERROR_STYLE)
            return
        splits = ", ".join(f"{k} {v}" for k, v in counts["splits"].items())
        self.catalog_label.setStyleSheet("")
        self.catalog_label.setText(
            f"{counts['items']} items ({splits}) \u00b7 {counts['categories']} categories \u00b7 "
            f"{counts['attribute_types']} attribute types, {counts['attribute_values']} values \u00b7 "
            f"{counts['outfits']} outfits \u00b7 {counts['feedback_triplets']} feedback triplets")

    def open_workspace(self, path: str | Path) -> bool:
        """Switch to the workspace at ``path``; a folder that is not one gives a message and changes nothing."""
        if self._busy("open another workspace"):
            return False
        ws = Workspace.at(path)
        problem = workspace_problem(ws)
        if problem:
            self.show_error(problem)
            return False
        self.set_workspace(ws)
        self.workspace_requested.emit(ws)
        return True

    def create_demo(self, folder: str | Path) -> bool:
        """Build the demo workspace in an empty or new ``folder`` (child processes; progress in the log)."""
        folder = Path(folder).expanduser().resolve()
        if self._busy("create the demo"):
            return False
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            self.show_error(f"{folder} is not an empty folder.\nPick an empty or new folder for the demo workspace.")
            return False
        ws = Workspace(folder)
        steps: list[CliRun] = [CliRun(["catalog", "demo", "--workspace", folder, *self.demo_recipe.catalog_flags],
                                      "Building the demo catalog", parent=self)]
        self._job_folder_was_new = True
        return self._start_job(ws, steps)

    def import_catalog(self, csv: str | Path, images: str | Path | None, folder: str | Path) -> bool:
        """Import ``csv`` (paths relative to ``images``) into a new workspace at ``folder``."""
        csv, folder = Path(csv).expanduser().resolve(), Path(folder).expanduser().resolve()
        if self._busy("import a catalog"):
            return False
        if not csv.is_file():
            self.show_error(f"{csv} is not a file; pick the CSV (columns: path, category, one per attribute).")
            return False
        if images is not None and not Path(images).is_dir():
            self.show_error(f"{images} is not a folder; pick the folder the CSV's paths are relative to.")
            return False
        ws = Workspace(folder)
        if ws.exists():
            self.show_error(f"{folder} already holds a catalog.\nPick a new folder for the import, or open it.")
            return False
        args = ["catalog", "import", "--workspace", folder, csv]
        if images is not None:
            args += ["--images", Path(images).expanduser().resolve()]
        self._job_folder_was_new = not folder.exists() or not any(folder.iterdir())
        return self._start_job(ws, [CliRun(args, f"Importing {csv.name}", parent=self)])

    def _start_job(self, ws: Workspace, steps: list[CliRun]) -> bool:
        if self.train_after_check.isChecked():
            r = self.demo_recipe
            extra = [*r.train_flags]
            if flag_value(extra, "--device") is None:
                extra += ["--device", self.current_device()]
            steps.append(TrainingRun(ws, r.train_method, r.train_epochs, extra, parent=self))
        self._job_workspace = ws
        self._job_queue = steps
        self.job_log.clear()
        self._next_job_step()
        return True

    def _next_job_step(self) -> None:
        if self.job is not None:
            self.job.deleteLater()
            self.job = None
        if not self._job_queue:
            ws, self._job_workspace = self._job_workspace, None
            self.job_label.setText(f"Ready: {ws.root}")
            self.job_log.appendPlainText(f"the workspace {ws.root} is ready")
            self.set_workspace(ws)
            self.workspace_requested.emit(ws)
            self._update_controls()
            return
        self.job = self._job_queue.pop(0)
        self.job.log.connect(self.job_log.appendPlainText)
        self.job.progress.connect(self._on_job_progress)
        self.job.finished.connect(lambda _result: self._next_job_step())
        self.job.failed.connect(self._on_job_failed)
        self.job.cancelled.connect(self._on_job_cancelled)
        if isinstance(self.job, TrainingRun):
            self.job.event.connect(self._on_job_event)
        self.job_label.setText(self.job.title)
        self.job_progress.setRange(0, 0)  # busy until the first progress report
        self.job.start()
        self._update_controls()

    def _on_job_event(self, event: dict) -> None:
        text = describe_event(event)
        if text:
            self.job_log.appendPlainText(text)

    def _on_job_progress(self, done: int, total: int, label: str) -> None:
        self.job_progress.setRange(0, total)
        self.job_progress.setValue(done)
        self.job_label.setText(f"{self.job.title if self.job else ''}: {label}")

    def _end_job(self, message: str) -> None:
        self._job_queue.clear()
        if self.job is not None:
            self.job.deleteLater()
            self.job = None
        ws, self._job_workspace = self._job_workspace, None
        if ws is not None and self._job_folder_was_new and not ws.exists():
            _remove_build_leftovers(ws.root)
        if ws is not None and ws.exists():
            message += f"\nThe catalog in {ws.root} is complete: open it, then train a model (Training tab)."
        self.job_progress.setRange(0, 1)
        self.job_progress.setValue(0)
        self.job_label.setText(message.splitlines()[0])
        self._update_controls()

    def _on_job_failed(self, message: str) -> None:
        self._end_job(message)
        self.show_error(message)

    def _on_job_cancelled(self) -> None:
        self._end_job("Cancelled.")

    def cancel_job(self) -> bool:
        if self.job is None or not self.job.is_running():
            return False
        return self.job.cancel()

    def _ask_open(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a workspace folder", str(self.workspace.root.parent))
        if path:
            self.open_workspace(path)

    def _ask_demo(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "An empty folder for the demo workspace",
                                                str(self.workspace.root.parent))
        if path:
            self.create_demo(path)

    def _ask_import(self) -> None:
        csv, _ = QFileDialog.getOpenFileName(self, "The dataset's CSV (path, category, one column per attribute)",
                                             str(Path.home()), "CSV files (*.csv);;All files (*)")
        if not csv:
            return
        images = QFileDialog.getExistingDirectory(self, "The folder the CSV's image paths are relative to",
                                                  str(Path(csv).parent))
        if not images:
            return
        folder = QFileDialog.getExistingDirectory(self, "A new folder for the workspace", str(Path(csv).parent))
        if folder:
            self.import_catalog(csv, images, folder)

    # --- Training tab ---------------------------------------------------------------------------------
    def _build_training_tab(self) -> QWidget:
        self.method_box = QComboBox()
        for name in list_methods():
            self.method_box.addItem(name, name)
            self.method_box.setItemData(self.method_box.count() - 1, METHODS[name].description, Qt.ToolTipRole)
        self.method_note = QLabel()
        self.method_note.setWordWrap(True)
        self.method_note.setStyleSheet("color: #555;")
        self.epochs_box = QSpinBox()
        self.epochs_box.setRange(1, 10_000)
        self.extra_edit = QLineEdit()
        self.extra_edit.setPlaceholderText("other fashion train flags, e.g. --image-size 48 --d 32 --batch-size 32")
        self.extra_edit.textChanged.connect(self._update_name_hint)
        self.name_edit = QLineEdit()
        self.activate_check = QCheckBox("Use it when done (reopens the search engine)")
        self.activate_check.setChecked(True)
        self.start_button = QPushButton(qta.icon("fa5s.play"), "Start")
        self.start_button.clicked.connect(self._start_from_form)
        self.cancel_button = QPushButton(qta.icon("fa5s.stop"), "Cancel")
        self.cancel_button.clicked.connect(self.cancel_training)
        self.method_box.currentIndexChanged.connect(self._on_method_changed)

        form = QGridLayout()
        form.setHorizontalSpacing(10)
        form.addWidget(QLabel("Method"), 0, 0)
        form.addWidget(self.method_box, 0, 1)
        form.addWidget(QLabel("Epochs"), 0, 2, Qt.AlignRight)
        form.addWidget(self.epochs_box, 0, 3)
        form.addWidget(self.method_note, 1, 1, 1, 3)
        form.addWidget(QLabel("Extra options"), 2, 0)
        form.addWidget(self.extra_edit, 2, 1, 1, 3)
        form.addWidget(QLabel("Checkpoint name"), 3, 0)
        form.addWidget(self.name_edit, 3, 1)
        form.addWidget(self.activate_check, 3, 2, 1, 2)
        form.setColumnStretch(1, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        self.progress_label = QLabel("Not running.")
        self.progress_label.setMinimumWidth(320)
        progress = QHBoxLayout()
        progress.addWidget(self.progress_bar, 3)
        progress.addWidget(self.progress_label, 2)
        self.chart = TrainingChart()
        self.log_view = _log_view()
        self.log_view.setPlaceholderText("The training command's messages appear here.")
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.chart)
        split.addWidget(self.log_view)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        tab = self.training_tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addLayout(progress)
        layout.addWidget(split, 1)
        self._on_method_changed()
        return tab

    def _on_method_changed(self) -> None:
        method = METHODS[self.method_box.currentData()]
        fields = {f.name: f for f in dataclasses.fields(method.config_cls)}
        if "epochs" in fields:
            self.epochs_box.setValue(int(fields["epochs"].default))
        self.method_note.setText(f"{method.description} ({method.family} model)")
        flags = [f"{flag}  {help_}" for flag, (name, _, help_) in TRAIN_FLAGS.items()
                 if name in fields and flag != "--epochs"]
        self.extra_edit.setToolTip("Flags of `fashion train` for this method:\n" + "\n".join(flags) +
                                   "\n--device is the Search tab's unless given here")
        self._update_name_hint()

    def _update_name_hint(self) -> None:
        if not hasattr(self, "name_edit"):
            return
        method = self.method_box.currentData()
        try:
            extra = shlex.split(self.extra_edit.text())
        except ValueError:
            extra = []
        default = checkpoint_name(method, extra)
        exists = (self.workspace.checkpoints / default / "weights.pt").is_file()
        self.name_edit.setPlaceholderText(f"{default} (the default{'; replaces the existing one' if exists else ''})")

    def _start_from_form(self) -> None:
        try:
            extra = shlex.split(self.extra_edit.text())
        except ValueError as exc:
            self.show_error(f"Extra options: {exc}. Quote values that contain spaces.")
            return
        self.start_training(self.method_box.currentData(), self.epochs_box.value(), extra,
                            self.name_edit.text().strip() or None)

    def start_training(self, method: str, epochs: int, extra: list[str] | None = None,
                       name: str | None = None) -> bool:
        """Launch ``fashion train`` in a child process; progress, curves and log follow it live."""
        if self._busy("start a training"):
            return False
        if method not in METHODS:
            self.show_error(f"Unknown training method {method!r}; available: {', '.join(list_methods())}.")
            return False
        if name and not CHECKPOINT_NAME.match(name):
            self.show_error(f"Checkpoint name {name!r}: use letters, digits, '.', '-' and '_' (it names a folder).")
            return False
        extra = [str(a) for a in extra or []]
        if flag_value(extra, "--device") is None:
            extra += ["--device", self.current_device()]
        if self.run is not None:
            self.run.deleteLater()
        run = TrainingRun(self.workspace, method, epochs, extra, name, parent=self)
        run.event.connect(self._on_training_event)
        run.log.connect(self.log_view.appendPlainText)
        run.progress.connect(self._on_training_progress)
        run.finished.connect(self._on_training_finished)
        run.failed.connect(self._on_training_failed)
        run.cancelled.connect(self._on_training_cancelled)
        self.run = run
        self.chart.clear()
        self.chart.set_total(run.tracker.total)
        self.progress_bar.setValue(0)
        self.progress_label.setText(f"starting {method} (loading the data)...")
        if self.log_view.blockCount() > 1:
            self.log_view.appendPlainText("")
        self.tabs.setCurrentWidget(self.training_tab)
        run.start()
        self._update_controls()
        return True

    def cancel_training(self) -> bool:
        """Stop the running training (terminate, then kill); ``run.cancelled`` follows. False if none runs."""
        return self.run is not None and self.run.cancel()

    def _on_training_event(self, event: dict) -> None:
        self.chart.add_event(event)
        text = describe_event(event)
        if text:
            self.log_view.appendPlainText(text)

    def _on_training_progress(self, done: int, total: int, label: str) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.progress_label.setText(label)

    def _on_training_finished(self, name: str) -> None:
        run = self.run
        self._update_controls()
        if run.workspace != self.workspace:  # the pane moved to another workspace meanwhile
            self.log_view.appendPlainText(f"saved {name} in {run.workspace.root} (not the open workspace)")
            return
        self.refresh_checkpoints()
        self._update_name_hint()
        family = METHODS[run.method].family
        self.checkpoint_trained.emit(name, family)
        if self.activate_check.isChecked():
            self._select_checkpoint(name, run.method)
            self.log_view.appendPlainText(f"using {name}: the search engine reopens with it")
            self.apply()

    def _select_checkpoint(self, name: str, method: str) -> None:
        if METHODS[method].family == "attributes":
            box, value = self.attribute_box, name
        elif method in COMPOSED_METHODS:
            box, value = self.composed_box, name
        else:  # the outfit head: the engine takes the newest, chosen through the compatible-items source
            box, value = self.compatible_box, "adde-o"
        index = box.findData(value)
        if index >= 0:
            box.setCurrentIndex(index)

    def _on_training_failed(self, message: str) -> None:
        self.progress_label.setText("Failed.")
        self._update_controls()
        self.show_error(message)

    def _on_training_cancelled(self) -> None:
        self.progress_label.setText("Cancelled.")
        self._update_controls()
        self.refresh_checkpoints()

    # --- shared ---------------------------------------------------------------------------------------
    def _busy(self, what: str) -> bool:
        """True (with a message) while a training or a workspace job runs."""
        if self.run is not None and self.run.is_running():
            self.show_error(f"A training is running; cancel it or wait before you {what}.")
            return True
        if self.job is not None:
            self.show_error(f"\"{self.job.title}\" is running; cancel it or wait before you {what}.")
            return True
        return False

    def _update_controls(self) -> None:
        if not hasattr(self, "start_button"):
            return
        training = self.run is not None and self.run.is_running()
        job = self.job is not None
        self.start_button.setEnabled(not training and not job)
        self.cancel_button.setEnabled(training)
        for b in (self.open_button, self.demo_button, self.import_button):
            b.setEnabled(not training and not job)
        self.job_cancel_button.setEnabled(job)
        self.job_progress.setVisible(job)

    def show_error(self, message: str) -> None:
        """A non-blocking dialog (the first line as its text, the rest below); kept in ``last_error``."""
        self.last_error = message
        first, _, rest = message.partition("\n")
        box = QMessageBox(QMessageBox.Warning, "Settings", first, QMessageBox.Ok, self)
        if rest:
            box.setInformativeText(rest)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    def shutdown(self, wait_ms: int = 5000) -> None:
        """End every child process (blocking, at most about ``wait_ms`` each): call before the app quits."""
        self._job_queue.clear()
        for process in (self.run, self.job):
            if process is not None and process.is_running():
                process.cancel(wait_ms=wait_ms)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)


def _index_widget(name: str, default: object) -> QWidget:
    if name in INDEX_CHOICES:
        box = QComboBox()
        box.addItems(list(INDEX_CHOICES[name]))
        return box
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


def _fill(box: QComboBox, checkpoints: list[CheckpointInfo], auto_text: str, wanted: str | None) -> None:
    """Refill a model combo: "Automatic" (None), then each checkpoint (disabled when it does not fit)."""
    box.blockSignals(True)
    box.clear()
    box.addItem(auto_text, None)
    for c in checkpoints:
        text = f"{c.name} \u00b7 {c.headline}" if c.name == c.method else f"{c.name} ({c.method}) \u00b7 {c.headline}"
        box.addItem(text, c.name)
        _set_enabled(box, box.count() - 1, c.problem is None, c.tooltip)
    index = box.findData(wanted) if wanted is not None else 0
    box.setCurrentIndex(index if index >= 0 and _is_enabled(box, index) else 0)
    box.blockSignals(False)


def _set_enabled(box: QComboBox, index: int, enabled: bool, tooltip: str) -> None:
    item = box.model().item(index)
    item.setEnabled(enabled)
    box.setItemData(index, tooltip or None, Qt.ToolTipRole)


def _is_enabled(box: QComboBox, index: int) -> bool:
    return box.model().item(index).isEnabled()


def _log_view() -> QPlainTextEdit:
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setMaximumBlockCount(LOG_LINES)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
    view.setLineWrapMode(QPlainTextEdit.WidgetWidth)
    return view


def _remove_build_leftovers(folder: Path) -> None:
    """After a cancelled or failed catalog build in a folder that was empty: the builders' temporary files
    (``.images-*`` folders, ``.catalog-*`` files), which a kill does not let them remove."""
    for path in folder.glob(".images-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(".catalog-*"):
        path.unlink(missing_ok=True)
