"""Thumbnails decoded off the GUI thread: QImage in a thread pool, QPixmap only on the GUI thread."""
from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap


class _Signals(QObject):
    loaded = Signal(str, QImage)


class _LoadTask(QRunnable):
    def __init__(self, path: str, size: QSize, signals: _Signals) -> None:
        super().__init__()
        self.path, self.size, self.signals = path, size, signals

    def run(self) -> None:
        reader = QImageReader(self.path)
        reader.setAutoTransform(True)  # EXIF rotation
        image = reader.read()
        if not image.isNull():
            image = image.scaled(self.size, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        self.signals.loaded.emit(self.path, image)


class ThumbnailCache(QObject):
    """Asynchronous, device-pixel-ratio aware thumbnail cache; emits ``ready(path)`` when one arrives."""

    ready = Signal(str)

    def __init__(self, logical_size: int, device_pixel_ratio: float = 1.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device_pixel_ratio = device_pixel_ratio
        side = int(round(logical_size * device_pixel_ratio))
        self._size = QSize(side, side)
        self._pixmaps: dict[str, QPixmap] = {}
        self._pending: set[str] = set()
        self._pool = QThreadPool(self)
        self._signals = _Signals()
        self._signals.loaded.connect(self._on_loaded)

    def get(self, path: str) -> QPixmap | None:
        """The cached pixmap, or None after scheduling its decode."""
        pixmap = self._pixmaps.get(path)
        if pixmap is None and path not in self._pending:
            self._pending.add(path)
            self._pool.start(_LoadTask(path, self._size, self._signals))
        return pixmap

    def _on_loaded(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        pixmap = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        pixmap.setDevicePixelRatio(self.device_pixel_ratio)
        self._pixmaps[path] = pixmap
        self.ready.emit(path)

    def wait(self, msecs: int = 5000) -> bool:
        """Block until queued decodes finish (used on shutdown and by tests)."""
        return self._pool.waitForDone(msecs)
