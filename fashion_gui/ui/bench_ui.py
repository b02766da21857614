"""``fashion bench ui``: how the app feels, measured on the real window.

* click to results painted: an attribute value is picked in the attribute panel (the "click"), the request
  goes through the worker thread (memory-block manipulation + HNSW search), the results model is reset and
  the results view has painted the new page. Also reported: until every visible thumbnail was decoded and
  painted (thumbnails come from a thread pool, so a first visit costs more than a revisit).
* cold start: a fresh Python process building the window as ``fashion-gui`` does, to the first results
  painted ("usable"), with the workspace's indexes already built (the first run builds them once).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEvent, QEventLoop, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from fashion_gui.ui.app_settings import AppSettings
from fashion_gui.ui.engine_worker import EngineClient
from fashion_gui.ui.search_window import SearchWindow
from fashion_gui.ui.style import apply_style
from fashion_gui.workspace import Workspace


class PaintProbe(QObject):
    """Records when a widget has finished painting after ``arm()``: the time of the zero-timer that runs
    after the first Paint event (the paint itself happens between the filter and that timer)."""

    def __init__(self, widget, clock: QElapsedTimer) -> None:
        super().__init__(widget)
        self.clock = clock
        self.armed = False
        self.painted_ms: float | None = None
        widget.installEventFilter(self)

    def arm(self) -> None:
        self.armed, self.painted_ms = True, None

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if self.armed and event.type() == QEvent.Paint:
            self.armed = False
            QTimer.singleShot(0, self._done)
        return False

    def _done(self) -> None:
        self.painted_ms = self.clock.nsecsElapsed() / 1e6


def wait_until(app: QApplication, condition, timeout_s: float, what: str) -> None:
    """Run the event loop until ``condition()``. It sleeps between events, as ``app.exec()`` does: a loop
    polling ``processEvents`` would keep the GUI thread busy and take the GIL from the worker thread,
    slowing the very search it measures (a 2-5x error on 2 cores). A 10 ms timer bounds each sleep."""
    deadline = time.monotonic() + timeout_s
    tick = QTimer()
    tick.start(10)
    try:
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.AllEvents | QEventLoop.WaitForMoreEvents)
    finally:
        tick.stop()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def click_latency(workspace: Workspace, clicks: int = 60, k: int = 30, device: str = "auto",
                  size: tuple[int, int] = (1400, 860)) -> dict:
    """Pick ``clicks`` attribute values one after another (each waits for its results to be painted)."""
    app = QApplication.instance() or QApplication(["fashion-bench-ui"])
    apply_style(app)
    client = EngineClient()
    window = SearchWindow(workspace, client, k=k, device=device)
    window.resize(*size)
    window.show()
    opened: list[dict] = []
    client.opened.connect(opened.append)
    client.open_failed.connect(lambda message: opened.append({"error": message}))
    window.open_engine()
    try:
        wait_until(app, lambda: bool(opened), 600, "the engine to open")
        if "error" in opened[0]:
            raise RuntimeError(opened[0]["error"])
        info = opened[0]
        window.use_as_query(_middle_item(workspace))
        wait_until(app, lambda: len(window.session) >= 1, 60, "the first results")
        clock = QElapsedTimer()
        clock.start()
        probe = PaintProbe(window.results.viewport(), clock)
        painted, complete = [], []
        names = list(window._attribute_boxes)
        for i in range(clicks):
            box = window._attribute_boxes[names[i % len(names)]]
            current = box.currentIndex()
            target = 1 + (current % (box.count() - 1))  # another value (row 0 is "no value")
            turns = len(window.session)
            probe.arm()
            start = clock.nsecsElapsed() / 1e6
            box.setCurrentIndex(target)  # the click: a new request for the worker thread
            wait_until(app, lambda: len(window.session) > turns and probe.painted_ms is not None, 60, "painted results")
            painted.append(probe.painted_ms - start)
            paths = [str(window.results_model.hit(r).image_path) for r in range(window.results_model.rowCount())]
            wait_until(app, lambda: all(window.thumbnails.get(p) is not None for p in paths), 60, "thumbnails")
            probe.arm()
            window.results.viewport().update()
            wait_until(app, lambda: probe.painted_ms is not None, 10, "the thumbnail repaint")
            complete.append(probe.painted_ms - start)
            if i % len(names) == len(names) - 1:  # start the next round of edits from the plain query
                turns = len(window.session)
                window.reset_edits()
                wait_until(app, lambda: len(window.session) > turns, 60, "the reset")
        worker_ms = window.last_seconds * 1e3 if window.last_seconds is not None else None
        return {
            "clicks": clicks, "k": k, "gallery_items": info["gallery_items"], "device": info["device"],
            "model": info["encoder_model"], "window": list(size), "qpa_platform": app.platformName(),
            "click_to_results_painted_ms": {"p50": round(statistics.median(painted), 2),
                                            "p95": round(_percentile(painted, 0.95), 2),
                                            "max": round(max(painted), 2)},
            "click_to_thumbnails_painted_ms": {"p50": round(statistics.median(complete), 2),
                                               "p95": round(_percentile(complete, 0.95), 2)},
            "last_worker_ms": round(worker_ms, 2) if worker_ms is not None else None,
        }
    finally:
        window.close()
        client.shutdown()
        window.thumbnails.wait(5000)
        window.query_thumbnails.wait(5000)


def _middle_item(workspace: Workspace) -> int:
    from fashion_gui.catalog.store import Catalog

    with Catalog.open(workspace.catalog_path) as catalog:
        ids = catalog.ids()
        return int(ids[len(ids) // 2])


def cold_start_child(workspace: Path, device: str) -> None:
    """Runs in the fresh process: the app's own start-up, then prints the milestones as one JSON line."""
    t0 = time.perf_counter()
    app = QApplication.instance() or QApplication(["fashion-gui"])
    apply_style(app)
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat))
        client = EngineClient()
        window = SearchWindow(Workspace.at(workspace), client, start_with_item=True, settings=settings, device=device)
        window.resize(1400, 860)
        window.show()
        app.processEvents()
        shown, shown_at = time.perf_counter(), time.time()
        opened: list[float] = []
        client.opened.connect(lambda _info: opened.append(time.perf_counter()))
        window.open_engine()
        probe_clock = QElapsedTimer()
        probe_clock.start()
        probe = PaintProbe(window.results.viewport(), probe_clock)
        probe.arm()
        wait_until(app, lambda: len(window.session) >= 1 and opened, 600, "the first results")
        probe.arm()  # the reset after the first results: wait for its paint
        window.results.viewport().update()
        wait_until(app, lambda: probe.painted_ms is not None, 30, "the first paint")
        usable = time.perf_counter()
        window.close()
        client.shutdown()
        print(json.dumps({"window_shown_s": shown - t0, "engine_open_s": opened[0] - t0, "usable_s": usable - t0,
                          "window_shown_at": shown_at}), flush=True)


def cold_start(workspace: Workspace, runs: int = 3, device: str = "auto") -> dict:
    """Start ``runs`` fresh processes; the parent's clock includes the interpreter and imports."""
    totals, inside, to_window = [], [], []
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    for _ in range(runs):
        start, start_at = time.perf_counter(), time.time()
        out = subprocess.run([sys.executable, "-m", "fashion_gui.ui.bench_ui", str(workspace.root), device],
                             capture_output=True, text=True, env=env, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"the cold-start process failed:\n{out.stderr[-2000:]}")
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
        inside.append(json.loads(line))
        totals.append(time.perf_counter() - start)
        to_window.append(inside[-1]["window_shown_at"] - start_at)

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in inside), 2)

    return {"runs": runs, "process_start_to_window_s": {"p50": round(statistics.median(to_window), 2),
                                                         "max": round(max(to_window), 2)},
            "process_start_to_usable_s": {"p50": round(statistics.median(totals), 2),
                                          "max": round(max(totals), 2)},
            "after_imports": {"window_shown_s": median("window_shown_s"), "engine_open_s": median("engine_open_s"),
                              "usable_s": median("usable_s")}}


if __name__ == "__main__":  # the cold-start child process
    cold_start_child(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "auto")
