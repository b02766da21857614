"""Before Qt starts: a machine without the X11 libraries of Qt's xcb plugin gets one message naming the
packages to install and the offscreen alternative, and exit status 2 (not Qt's bare plugin error)."""
import ctypes.util
import subprocess
import sys

from fashion_gui.ui import app, system_libraries
from fashion_gui.ui.system_libraries import XCB_LIBRARIES, platform_would_be_xcb, xcb_problem

X11 = {"DISPLAY": ":0"}


def _find_all_but(*missing):
    return lambda name: None if name in missing else f"lib{name}.so.0"


def test_the_platform_is_xcb_only_on_linux_with_an_x_display_and_nothing_else_asked():
    assert platform_would_be_xcb(X11, "linux")
    assert platform_would_be_xcb({**X11, "QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not platform_would_be_xcb({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not platform_would_be_xcb({**X11, "QT_QPA_PLATFORM": "wayland"}, "linux")
    assert not platform_would_be_xcb({**X11, "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not platform_would_be_xcb({}, "linux")
    assert not platform_would_be_xcb(X11, "darwin") and not platform_would_be_xcb(X11, "win32")


def test_missing_libraries_name_their_packages_and_the_offscreen_alternative():
    message = xcb_problem(X11, "linux", _find_all_but("xcb-cursor", "xcb-icccm", "xkbcommon-x11"))
    assert "libxcb-cursor, libxcb-icccm, libxkbcommon-x11" in message
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxkbcommon-x11-0\n" in message
    assert "QT_QPA_PLATFORM=offscreen fashion-gui" in message
    assert xcb_problem(X11, "linux", _find_all_but()) is None  # everything there
    assert xcb_problem({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux", _find_all_but("xcb-cursor")) is None
    everything = xcb_problem(X11, "linux", lambda _name: None)
    assert all(package in everything for package in XCB_LIBRARIES.values())


def test_the_app_exits_with_status_2_before_importing_qt(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(system_libraries.sys, "platform", "linux")
    monkeypatch.setattr(ctypes.util, "find_library", _find_all_but("xcb-cursor"))
    assert app.main(["--workspace", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "libxcb-cursor" in err and "apt-get install libxcb-cursor0\n" in err
    assert "QT_QPA_PLATFORM=offscreen" in err


def test_the_entry_module_imports_no_qt():
    """app.py must be importable on a machine where importing QtGui fails (no libEGL): Qt comes after."""
    code = "import sys, fashion_gui.ui.app; print(any(m.startswith('PySide6') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
