"""Atomic writes: a crash at any moment leaves the previous state or the new one, never half of either
(DESIGN.md, "The workspace").

- ``atomic_open`` / ``atomic_write_*``: one file. Write a temporary file in the target's folder, fsync, rename
  over the target (first removing the temporary files a killed writer of the same file left).
- ``commit_dir``: a folder of files that belong together (a checkpoint). Build a complete staged folder next to
  the target, fsync it, then swap it into place in one step (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere
  two renames, and ``recover_dir`` rolls an interrupted swap back to the previous folder).

Every temporary name is ``.tmp-<pid>-<label>-<random>``: the writer's process id lets a cleaner tell the
leftovers of a killed writer (``stale_temps``) from the files of a live one, which it never touches.

``crash_point(step)`` marks each moment between two writes; reliability tests and ``fashion bench reliability``
kill the writer there (``set_crash_hook``) and check that the workspace is still whole.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

TMP_PREFIX = ".tmp-"  # every temporary file or folder starts with this, so cleaners can recognise leftovers
LEGACY_TMP_PREFIXES = (".images-", ".catalog-")  # names older versions used (no writer pid in them)
LEGACY_TMP_AGE = 3600.0  # a leftover without a pid is removed only when it is older than this (seconds)
_TMP_PID = re.compile(r"^\.tmp-(\d+)-")
OLD_SUFFIX = "~old"  # label of the previous folder while commit_dir's fallback swaps a new one in

CrashHook = Callable[[str], None]
_crash_hook: CrashHook | None = None


# --- crash points ------------------------------------------------------------------------------------
def crash_point(step: str) -> None:
    """A named moment between two writes where a crash must leave the old state or the new one, whole.

    Does nothing unless a hook is installed (``set_crash_hook``): the reliability tests install one that
    kills the process at the n-th point it reaches."""
    if _crash_hook is not None:
        _crash_hook(step)


def set_crash_hook(hook: CrashHook | None) -> CrashHook | None:
    """Install ``hook`` (called with the step name at every ``crash_point``); returns the previous one."""
    global _crash_hook
    previous, _crash_hook = _crash_hook, hook
    return previous


# --- temporary names and their writers -----------------------------------------------------------------
def temp_prefix(label: str = "") -> str:
    """``.tmp-<pid>-<label>-``: the prefix of a temporary file or folder this process writes."""
    return f"{TMP_PREFIX}{os.getpid()}-{label}-" if label else f"{TMP_PREFIX}{os.getpid()}-"


def is_temp_name(name: str) -> bool:
    return name.startswith(TMP_PREFIX) or name.startswith(LEGACY_TMP_PREFIXES)


def temp_label(name: str) -> str | None:
    """The label of ``.tmp-<pid>-<label>-<random>`` (the random part never holds a dash), else None."""
    match = _TMP_PID.match(name)
    if not match or name.rfind("-") < match.end():
        return None
    return name[match.end():name.rfind("-")]


def writer_pid(name: str) -> int | None:
    """The process id recorded in a temporary name, or None for a name without one."""
    match = _TMP_PID.match(name)
    return int(match.group(1)) if match else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (our own process counts as alive)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    if sys.platform == "win32":
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it belongs to another user
        return True
    return True


def is_stale_temp(path: Path, legacy_age: float = LEGACY_TMP_AGE) -> bool:
    """True for a temporary file or folder whose writer is gone (its pid is dead; for a name without a
    pid, older than ``legacy_age`` seconds). A live writer's files are never stale."""
    name = path.name
    if not is_temp_name(name):
        return False
    pid = writer_pid(name)
    if pid is not None:
        return not pid_alive(pid)
    try:
        return time.time() - path.lstat().st_mtime > legacy_age
    except FileNotFoundError:
        return False


def stale_temps(folder: Path, label: str | None = None) -> list[Path]:
    """Leftovers of dead writers directly in ``folder`` (only those for ``label`` when given)."""
    folder = Path(folder)
    try:
        entries = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for path in entries:
        if label is not None and temp_label(path.name) != label:
            continue
        if is_stale_temp(path):
            out.append(path)
    return out


