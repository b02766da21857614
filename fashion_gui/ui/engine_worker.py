"""The engine on its own thread (DESIGN.md, "Threads and processes"): the GUI thread never waits on torch
or hnswlib.

:class:`EngineClient` lives on the GUI thread and owns a QThread with one :class:`EngineWorker`, which opens
and owns the :class:`~fashion_gui.engine.RetrievalEngine`. A job is a function of the engine (for example
``lambda e: e.search(request, k)``); ``submit`` gives it an increasing id. The worker skips jobs that are
already stale when their turn comes, and the client only emits ``result`` for the newest id, so rapid
toggles never show an old answer. "Newest" is per channel: the search window, the path view and the
settings each submit on their own channel, so a path request does not cancel a search and vice versa; a view
recognises its answers by the job id ``submit`` returned. Jobs run under ``torch.inference_mode()`` inside
the worker thread. A failed job is reported as one line (errors.failure_message); what lies behind it (a
bug's traceback) is in ``EngineClient.last_details`` for a "Details" button, and in the log.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal, Slot

from fashion_gui.engine import EngineConfig
from fashion_gui.errors import failure_message, user_message
from fashion_gui.workspace import Workspace

if TYPE_CHECKING:
    from fashion_gui.engine.engine import RetrievalEngine

log = logging.getLogger(__name__)

Job = Callable[["RetrievalEngine"], Any]


class EngineWorker(QObject):
    """Runs on the worker thread; talks to the GUI only through signals."""

    opened = Signal(dict)  # engine.describe()
    open_failed = Signal(str, str)  # one-line message, details
    progress = Signal(str, int, int)
    answered = Signal(int, object, float)  # job id, value, seconds
    failed = Signal(int, str, str)  # job id, one-line message for a dialog, details (traceback of a bug)

    def __init__(self, is_stale: Callable[[int], bool]) -> None:
        super().__init__()
        self.engine: RetrievalEngine | None = None
        self._is_stale = is_stale

    @Slot(object, str, object)
    def open(self, workspace: Workspace, device: str, config: EngineConfig | None) -> None:
        self.close()
        try:
            self.progress.emit("loading torch and the engine", 0, 0)
            from fashion_gui.engine.engine import RetrievalEngine  # torch loads here, on this thread (issue 16)

            self.engine = RetrievalEngine.open(workspace, device=device, config=config,
                                               progress=lambda *a: self.progress.emit(*a))
        except Exception as exc:  # shown in a dialog; the app keeps running without an engine
            self.open_failed.emit(*_report(exc, "opening the workspace"))
            return
        self.opened.emit(self.engine.describe())

    @Slot(int, object)
    def run(self, job_id: int, job: Job) -> None:
        if self._is_stale(job_id):  # a newer request on its channel is queued: this answer would never be shown
            return
        if self.engine is None:
            self.failed.emit(job_id, "no workspace is open; open one in the settings", "")
            return
        start = time.perf_counter()
        try:
            import torch  # loaded by the engine already

            with torch.inference_mode():
                value = job(self.engine)
        except Exception as exc:
            self.failed.emit(job_id, *_report(exc, f"job {job_id}"))
            return
        self.answered.emit(job_id, value, time.perf_counter() - start)

    @Slot()
    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def _report(exc: Exception, what: str) -> tuple[str, str]:
    """One line for the window and the details behind its "Details" button (errors.failure_message); a bug's
    traceback also goes to the log."""
    line, details = failure_message(exc)
    if user_message(exc) is None:
        log.error("%s failed: %s", what, details)
    return line, details


class EngineClient(QObject):
    """GUI-side handle: ``open``, ``submit`` and ``shutdown``; ``result``/``error`` only for the newest job of
    each channel."""

    result = Signal(int, object, float)
    error = Signal(int, str)  # job id, one-line message; the details are in ``last_details``
    opened = Signal(dict)
    open_failed = Signal(str)  # one-line message; the details are in ``last_details``
    progress = Signal(str, int, int)
    _open = Signal(object, str, object)
    _run = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}  # channel -> newest job id
        self._channel_of: dict[int, str] = {}  # job id -> channel, while the job is pending
        self._closing = False
        self._lock = threading.Lock()
        self.last_details = ""  # what the last error or open_failed said beyond its line (a bug's traceback)
        self.thread = QThread()
        self.thread.setObjectName("engine-worker")
        self.worker = EngineWorker(self.is_stale)
        self.worker.moveToThread(self.thread)
        self._open.connect(self.worker.open)
        self._run.connect(self.worker.run)
        self.worker.answered.connect(self._on_answered)
        self.worker.failed.connect(self._on_failed)
        self.worker.opened.connect(self.opened)
        self.worker.open_failed.connect(self._on_open_failed)
        self.worker.progress.connect(self.progress)
        self.thread.start()

    def latest_id(self, channel: str = "search") -> int:
        with self._lock:
            return self._latest.get(channel, 0)

    def is_stale(self, job_id: int) -> bool:
        """True when a newer job of the same channel was submitted (or the client is shutting down)."""
        with self._lock:
            channel = self._channel_of.get(job_id)
            return self._closing or channel is None or job_id < self._latest[channel]

    def open(self, workspace: Workspace, device: str = "auto", config: EngineConfig | None = None) -> None:
        """Open (or reopen) the engine on the worker thread; ``opened`` or ``open_failed`` follows."""
        self._open.emit(workspace, device, config)

    def submit(self, job: Job, channel: str = "search") -> int:
        """Queue ``job``; returns its id. Any older job of the same channel still waiting will be skipped."""
        with self._lock:
            job_id = next(self._ids)
            self._latest[channel] = job_id
            # older pending jobs of this channel are stale now: forget them (unknown ids count as stale)
            self._channel_of = {j: c for j, c in self._channel_of.items() if c != channel}
            self._channel_of[job_id] = channel
        self._run.emit(job_id, job)
        return job_id

    def _newest(self, job_id: int) -> bool:
        with self._lock:
            channel = self._channel_of.pop(job_id, None)
            return not self._closing and channel is not None and self._latest[channel] == job_id

    def _on_answered(self, job_id: int, value: object, seconds: float) -> None:
        if self._newest(job_id):
            self.result.emit(job_id, value, seconds)

    def _on_failed(self, job_id: int, message: str, details: str) -> None:
        if self._newest(job_id):
            self.last_details = details
            self.error.emit(job_id, message)

    def _on_open_failed(self, message: str, details: str) -> None:
        self.last_details = details
        self.open_failed.emit(message)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Close the engine on its thread, stop the thread and wait; True when it stopped in time."""
        if not self.thread.isRunning():
            return True
        with self._lock:
            self._closing = True  # everything still queued is now stale
        QMetaObject.invokeMethod(self.worker, "close", Qt.BlockingQueuedConnection)
        self.thread.quit()
        return self.thread.wait(timeout_ms)
