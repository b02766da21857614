"""The app's open and drop path (SearchWindow.load_image / dropEvent -> the engine worker -> encode) with every
corpus file: a loaded file becomes the query; a refused one gives one line in the window naming the file,
with no traceback; a bug would show one line with its traceback behind "Details"."""
from __future__ import annotations

import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from fashion_gui.reliability.corpus import LOAD, REFUSE  # noqa: E402
from fashion_gui.reliability.images_check import names_file  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.search_window import SearchWindow  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


@pytest.fixture
def window(qtbot, tiny, tmp_path):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(tiny.root, ws.root, symlinks=True)
    client = EngineClient()
    win = SearchWindow(ws, client, k=4, device="cpu")
    qtbot.addWidget(win)
    with qtbot.waitSignal(client.opened, timeout=60_000):
        win.open_engine()
    yield win
    win.close()
    assert client.shutdown() and not client.thread.isRunning()
    assert win.thumbnails.wait(5000) and win.query_thumbnails.wait(5000)


def _answer(qtbot, win, submit) -> tuple[str, str]:
    """Submit through the window; ("loaded", source) or ("refused", the window's error line)."""
    before, win.last_error = win.query, None
    submit()
    qtbot.waitUntil(lambda: win.last_error is not None or win.query is not before, timeout=10_000)
    for box in win.findChildren(QMessageBox):
        box.close()
    if win.last_error is not None:
        return "refused", win.last_error
    return "loaded", win.query.source


def test_every_corpus_file_opens_or_is_refused_in_one_line(qtbot, window, corpus):
    folder, cases = corpus
    wrong = []
    for case in cases:
        path = case.path(folder)
        result, text = _answer(qtbot, window, lambda: window.load_image(str(path)))
        if result == "loaded":
            ok = case.expect != REFUSE and text == str(path)
        else:
            ok = (case.expect != LOAD and "\n" not in text and "Traceback" not in text and names_file(text, path)
                  and window.client.last_details == "")
        if not ok:
            wrong.append(f"{case.name} ({case.expect}): {result}: {text}")
    assert wrong == []


def _drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(QPoint(10, 10)), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


def test_dropping_a_good_and_a_bad_file(qtbot, window, corpus):
    folder, _ = corpus
    assert _answer(qtbot, window, lambda: _drop(window, folder / "exif-orientation-6.jpg")) == \
        ("loaded", str(folder / "exif-orientation-6.jpg"))
    result, text = _answer(qtbot, window, lambda: _drop(window, folder / "link-self-loop.jpg"))
    assert result == "refused" and "symbolic link loop" in text and str(folder / "link-self-loop.jpg") in text
