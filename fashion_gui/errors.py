"""Errors a person can act on, as one line: what went wrong, with which file, and what to do (CONVENTIONS 12).

``user_message(exc)`` is the one translation the command line (``fashion_gui/cli/main.py``) and the app (the
engine worker) share: the project's own errors keep their message; operating-system errors (a read-only
folder, a full disk, a symbolic-link loop) become a line naming the path and the fix. It returns None for
anything else, which is a bug: the command line shows its traceback, the app a short line with the traceback
behind "Details".
"""
from __future__ import annotations

import errno
import re
import sys
import traceback
from pathlib import Path

from fashion_gui.atomic import is_temp_name

# The project's errors, whose messages already say what to do: module -> class names. They are looked up in
# the modules already imported (an error cannot come from a module that was never loaded), so this module
# stays light and ``fashion --help`` does not import torch (issue 16).
PROJECT_ERRORS: dict[str, tuple[str, ...]] = {
    "fashion_gui.locks": ("BusyError",),
    "fashion_gui.catalog.store": ("CatalogError",),
    "fashion_gui.catalog.images": ("ImageError",),
    "fashion_gui.catalog.importers": ("ImportProblems",),
    "fashion_gui.catalog.schema": ("SchemaError",),
    "fashion_gui.engine.requests": ("EngineError",),
    "fashion_gui.index.paths": ("UnreachableError",),
    "fashion_gui.inference.checkpoint": ("CheckpointError",),
}


def project_errors() -> tuple[type[BaseException], ...]:
    """The project's error classes among the modules loaded so far."""
    return tuple(getattr(sys.modules[module], name) for module, names in PROJECT_ERRORS.items()
                 if module in sys.modules for name in names)
_SYMLINK_LOOP = re.compile(r"^Symlink loop from '?(.*?)'?$")  # pathlib before Python 3.13 raises RuntimeError

WRITABLE_HINT = "make it writable, or copy the workspace to a folder you can write and pass that with --workspace"


def shown_path(filename: str | bytes | None) -> str:
    """The path to name in a message: a temporary or lock file (or a file inside a temporary folder) is shown
    as the folder a person knows."""
    if filename is None:
        return ""
    path = Path(filename.decode(errors="replace") if isinstance(filename, bytes) else str(filename))
    for depth, part in enumerate(path.parts):
        if is_temp_name(part):
            return str(Path(*path.parts[:depth]))
    if path.name.endswith(".lock"):
        return str(path.parent)
    return str(path)


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error: the path, what happened, what to do."""
    path = shown_path(exc.filename)
    where = path or "a file"
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return (f"the disk is full: cannot write {where} (no space left on device); free some space on that "
                "disk and run the command again (what was there before is unchanged)")
    if code == errno.EROFS:
        return f"cannot write {where}: the disk is mounted read-only; {WRITABLE_HINT}"
    if code in (errno.EACCES, errno.EPERM):
        return (f"permission denied for {where}: the folder is read-only or belongs to another user; "
                f"{WRITABLE_HINT}")
    if code == errno.ELOOP:
        return f"{where} is a symbolic link loop (a link that points back to itself); fix or remove the link"
    if code == errno.ENOENT:
        return f"{where} does not exist; check the path"
    if code == errno.EISDIR:
        return f"{where} is a folder, not a file; give a file"
    if code == errno.ENOTDIR:
        return f"{where}: a part of this path is a file, not a folder; check the path"
    if code == errno.EFBIG:
        return f"cannot write {where}: the file is larger than this system allows; free the limit or the space"
    if code == errno.ENAMETOOLONG:
        return f"{where}: the path is too long for this system; use a shorter folder or file name"
    if code == errno.EMFILE or code == errno.ENFILE:
        return "too many files are open; close other programs (or raise the limit with ulimit -n) and try again"
    if code == errno.EIO:
        return f"input/output error on {where}: the disk or network share failed; check it and try again"
    reason = exc.strerror or str(exc)
    return f"{where}: {reason}" if path else reason


def user_message(exc: BaseException) -> str | None:
    """The message to show for an error a person can act on, or None for a bug."""
    if isinstance(exc, project_errors()):
        return str(exc)
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, RuntimeError):
        match = _SYMLINK_LOOP.match(str(exc))
        if match:
            return describe_os_error(OSError(errno.ELOOP, "Too many levels of symbolic links", match.group(1)))
    if isinstance(exc, MemoryError):
        return "not enough memory for this request; close other programs or use smaller images and try again"
    if isinstance(exc, ValueError) and not isinstance(exc, UnicodeError):  # bad input refused with a message
        return str(exc)
    return None


def failure_message(exc: BaseException) -> tuple[str, str]:
    """``(one line for the window, details)``: details hold the traceback of a bug or the rest of a long
    message ("" when the line says it all)."""
    message = user_message(exc)
    if message is None:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return f"Something went wrong ({type(exc).__name__}{': ' + first if first else ''}); see the details", details
    lines = message.strip().splitlines() or [type(exc).__name__]
    if len(lines) > 1:
        return f"{lines[0]} (see the details)", message
    return lines[0], ""
