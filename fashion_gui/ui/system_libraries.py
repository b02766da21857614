"""Before Qt starts: the X11 libraries Qt 6's xcb platform plugin loads (Qt-free, so it runs before PySide6
is imported; importing PySide6's QtGui already needs libEGL and fontconfig).

On a fresh Linux machine without them Qt prints only "Could not load the Qt platform plugin "xcb"" and
aborts. :func:`xcb_problem` says instead which Debian/Ubuntu packages to install, and how to run without a
screen. The library list is what the plugin of PySide6 6.11 links (``ldd plugins/platforms/libqxcb.so`` and
``lib/libQt6XcbQpa.so.6``; Qt 6 no longer loads xinerama), each looked up with ``ctypes.util.find_library``.
"""
from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable, Mapping

# library name for find_library (lib<name>.so) -> the Debian/Ubuntu package that installs it
XCB_LIBRARIES: dict[str, str] = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-image": "libxcb-image0",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-render": "libxcb-render0",
    "xcb-shape": "libxcb-shape0",
    "xcb-shm": "libxcb-shm0",
    "xcb-sync": "libxcb-sync1",
    "xcb-util": "libxcb-util1",
    "xcb-xfixes": "libxcb-xfixes0",
    "xcb-xkb": "libxcb-xkb1",
    "xcb": "libxcb1",
    "X11-xcb": "libx11-xcb1",
    "X11": "libx11-6",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xkbcommon": "libxkbcommon0",
    "EGL": "libegl1",
    "GL": "libgl1",
    "fontconfig": "libfontconfig1",
    "freetype": "libfreetype6",
    "glib-2.0": "libglib2.0-0",
    "dbus-1": "libdbus-1-3",
}
EXIT_MISSING_LIBRARIES = 2


def platform_would_be_xcb(environ: Mapping[str, str], platform: str | None = None) -> bool:
    """Qt picks its xcb plugin: Linux, an X display, no Wayland display and no other platform asked for."""
    platform = sys.platform if platform is None else platform
    asked = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    return (platform.startswith("linux") and asked in ("", "xcb") and bool(environ.get("DISPLAY"))
            and not environ.get("WAYLAND_DISPLAY"))


def missing_libraries(find: Callable[[str], str | None] | None = None) -> list[str]:
    """The names in :data:`XCB_LIBRARIES` that ``find`` (default: ``ctypes.util.find_library``) does not find."""
    find = ctypes.util.find_library if find is None else find
    return [name for name in XCB_LIBRARIES if not find(name)]


def xcb_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                find: Callable[[str], str | None] | None = None) -> str | None:
    """The message to print instead of starting Qt when its xcb plugin would fail to load; None when the
    platform is not xcb or every library is there. Defaults: ``os.environ``, ``sys.platform`` and
    ``ctypes.util.find_library``, looked up at each call."""
    environ = os.environ if environ is None else environ
    if not platform_would_be_xcb(environ, platform):
        return None
    missing = missing_libraries(find)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(XCB_LIBRARIES[name] for name in missing))
    names = ", ".join(f"lib{name}" for name in missing)
    return (f"fashion-gui cannot open a window: Qt's X11 (xcb) platform needs system libraries that are not "
            f"installed: {names}.\n"
            f"On Debian or Ubuntu install them with:\n"
            f"    sudo apt-get install {packages}\n"
            f"(other distributions: the packages that provide these libraries). Without a screen, or to try "
            f"the app first, run it offscreen:\n"
            f"    QT_QPA_PLATFORM=offscreen fashion-gui")
