"""The interactive search window: a query, attribute edits, text feedback, compatible items, "similar in",
ranked results that can become the next query, a session with undo/redo, recent queries, the style-path
and typicality views, and the settings pane (device, models, index, workspace, training).

Every model and index call is a job for the engine worker thread (engine_worker.py); only the newest
answer is shown. The query, its edits, the active request kind and the session (turns, undo/redo) live in
a Qt-free view-model (search_state.py) that the widgets subscribe to; the window never touches torch itself.
"""
from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QBuffer, QIODevice, QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QImage,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fashion_gui.catalog.store import Catalog
from fashion_gui.engine import (
    AttributeValues,
    CategoryQuery,
    Compatible,
    EngineConfig,
    Manipulate,
    QueryState,
    Results,
    Session,
    SimilarIn,
    TextFeedback,
    Turn,
)
from fashion_gui.methods import REQUEST_KINDS, list_methods
from fashion_gui.ui.app_settings import AppSettings, RecentQuery
from fashion_gui.ui.describe_dialog import DescribeDialog
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.goes_with import default_partner, outfit_partners
from fashion_gui.ui.main_window import MainWindow
from fashion_gui.ui.path_view import PathView
from fashion_gui.ui.result_widgets import Breadcrumb, NoticeBanner, ResultDelegate
from fashion_gui.ui.results_model import ItemIdRole, ResultsModel
from fashion_gui.ui.search_state import SearchState
from fashion_gui.ui.settings import SettingsPane
from fashion_gui.ui.thumbnails import ThumbnailCache
from fashion_gui.ui.typicality_view import TypicalityView
from fashion_gui.workspace import Workspace

THUMB = 128
QUERY_SIDE = 192
PRIORITIZE = {"by similarity": 0, "same value first": 1, "top-2 values first": 2}  # MODC prioritized retrieval
PREDICTED = "predicted value"
QUERY_PICTURE = QUERY_SIDE - 6  # the query's picture: inside the square's border, not cut by it
DEFAULT_SIZE = QSize(1400, 860)  # the first start's window, made smaller on a smaller screen
SETTINGS_SIZE = QSize(1060, 720)  # the settings pane's preferred size when it floats (its widest tab)
PLACEHOLDER = "Drop, paste or open a garment image, or double-click a result."
PLACEHOLDER_MARGIN = 10
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff *.gif)"


