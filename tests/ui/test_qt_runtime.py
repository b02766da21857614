"""The installed Qt binding must not corrupt Python's reference counts (PySide6 6.12.0 does: every
call of a void method releases a reference to None, and Python < 3.12 aborts at exit)."""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage, QImageReader  # noqa: E402


def test_void_methods_keep_none_refcount(qapp):
    reader = QImageReader()
    image = QImage(4, 4, QImage.Format_RGB32)
    before = sys.getrefcount(None)
    for _ in range(2000):
        reader.setAutoTransform(True)
        image.fill(0)
    assert sys.getrefcount(None) - before > -50