def remove_path(path: Path) -> None:
    """Remove a file, a link or a whole folder (one that vanished meanwhile is fine)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        try:
            shutil.rmtree(path)
        except FileNotFoundError:  # removed by someone else while we walked it
            return
    else:
        path.unlink(missing_ok=True)


def remove_stale_temps(folder: Path, label: str | None = None) -> list[Path]:
    """Remove what ``stale_temps`` finds; returns the removed paths."""
    removed = []
    for path in stale_temps(folder, label):
        remove_path(path)
        removed.append(path)
    return removed


# --- os errors that name their file --------------------------------------------------------------------
@contextlib.contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Give an ``OSError`` raised inside the block ``path`` as its file name when it has none (a failed
    ``write`` says "No space left on device" without saying where)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise


def ensure_writable(folder: str | os.PathLike) -> None:
    """Create ``folder`` if needed and check that files can be written in it (a read-only folder raises the
    ``PermissionError`` naming it before any long work starts)."""
    folder = Path(folder)
    with naming(folder):
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=temp_prefix("probe"), dir=folder)
    os.close(fd)
    os.unlink(probe)


# --- one file ------------------------------------------------------------------------------------------
def fsync_dir(directory: Path) -> None:
    """fsync a folder so a rename inside it is durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse to fsync a folder; the rename holds
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Flush every file under ``directory`` and the folders themselves to disk."""
    directory = Path(directory)
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for folder in [*sorted(p for p in directory.rglob("*") if p.is_dir()), directory]:
        fsync_dir(folder)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file for writing; on a clean exit it replaces ``path``, on an error it is removed.
    An ``OSError`` (disk full, read-only folder) names ``path``."""
    path = Path(path)
    with naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent, label=path.name)  # what a killed writer of this file left
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=path.parent)
        try:
            with os.fdopen(fd, mode, encoding=encoding) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            crash_point(f"atomic:{path.name}:written")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        crash_point(f"atomic:{path.name}:replaced")
        fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike, data: Any, **dumps: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, **dumps) + "\n")


# --- a folder of files that belong together -----------------------------------------------------------
def make_temp_dir(parent: Path, label: str) -> Path:
    """A new empty ``.tmp-<pid>-<label>-<random>`` folder in ``parent`` (created with the usual permissions,
    unlike ``tempfile.mkdtemp``'s owner-only ones, since it becomes a workspace folder)."""
    parent = Path(parent)
    with naming(parent):
        parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            path = parent / f"{temp_prefix(label)}{uuid.uuid4().hex[:8]}"
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(parent))


def staged_dir(target: Path) -> Path:
    """A new empty temporary folder next to ``target``, to be filled and passed to ``commit_dir``."""
    target = Path(target)
    return make_temp_dir(target.parent, target.name)


def commit_dir(staged: Path, target: Path) -> None:
    """Make the complete folder ``staged`` (a sibling of ``target``) the new ``target`` in one step.

    The previous ``target`` (if any) is removed afterwards. A crash before the swap leaves the previous
    folder (and a stale ``staged`` for the cleaners); a crash after it leaves the new one."""
    staged, target = Path(staged), Path(target)
    with naming(target):
        fsync_tree(staged)
        crash_point("commit_dir:staged")
        if not target.exists():
            os.rename(staged, target)
            crash_point("commit_dir:renamed")
            fsync_dir(target.parent)
            return
        if _exchange(staged, target):  # staged now holds the previous folder
            crash_point("commit_dir:exchanged")
            fsync_dir(target.parent)
            remove_path(staged)
            return
        old = target.with_name(f"{temp_prefix(target.name + OLD_SUFFIX)}{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
        crash_point("commit_dir:moved_old")
        os.rename(staged, target)
        crash_point("commit_dir:moved_new")
        fsync_dir(target.parent)
        remove_path(old)


def recover_dir(target: Path) -> bool:
    """After a crash between the two renames of ``commit_dir``'s fallback, ``target`` is missing and the
    previous folder waits under a ``-old`` name: rename it back. True when something was recovered."""
    target = Path(target)
    if target.exists():
        return False
    for candidate in stale_temps(target.parent, label=target.name + OLD_SUFFIX):
        if candidate.is_dir():
            os.rename(candidate, target)
            fsync_dir(target.parent)
            return True
    return False


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2: Any = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot (the caller falls back)."""
    global _renameat2
    if not sys.platform.startswith("linux"):
        return False
    if _renameat2 is None:
        try:
            _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError):
            _renameat2 = False
    if not _renameat2:
        return False
    result = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # this filesystem cannot exchange: two renames instead
    raise OSError(code, os.strerror(code), str(b))