class SearchWindow(QMainWindow):
    """Query and controls on the left; results, the style path and typicality in tabs on the right; the
    session breadcrumb above them; the settings pane in a dock (Ctrl+,)."""

    def __init__(self, workspace: Workspace, client: EngineClient, k: int | None = None,
                 start_with_item: bool = False, settings: AppSettings | None = None, device: str | None = None,
                 config: EngineConfig | None = None) -> None:
        super().__init__()
        self.workspace, self.client = workspace, client
        self.settings = settings  # None: remember nothing (tests)
        self.device = device or (settings.device if settings else "auto")
        self.engine_config = config or (settings.engine_config(workspace.root) if settings else EngineConfig())
        self.start_with_item = start_with_item  # show a catalog item as the first query once the engine is open
        self.state = SearchState()
        self.last_error: str | None = None
        self.engine_info: dict | None = None
        self.last_seconds: float | None = None  # the last query's time (worker thread, encode + search)
        self._attribute_boxes: dict[str, QComboBox] = {}
        self._attribute_notes: dict[str, QLabel] = {}  # per attribute: "model predicts ..." when it disagrees
        self._boxes_query: QueryState | None = None  # the query the combos' items were made for
        self._updating = False
        self._job = 0  # id of this window's newest search job
        self._partners_job = 0  # the job reading which categories the catalog's outfits pair
        self.partners: dict[str, list[str]] = {}  # category -> categories worn with it, most often first
        self._goes_with_for: str | None = None  # the query category "Goes with" was last defaulted for
        self._settings_placed = False  # the floating settings pane has been placed clear of the query panel
        self.setObjectName("searchWindow")
        self.setWindowIcon(qta.icon("fa5s.tshirt"))
        self.setAcceptDrops(True)
        ratio = self.devicePixelRatioF()
        self.thumbnails = ThumbnailCache(THUMB, ratio, self)
        self.query_thumbnails = ThumbnailCache(QUERY_PICTURE, ratio, self)
        self.query_thumbnails.ready.connect(self._on_query_thumbnail)
        self.thumbnails.ready.connect(self._on_recent_thumbnail)
        self._recent_actions: dict[str, list[QAction]] = {}  # recent-menu entries waiting for their picture
        self.results_model = ResultsModel(self.thumbnails, self)
        self._build(k if k is not None else (settings.k if settings else 30))
        self.state.events.query.connect(self._on_query_changed)
        self.state.events.edits.connect(lambda _edits: self._show_attributes())
        self.state.events.kind.connect(self._on_kind_changed)
        self.state.events.turn.connect(self._on_turn)
        self.state.events.session.connect(self._update_session_controls)
        client.result.connect(self._on_result)
        client.error.connect(lambda job_id, message: job_id == self._job
                             and self.show_error(message, self.client.last_details))
        client.opened.connect(self._on_opened)
        client.open_failed.connect(self._on_open_failed)
        client.progress.connect(self._on_engine_progress)
        self._set_title()
        self.status_engine.setText("opening the workspace...")
        if settings is not None:
            geometry, state = settings.window_state()
            if geometry is not None:
                self.restoreGeometry(geometry)
            if state is not None:
                self.restoreState(state)
            if geometry is not None:
                self.fit_to_screen(shrink_only=True)  # a width remembered from a wider screen

    # --- layout ------------------------------------------------------------------------------------
    def _build(self, k: int) -> None:
        bar = QToolBar("Session")
        bar.setObjectName("sessionToolbar")
        bar.setIconSize(QSize(18, 18))
        bar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.addToolBar(bar)
        self.open_action = QAction(qta.icon("fa5s.folder-open"), "Open image...", self, shortcut=QKeySequence.Open)
        self.paste_action = QAction(qta.icon("fa5s.paste"), "Paste", self, shortcut=QKeySequence.Paste)
        self.describe_action = QAction(qta.icon("fa5s.list-ul"), "Describe...", self, shortcut=QKeySequence("Ctrl+D"))
        self.describe_action.setToolTip("Search without a picture: attribute values and/or a category (Ctrl+D)")
        self.describe_action.triggered.connect(self.describe)
        self.describe_dialog: DescribeDialog | None = None
        self.undo_action = QAction(qta.icon("fa5s.undo"), "Undo", self)
        self.undo_action.setShortcuts([QKeySequence.Undo, QKeySequence.Back])
        self.redo_action = QAction(qta.icon("fa5s.redo"), "Redo", self)
        self.redo_action.setShortcuts([QKeySequence.Redo, QKeySequence.Forward])
        self.focus_text_action = QAction("Text feedback", self, shortcut=QKeySequence("Ctrl+L"))
        self.focus_results_action = QAction("Go to the results", self, shortcut=QKeySequence("Ctrl+R"))
        self.browse_action = QAction(qta.icon("fa5s.th"), "Catalog", self, shortcut=QKeySequence("Ctrl+B"))
        self.browse_action.setToolTip("Browse the catalog (Ctrl+B); double-click an item to query with it")
        self.settings_action = QAction(qta.icon("fa5s.cog"), "Settings", self, shortcut=QKeySequence("Ctrl+,"))
        self.settings_action.setCheckable(True)
        self.quit_action = QAction(qta.icon("fa5s.power-off"), "Quit", self, shortcut=QKeySequence("Ctrl+Q"))
        self.quit_action.setToolTip("Quit the app (Ctrl+Q)")
        self.quit_action.triggered.connect(self.close)
        self.browse_action.triggered.connect(self.browse_catalog)
        self.browser: MainWindow | None = None
        self.open_action.triggered.connect(self.open_file)
        self.paste_action.triggered.connect(self.paste)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action.triggered.connect(self.redo)
        self.focus_text_action.triggered.connect(lambda: self.text_box.setFocus())
        self.focus_results_action.triggered.connect(self.focus_results)
        self.recent_menu = QMenu("Recent queries", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.recent_button = QToolButton()
        self.recent_button.setIcon(qta.icon("fa5s.history"))
        self.recent_button.setText("Recent")
        self.recent_button.setToolTip("Recent queries")
        self.recent_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.recent_button.setPopupMode(QToolButton.InstantPopup)
        self.recent_button.setMenu(self.recent_menu)
        for action in (self.open_action, self.paste_action, self.describe_action):
            bar.addAction(action)
        bar.addWidget(self.recent_button)
        for action in (self.browse_action, self.undo_action, self.redo_action):
            bar.addAction(action)
        self.addAction(self.focus_text_action)
        self.addAction(self.focus_results_action)
        self.addAction(self.quit_action)
        self.breadcrumb = Breadcrumb()  # drops its oldest turns to fit: the actions after it stay reachable
        self.breadcrumb.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        bar.addSeparator()
        bar.addWidget(self.breadcrumb)
        bar.addAction(self.settings_action)
        self._build_menu()

        self.query_label = QLabel(PLACEHOLDER)
        self.query_label.setObjectName("queryImage")
        self.query_label.setAlignment(Qt.AlignCenter)
        self.query_label.setWordWrap(True)  # the placeholder wraps inside the square instead of being cut
        self.query_label.setMargin(PLACEHOLDER_MARGIN)  # for the text only: a picture uses the whole square
        self.query_label.setFixedSize(QUERY_SIDE, QUERY_SIDE)
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
        self.same_category = QCheckBox("Same category only")
        self.same_category.setToolTip("Keep the garment type: search only items of the query's category "
                                      "(edits, similar in, text feedback)")
        self.same_category.toggled.connect(lambda _on: self.search_edits())

        self.text_box = QLineEdit()
        self.text_box.setPlaceholderText('Text feedback, e.g. "change colour to red" (Enter)')
        self.text_box.setClearButtonEnabled(True)
        self.text_box.returnPressed.connect(self.search_text)
        self.category_box = QComboBox()
        self.compatible_button = QPushButton(qta.icon("fa5s.link"), "Goes with")
        self.compatible_button.setToolTip("Items of the chosen category that go with the query (UIGR VCR / ADDE-O)")
        self.compatible_button.clicked.connect(self.search_compatible)
        self.similar_box = QComboBox()
        self.similar_button = QPushButton(qta.icon("fa5s.equals"), "Similar in")
        self.similar_button.setToolTip("Nearest items in one attribute's subspace only (ADDE-C)")
        self.similar_button.clicked.connect(self.search_similar)
        # MODC's prioritized retrieval: "same <value> first" (enabled when the similar-in model is a MODC model)
        self.prioritize_box = QComboBox()
        self.prioritize_box.addItems(list(PRIORITIZE))
        self.prioritize_box.setToolTip("MODC: put the items the model labels with the query's value first (its "
                                       "predicted value, or the one picked on the right); top 2: then its "
                                       "second most likely value")
        self.value_box = QComboBox()
        self.value_box.setToolTip("The value to put first: the query's predicted value, or one you pick")
        self.similar_box.currentTextChanged.connect(self._fill_value_box)
        for box in (self.prioritize_box, self.value_box):  # narrow: the row must leave room for a docked pane
            box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(7)
        self._set_prioritize_enabled(False)
        self.k_box = QSpinBox()
        self.k_box.setRange(1, 500)
        self.k_box.setValue(k)
        self.k_box.setToolTip("Number of results")
        self.kind_label = QLabel(f"Showing: {REQUEST_KINDS['manipulate']}")
        self.kind_label.setObjectName("kindLabel")
        self.kind_label.setStyleSheet("color: #555;")

        left = QVBoxLayout()
        left.addWidget(self.query_label, 0, Qt.AlignHCenter)
        left.addWidget(self.query_caption)
        title = QLabel("Attributes")
        title.setObjectName("sectionTitle")
        title.setToolTip("Each list shows the query's value (the catalog's label for a catalog item, else the "
                         "model's prediction); \u25cf marks the value the model predicts, with its confidence")
        left.addWidget(title)
        left.addWidget(scroll, 1)
        left.addWidget(self.same_category)
        left.addWidget(self.reset_button)
        controls = QHBoxLayout()
        controls.addWidget(self.text_box, 3)
        controls.addWidget(self.compatible_button)
        controls.addWidget(self.category_box)
        controls.addWidget(self.similar_button)
        controls.addWidget(self.similar_box)
        controls.addWidget(self.prioritize_box)
        controls.addWidget(self.value_box)
        controls.addWidget(QLabel("k"))
        controls.addWidget(self.k_box)

        self.results = QListView()
        self.results.setViewMode(QListView.IconMode)
        self.results.setResizeMode(QListView.Adjust)
        self.results.setMovement(QListView.Static)
        self.results.setIconSize(QSize(THUMB, THUMB))
        self.results.setGridSize(QSize(THUMB + 36, THUMB + 40))
        self.results_model.item_size = QSize(THUMB + 30, THUMB + 34)
        self.results.setUniformItemSizes(True)
        self.results.setWordWrap(True)
        self.results.setModel(self.results_model)
        self.results.setItemDelegate(ResultDelegate(self.results))
        self.notice = NoticeBanner()
        # "activated": Enter, and a double-click (or the platform's single click); not doubleClicked as well,
        # which would submit the same query twice
        self.results.activated.connect(lambda index: self.use_as_query(index.data(ItemIdRole)))
        self.results.setContextMenuPolicy(Qt.CustomContextMenu)
        self.results.customContextMenuRequested.connect(self._results_menu)

        results_tab = QWidget()
        right = QVBoxLayout(results_tab)
        right.setContentsMargins(6, 6, 6, 6)
        right.addLayout(controls)
        right.addWidget(self.kind_label)
        right.addWidget(self.notice)
        right.addWidget(self.results, 1)
        self.path_view = PathView(self.client, self.thumbnails)
        self.path_view.use_as_query.connect(self.use_as_query)
        self.typicality_view = TypicalityView(self.client, self.thumbnails)
        self.typicality_view.use_as_query.connect(self.use_as_query)
        self.tabs = QTabWidget()
        self.tabs.addTab(results_tab, qta.icon("fa5s.search"), "Results")
        self.tabs.addTab(self.path_view, qta.icon("fa5s.route"), "Style path")
        self.tabs.addTab(self.typicality_view, qta.icon("fa5s.bullseye"), "Typical / atypical")

        root = QHBoxLayout()
        self.query_panel = QWidget()
        self.query_panel.setLayout(left)
        self.query_panel.setFixedWidth(QUERY_SIDE + 140)
        root.addWidget(self.query_panel)
        root.addWidget(self.tabs, 1)
        central = QWidget()
        central.setLayout(root)
        self.setCentralWidget(central)

        self.settings_pane = SettingsPane(self.workspace, self.device, self.engine_config)
        self.settings_pane.apply_requested.connect(self.reopen)
        self.settings_pane.workspace_requested.connect(self.set_workspace)
        # in a scroll area: docked, the pane may be narrower than its widest tab, so docking it takes room
        # from the results instead of widening the window past the screen
        settings_scroll = QScrollArea()
        settings_scroll.setObjectName("settingsScroll")
        settings_scroll.setWidgetResizable(True)
        settings_scroll.setFrameShape(QScrollArea.NoFrame)
        settings_scroll.setWidget(self.settings_pane)
        self.settings_dock = QDockWidget("Settings", self)
        self.settings_dock.setObjectName("settingsDock")
        self.settings_dock.setWidget(settings_scroll)
        self.settings_dock.setAllowedAreas(Qt.RightDockWidgetArea | Qt.LeftDockWidgetArea)
        self.addDockWidget(Qt.RightDockWidgetArea, self.settings_dock)
        self.settings_dock.setFloating(True)  # a tool window of its own by default (drag it in to dock it)
        self.settings_dock.resize(SETTINGS_SIZE)
        self.settings_dock.hide()
        self.settings_action.toggled.connect(self._show_settings)
        self.settings_dock.visibilityChanged.connect(self.settings_action.setChecked)
        self.settings_dock.topLevelChanged.connect(lambda floating: floating or self._fit_docked_settings())

        self.status_engine = QLabel()
        self.status_time = QLabel()
        self.open_progress = QProgressBar()
        self.open_progress.setMaximumWidth(220)
        self.open_progress.setTextVisible(True)
        self.open_progress.hide()
        self.statusBar().addWidget(self.status_engine, 1)
        self.statusBar().addPermanentWidget(self.open_progress)
        self.statusBar().addPermanentWidget(self.status_time)
        self._update_session_controls()

    def _build_menu(self) -> None:
        """File and Edit menus: every toolbar action and shortcut, and Quit (Ctrl+Q)."""
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.open_action, self.paste_action, self.describe_action):
            file_menu.addAction(action)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.browse_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        for action in (self.undo_action, self.redo_action, self.focus_text_action, self.focus_results_action):
            edit_menu.addAction(action)

    # --- size and place: the window within the screen, the settings pane clear of the query -----------
    def _available(self) -> QRect:
        screen = self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry()

    def fit_to_screen(self, shrink_only: bool = False) -> None:
        """The first start's size (DEFAULT_SIZE), or with ``shrink_only`` the current one, within the screen's
        available area (window decorations included)."""
        decorations = self.frameGeometry().size() - self.geometry().size()
        limit = self._available().size() - decorations
        self.resize((self.size() if shrink_only else DEFAULT_SIZE).boundedTo(limit))

    def _show_settings(self, shown: bool) -> None:
        if shown:
            self._place_settings()
        self.settings_dock.setVisible(shown)

    def _place_settings(self) -> None:
        """Where the floating settings pane opens the first time in a session: beside the window when the
        screen has room for it, else over the results, never over the query panel (a place remembered from
        the last session that leaves the panel free is kept)."""
        dock = self.settings_dock
        if self._settings_placed or not dock.isFloating():
            return
        self._settings_placed = True
        panel = QRect(self.query_panel.mapToGlobal(QPoint(0, 0)), self.query_panel.size())
        if not dock.frameGeometry().intersects(panel):
            return
        avail, window = self._available(), self.frameGeometry()
        decorations = dock.frameGeometry().size() - dock.geometry().size()
        if avail.right() - window.right() >= SETTINGS_SIZE.width() * 2 // 3:  # beside the window
            left = window.right() + 1
            width = min(SETTINGS_SIZE.width(), avail.right() + 1 - left - decorations.width())
        else:  # over the results, its right edge on the window's (or the screen's)
            lowest = panel.right() + 9
            width = min(SETTINGS_SIZE.width(), avail.right() + 1 - lowest - decorations.width())
            left = max(lowest, min(window.right(), avail.right()) + 1 - width - decorations.width())
        top = max(avail.top(), window.top())
        height = min(SETTINGS_SIZE.height(), avail.bottom() + 1 - top - decorations.height())
        dock.move(left, top)
        dock.resize(max(width, dock.minimumSizeHint().width()), max(height, dock.minimumSizeHint().height()))

    def _fit_docked_settings(self) -> None:
        """Docked, the pane takes its room from the results; the window grows only when the results would fall
        below their minimum width, and never past the screen."""
        dock = self.settings_dock
        gap = self.style().pixelMetric(self.style().PixelMetric.PM_DockWidgetSeparatorExtent) + 4
        central = self.centralWidget().minimumSizeHint().width()
        lowest = dock.minimumSizeHint().width()
        room = self.width() - central - gap
        if room < lowest:
            decorations = self.frameGeometry().width() - self.geometry().width()
            width = min(self._available().width() - decorations, central + lowest + gap)
            self.resize(width, self.height())
            room = width - central - gap
        wanted = min(self.settings_pane.sizeHint().width(), SETTINGS_SIZE.width())
        self.resizeDocks([dock], [max(min(wanted, room), lowest)], Qt.Horizontal)

    # --- the view-model's state, read-only (change it through ``state``) ------------------------------
    @property
    def session(self) -> Session:
        return self.state.session

    @property
    def query(self) -> QueryState | None:
        return self.state.query

    @property
    def edits(self) -> dict[str, str]:
        return self.state.edits

    def _set_title(self) -> None:
        self.setWindowTitle(f"Fashion retrieval: {self.workspace.root.name}")

    # --- the engine: open, reopen with other settings, another workspace -----------------------------
    def open_engine(self) -> None:
        """Open the workspace with the current device and models (the indexes are built if needed)."""
        self._job = -1  # answers of jobs made for the previous engine are not shown
        self.status_engine.setText(f"opening {self.workspace.root} on {self.device}...")
        self.client.open(self.workspace, self.device, self.engine_config)

    def reopen(self, workspace: Workspace, device: str, config: EngineConfig) -> None:
        """Settings applied (or a model trained): open the engine again; the current query is re-encoded."""
        if workspace.root != self.workspace.root:
            self.set_workspace(workspace)
        self.device, self.engine_config = device, config
        if self.settings is not None:
            self.settings.device = device
            self.settings.set_engine_config(workspace.root, config)
        self.open_engine()

    def set_workspace(self, workspace: Workspace) -> None:
        """Switch to another workspace: a new session, its saved models, the engine reopened."""
        if self.browser is not None:
            self.browser.close()
            self.browser.catalog.close()
            self.browser = None
        self.workspace = workspace
        self.engine_config = self.settings.engine_config(workspace.root) if self.settings else EngineConfig()
        if self.settings is not None:
            self.settings.workspace = workspace.root
        self.settings_pane.set_workspace(workspace, self.engine_config)
        self.state.reset()
        self._clear_attribute_boxes()
        self._set_title()
        self.open_engine()

    def _on_engine_progress(self, stage: str, done: int, total: int) -> None:
        self.open_progress.show()
        if total <= 0:  # a step without a count (loading torch): a busy bar
            self.open_progress.setMaximum(0)
            self.status_engine.setText(f"preparing the search: {stage}...")
            return
        self.open_progress.setMaximum(total)
        self.open_progress.setValue(done)
        self.open_progress.setFormat(f"{stage} %p%")
        self.status_engine.setText(f"preparing the search: {stage} ({done}/{total})")

    def _on_open_failed(self, message: str) -> None:
        self.open_progress.hide()
        self.status_engine.setText("no workspace open: see Settings (Ctrl+,)")
        self.show_error(message, self.client.last_details)

    def _on_opened(self, info: dict) -> None:
        previous = self.engine_info
        self.engine_info = info
        self.open_progress.hide()
        self.category_box.clear()
        self.category_box.addItems(info["categories"])
        self._goes_with_for = None
        self._partners_job = self.client.submit(lambda engine: outfit_partners(engine.catalog), channel="partners")
        self.similar_box.clear()
        self.similar_box.addItems(info["attributes"])
        similar = (info.get("retrievers") or {}).get((info.get("models") or {}).get("similar_in"), {})
        self._set_prioritize_enabled(bool(similar.get("modc")))
        if previous is None or previous.get("attributes") != info["attributes"] or previous.get("values") != info["values"]:
            self._clear_attribute_boxes()
        if not (info.get("models") or {}).get("text"):  # the engine explains it too, if the user tries
            trainers = " or ".join(list_methods(serves="text"))
            self.text_box.setPlaceholderText(f"Text feedback needs a model for it: train {trainers} in Settings")
        else:
            self.text_box.setPlaceholderText('Text feedback, e.g. "change colour to red" (Enter)')
        self.path_view.set_engine_info(info)
        self.typicality_view.set_engine_info(info)
        self._prefetch_recent()
        self.settings_pane.set_engine_info(info)
        skipped = f" \u00b7 {info['skipped_images']} unreadable images skipped" if info.get("skipped_images") else ""
        self.status_engine.setText(f"{info['device']} \u00b7 {info['gallery_items']} items \u00b7 "
                                   f"model {info['encoder_model']}{skipped}")
        k = self.k_box.value()
        query = self.query
        self._job = 0
        if query is not None:  # the old query state belongs to the previous model: encode it again
            self.state.reset()
            if query.item_id is not None:
                self.use_as_query(query.item_id)
            elif query.image_path is not None:
                self.load_image(str(query.image_path))
            elif query.image is not None:
                image = query.image
                self._submit(lambda engine: engine.search(Manipulate(engine.encode(image), {}), k))
        elif self.start_with_item:
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
        self.state.set_edit(name, self._attribute_boxes[name].currentData())
        self.search_edits()

    def search_edits(self) -> None:
        request, k = self.state.manipulate(self._category_filter()), self.k_box.value()
        if request is not None:
            self._submit(lambda engine: engine.search(request, k))

    def reset_edits(self) -> None:
        self.state.reset_edits()
        self.search_edits()

    def search_text(self) -> None:
        text = self.text_box.text().strip()
        if self.query is None or not text:
            return
        query, k, category = self.query, self.k_box.value(), self._category_filter()
        self._submit(lambda engine: engine.search(TextFeedback(query, text, category), k))

    def search_compatible(self) -> None:
        if self.query is None:
            return
        query, category, k = self.query, self.category_box.currentText(), self.k_box.value()
        self._submit(lambda engine: engine.search(Compatible(query, category), k))

    def search_similar(self) -> None:
        if self.query is None:
            return
        query, attribute, k = self.query, self.similar_box.currentText(), self.k_box.value()
        category = self._category_filter()
        prioritize = PRIORITIZE[self.prioritize_box.currentText()] if self.prioritize_box.isEnabled() else 0
        value = self.value_box.currentText() if prioritize and self.value_box.currentIndex() > 0 else None
        self._submit(lambda engine: engine.search(SimilarIn(query, attribute, category, prioritize, value), k))

    def _set_prioritize_enabled(self, on: bool) -> None:
        for box in (self.prioritize_box, self.value_box):  # shown only when the similar-in model has pseudo labels
            box.setEnabled(on)
            box.setVisible(on)
        if not on:
            self.prioritize_box.setCurrentIndex(0)

    def _fill_value_box(self, attribute: str) -> None:
        """The value list of "same <value> first": the query's predicted value, then the attribute's values."""
        self.value_box.clear()
        self.value_box.addItem(PREDICTED)
        values = (self.engine_info or {}).get("values", {}).get(attribute, [])
        self.value_box.addItems(list(values))

    def describe(self) -> DescribeDialog:
        """Ctrl+D: the dialog that starts a search from attribute values or a category, no picture needed."""
        dialog = DescribeDialog(self.engine_info or {}, self)
        dialog.accepted.connect(lambda: self.search_description(*dialog.choice()))
        self.describe_dialog = dialog
        dialog.open()
        return dialog

    def search_description(self, values: dict[str, str], category: str | None = None) -> None:
        """Attribute values (within ``category`` if given) or a category alone: the first turn of a session
        without a picture; any result can be the next query."""
        if not values and not category:
            return
        k = self.k_box.value()
        request = AttributeValues(dict(values), category) if values else CategoryQuery(category)
        self._submit(lambda engine: engine.search(request, k))

    def _category_filter(self) -> str | None:
        return self.query.category if self.same_category.isChecked() and self.query is not None else None

    # --- answers -------------------------------------------------------------------------------------
    def _on_result(self, job_id: int, value: object, seconds: float) -> None:
        if job_id == self._partners_job and isinstance(value, dict):
            self.partners = value
            self._goes_with_for = None
            self._default_goes_with()
            return
        if job_id != self._job or not isinstance(value, Results):
            return
        new_query = self.query is None or value.request.query is not self.query
        self.state.record(value)
        self.last_seconds = seconds
        note = f" \u00b7 {value.note}" if value.note else ""
        self.status_time.setText(f"{len(value)} results in {seconds * 1e3:.0f} ms{note}")
        if new_query and value.request.query is not None:  # a search without a picture has no query to keep
            self._remember(value.request.query)

    def _remember(self, query: QueryState) -> None:
        """Add a catalog item or an image file to the recent queries (pasted images are not kept)."""
        if self.settings is None:
            return
        if query.item_id is not None:
            recent = RecentQuery("item", str(query.item_id), f"item {query.item_id} \u00b7 {query.category}",
                                 str(query.image_path or ""))
        elif query.image_path is not None:
            recent = RecentQuery("file", str(query.image_path), Path(query.image_path).name, str(query.image_path))
        else:
            return
        self.settings.add_recent(self.workspace.root, recent)
        self._prefetch_recent()

    def recent_queries(self) -> list[RecentQuery]:
        return self.settings.recent(self.workspace.root) if self.settings is not None else []

    def _fill_recent_menu(self) -> None:
        """One entry per recent query, each with its picture (those still decoding get theirs when it
        arrives, menu open or not)."""
        self.recent_menu.clear()
        self._recent_actions = {}
        recent = self.recent_queries()
        if not recent:
            self.recent_menu.addAction("No recent queries yet").setEnabled(False)  # a label, not a feature
            return
        for r in recent:
            pixmap = self.thumbnails.get(r.image) if r.image else None
            icon = QIcon(pixmap) if pixmap is not None and not pixmap.isNull() else QIcon()
            action = self.recent_menu.addAction(icon, r.label)
            action.triggered.connect(lambda _checked=False, r=r: self.open_recent(r))
            if r.image and pixmap is None:
                self._recent_actions.setdefault(r.image, []).append(action)

    def _on_recent_thumbnail(self, path: str) -> None:
        pixmap = self.thumbnails.get(path)
        for action in self._recent_actions.pop(path, []):
            if pixmap is not None and not pixmap.isNull():
                action.setIcon(QIcon(pixmap))

    def _prefetch_recent(self) -> None:
        """Start decoding the recent queries' pictures, so the menu has them when it opens."""
        for r in self.recent_queries():
            if r.image:
                self.thumbnails.get(r.image)

    def open_recent(self, recent: RecentQuery) -> None:
        if recent.item_id is not None:
            self.use_as_query(recent.item_id)
        else:
            self.load_image(recent.value)

    # --- the view-model's events -----------------------------------------------------------------------
    def _on_query_changed(self, query: QueryState | None) -> None:
        if query is None:
            self.results_model.set_hits([])
            self.query_label.clear()
            self.query_label.setMargin(PLACEHOLDER_MARGIN)
            self.query_label.setText(PLACEHOLDER)
            self.query_caption.clear()
            return
        self._show_query()
        self._show_attributes()
        self._default_goes_with()
        source = self.path_source()
        if source is not None:  # the style path starts from the current query
            self.path_view.set_source(source)

    def _default_goes_with(self) -> None:
        """"Goes with" offers, for a query of a new category, the category most often worn with it in the
        catalog's outfits (else the first other one); the user's pick stays while the category does."""
        category = self.query.category if self.query is not None else None
        if category is None or category == self._goes_with_for or not self.category_box.count():
            return
        categories = [self.category_box.itemText(i) for i in range(self.category_box.count())]
        partner = default_partner(category, categories, self.partners)
        if partner is not None:
            self.category_box.setCurrentText(partner)
            self._goes_with_for = category

    def _on_turn(self, turn: Turn | None) -> None:
        """A turn is on screen (a new answer, or undo/redo): its results, without a search, with the notice
        when some are only nearest alternatives; the text box holds the turn's text when it was text
        feedback and is empty otherwise (unless the user is typing in it)."""
        if turn is not None and turn.results is not None:
            results = turn.results
            self.results_model.set_hits(results.hits, results.alternatives_from)
            self.notice.show_note(results.note, results.alternatives_from, len(results.hits))
        else:
            self.notice.show_note("", None, 0)
        if turn is not None and turn.query is None and turn.request is not None:  # started without a picture
            self._clear_attribute_boxes()  # no garment to edit: no lists of an earlier query's values
            self.query_label.clear()
            self.query_label.setMargin(PLACEHOLDER_MARGIN)
            self.query_label.setText(f"No picture\n\n{turn.label}")
            self.query_caption.setText(f"described: {turn.label}")
        request = turn.request if turn is not None else None
        text = request.text if isinstance(request, TextFeedback) else ""
        typing = self.text_box.isModified() and self.text_box.hasFocus()  # not under the user's fingers
        if self.text_box.text() != text and not typing:
            self.text_box.setText(text)

    def _on_kind_changed(self, kind: str) -> None:
        self.kind_label.setText(f"Showing: {REQUEST_KINDS.get(kind, kind)}")

    def _show_query(self) -> None:
        """The query's picture: files are decoded off the GUI thread (thumbnail cache); an image that came as
        bytes is the engine's small RGB copy."""
        q = self.query
        if q.image_path is not None:
            pixmap = self.query_thumbnails.get(str(q.image_path))  # None: shown when it arrives
        else:
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap.fromImage(_qimage(q.image)).scaled(QSize(QUERY_PICTURE, QUERY_PICTURE) * ratio,
                                                                Qt.KeepAspectRatio, Qt.SmoothTransformation)
            pixmap.setDevicePixelRatio(ratio)
        if pixmap is not None and not pixmap.isNull():
            self.query_label.setMargin(0)
            self.query_label.setPixmap(pixmap)
        self.query_caption.setText(f"{q.category or ''} \u00b7 {q.source}")

    def _on_query_thumbnail(self, path: str) -> None:
        if self.query is not None and self.query.image_path is not None and str(self.query.image_path) == path:
            self._show_query()

    def _clear_attribute_boxes(self) -> None:
        """Another schema or model: the attribute panel is rebuilt for the next query."""
        while self.attribute_form.rowCount():
            self.attribute_form.removeRow(0)
        self._attribute_boxes.clear()
        self._attribute_notes.clear()
        self._boxes_query = None

    def _show_attributes(self) -> None:
        """One combo per attribute type: values, the query's value selected (the catalog's label for a catalog
        item), the model's predicted value marked "● predicted" with its confidence, edits in bold. When the
        catalog and the model disagree, a line under the combo says so ("model predicts white (62%)").
        The items are rebuilt only when the query changes (an edit only moves the selection)."""
        q = self.query
        if q is None:
            return
        self._updating = True
        try:
            if not self._attribute_boxes:
                for name in (self.engine_info or {}).get("attributes", list(q.predicted)):
                    box = QComboBox()
                    box.currentIndexChanged.connect(lambda _i, n=name: self._on_attribute_changed(n))
                    note = QLabel()
                    note.setObjectName("predictionNote")
                    note.hide()
                    cell = QWidget()
                    column = QVBoxLayout(cell)
                    column.setContentsMargins(0, 0, 0, 0)
                    column.setSpacing(0)
                    column.addWidget(box)
                    column.addWidget(note)
                    self._attribute_boxes[name] = box
                    self._attribute_notes[name] = note
                    self.attribute_form.addRow(name, cell)
                self._boxes_query = None
            values = (self.engine_info or {}).get("values", {})
            edits = self.state.edits
            for name, box in self._attribute_boxes.items():
                if self._boxes_query is not q:
                    box.clear()
                    predicted, confidence = q.predicted.get(name, (None, 0.0))
                    box.addItem("\u2014", None)
                    for value in values.get(name, []):
                        mark = f"  \u25cf predicted {confidence:.0%}" if value == predicted else ""
                        box.addItem(f"{value}{mark}", value)
                    labelled = q.attributes.get(name) if q.item_id is not None else None
                    tip, differs = prediction_text(labelled, predicted, confidence)
                    box.setToolTip(tip)
                    note = self._attribute_notes[name]
                    note.setText(f"model predicts {predicted} ({confidence:.0%})" if differs else "")
                    note.setToolTip(tip)
                    note.setVisible(differs)
                shown = edits.get(name, q.attributes.get(name))
                box.setCurrentIndex(max(box.findData(shown), 0))
                edited = name in edits
                if box.font().bold() != edited:  # a font, not a per-widget style sheet: those cost ~1 ms each
                    font = box.font()
                    font.setBold(edited)
                    box.setFont(font)
            self._boxes_query = q
        finally:
            self._updating = False

    # --- results: keyboard and context menu ---------------------------------------------------------
    def focus_results(self) -> None:
        """Ctrl+R: the arrow keys move through the results, Enter makes one the next query."""
        self.tabs.setCurrentIndex(0)
        self.results.setFocus()
        if not self.results.currentIndex().isValid() and self.results_model.rowCount():
            self.results.setCurrentIndex(self.results_model.index(0))

    def results_menu(self, row: int) -> QMenu:
        """The context menu of one result: use as query, similar in ..., path to here, typical of its category."""
        hit = self.results_model.hit(row)
        menu = QMenu(self)
        menu.addAction(qta.icon("fa5s.search"), "Use as query", lambda: self.use_as_query(hit.item_id))
        similar = menu.addMenu(qta.icon("fa5s.equals"), "Similar to this in")
        for name in (self.engine_info or {}).get("attributes", []):
            similar.addAction(name, lambda n=name: self.similar_to(hit.item_id, n))
        source = self.path_source()
        menu.addAction(qta.icon("fa5s.route"), "Style path from the query to here",
                       lambda: self.show_path(source, hit.item_id))
        menu.addAction(qta.icon("fa5s.bullseye"), f"Typical and atypical {hit.category}",
                       lambda: self.show_typicality(hit.category))
        menu.addAction(qta.icon("fa5s.copy"), f"Copy item id ({hit.item_id})",
                       lambda: QGuiApplication.clipboard().setText(str(hit.item_id)))
        return menu

    def _results_menu(self, pos: QPoint) -> None:
        index = self.results.indexAt(pos)
        if index.isValid():
            self.results_menu(index.row()).popup(self.results.viewport().mapToGlobal(pos))

    def similar_to(self, item_id: int, attribute: str) -> None:
        """A result becomes the query and is searched in one attribute's subspace."""
        k = self.k_box.value()
        self._submit(lambda engine: engine.search(SimilarIn(engine.query_from_item(item_id), attribute), k))

    def path_source(self) -> int | None:
        """Where a style path starts: the query item, or for an uploaded image its nearest catalog item."""
        if self.query is not None and self.query.item_id is not None:
            return self.query.item_id
        if self.session.current is not None and self.session.current.results is not None:
            hits = self.session.current.results.hits
            return hits[0].item_id if hits else None
        return None

    def show_path(self, source: int | None, target: int) -> None:
        if source is None:
            self.show_error("A style path starts at a catalog item: query with a catalog item first.")
            return
        self.tabs.setCurrentWidget(self.path_view)
        self.path_view.set_source(source)
        self.path_view.set_target_item(target)
        self.path_view.find()

    def show_typicality(self, category: str) -> None:
        self.tabs.setCurrentWidget(self.typicality_view)
        self.typicality_view.show_category(category)

    def show_error(self, message: str, details: str = "") -> None:
        """A non-blocking dialog with one line (a "Show Details..." button when there is more); the app keeps
        running."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Warning, "Fashion retrieval", message, QMessageBox.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    # --- session -------------------------------------------------------------------------------------
    def undo(self) -> None:
        self.state.undo()

    def redo(self) -> None:
        self.state.redo()

    def _update_session_controls(self) -> None:
        self.undo_action.setEnabled(self.state.can_undo)
        self.redo_action.setEnabled(self.state.can_redo)
        self.breadcrumb.set_crumbs(self.state.breadcrumb())

    def closeEvent(self, event) -> None:  # noqa: N802
        """Remember window, k and device; stop a training run; wait for thumbnail decodes (the app shuts
        the engine thread down after the event loop ends)."""
        if self.settings is not None:
            self.settings.set_window_state(self.saveGeometry(), self.saveState())
            self.settings.k = self.k_box.value()
            self.settings.workspace = self.workspace.root
            self.settings.sync()
        self.settings_pane.shutdown()
        if self.browser is not None:
            self.browser.close()
            self.browser.catalog.close()
        self.thumbnails.wait(5000)
        self.query_thumbnails.wait(5000)
        super().closeEvent(event)


def prediction_text(labelled: str | None, predicted: str | None, confidence: float) -> tuple[str, bool]:
    """The tooltip of an attribute's combo ("catalog: beige · model predicts: white (0.62)") and whether the
    catalog's label and the model's prediction differ. ``labelled`` is None for an uploaded image."""
    model = f"model predicts: {predicted} ({confidence:.2f})" if predicted is not None else ""
    if labelled is None:
        return model or "no value", False
    return " \u00b7 ".join(filter(None, [f"catalog: {labelled}", model])), predicted not in (None, labelled)


def _png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def _qimage(image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format_RGB888).copy()
