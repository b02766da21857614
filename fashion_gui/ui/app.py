"""``fashion-gui``: check that Qt can open a window here, then start the app (startup.py).

Qt is imported only after the check: importing PySide6's QtGui already needs libEGL and fontconfig, and a
missing X11 library otherwise ends in Qt's bare "Could not load the Qt platform plugin" (system_libraries.py).
"""
from __future__ import annotations

import argparse
import sys
import time

from fashion_gui.ui.system_libraries import EXIT_MISSING_LIBRARIES, xcb_problem
from fashion_gui.workspace import default_workspace


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="fashion-gui", description="Interactive fashion retrieval.")
    parser.add_argument("--workspace", "-w", default=None,
                        help=f"workspace folder (default: the last one opened, else {default_workspace()})")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda (default: the last one chosen)")
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    problem = xcb_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_MISSING_LIBRARIES
    from fashion_gui.ui.startup import start  # Qt from here on

    return start(args.workspace, args.device, qt_args, started)
