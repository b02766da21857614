"""Writer locks: one live writer at a time for a resource of the workspace (its catalog, an index folder).

A lock is an exclusive operating-system lock (``flock``; ``msvcrt.locking`` on Windows) on a small file that
also records who holds it (pid, command, start time), so a second writer can say which one is running. The
system releases the lock when its process ends, even by ``kill -9``, so a lock is never stale, and a cleaner
that can take it knows that no writer is alive. The holder removes the file as it releases the lock (a writer
that finds the file it locked gone locks the new one), so a workspace keeps no lock files between writes.

Within one process the lock is re-entrant per thread (a save inside a build that holds it does not deadlock);
other threads wait as other processes do.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fashion_gui.atomic import naming

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


class BusyError(RuntimeError):
    """Another process is writing the same part of the workspace; the message says which and what to do."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its file records it."""

    pid: int
    command: str
    since: float

    def describe(self) -> str:
        started = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid}, `{self.command}`, started {started}"


def _command() -> str:
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    if argv[0] in ("main.py", "__main__.py"):
        argv[0] = "fashion"
    return " ".join(argv)[:200]


class _ProcessState:
    """Locks this process holds: path -> (owning thread, depth, file descriptor)."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.changed = threading.Condition(self.mutex)
        self.held: dict[str, tuple[int, int, int]] = {}


_state = _ProcessState()


def _try_os_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _os_unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a releasing holder removes the file)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


class WriterLock:
    """``with WriterLock(path, "index build").held(wait=600): ...``; see the module docstring.

    ``what`` names the kind of writer in messages ("another index build is running ...").
    """

    def __init__(self, path: str | os.PathLike, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._key = str(self.path.absolute())

    def holder(self) -> Holder | None:
        """Who holds (or last held) the lock, from its file; None when unknown."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            return Holder(int(raw["pid"]), str(raw["command"]), float(raw["since"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def busy_message(self, holder: Holder | None, waited: float | None = None) -> str:
        who = f" ({holder.describe()})" if holder is not None else ""
        after = f"; waited {waited:.0f} s" if waited else ""
        return (f"another {self.what} is running on {self.path.parent}{who}{after}; wait for it to finish, "
                "then try again")

    def acquire(self, wait: float = 0.0, on_wait: Callable[[str], None] | None = None) -> None:
        """Take the lock, waiting up to ``wait`` seconds for another writer; ``BusyError`` after that.
        ``on_wait`` (default: a log warning) is told once when this call has to wait."""
        me = threading.get_ident()
        deadline = time.monotonic() + wait
        with _state.changed:
            while True:  # other threads of this process first
                owner = _state.held.get(self._key)
                if owner is None:
                    break
                if owner[0] == me:
                    _state.held[self._key] = (me, owner[1] + 1, owner[2])
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BusyError(self.busy_message(self.holder(), wait if wait else None))
                _state.changed.wait(min(left, POLL_SECONDS))
            told = False
            while True:  # then other processes: the OS lock on the file the path names right now
                with naming(self.path.parent):
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    while not _try_os_lock(fd):
                        holder = self.holder()
                        if not told and wait > 0:
                            (on_wait or log.warning)(f"{self.busy_message(holder).split(';')[0]}; waiting for it")
                            told = True
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise BusyError(self.busy_message(holder, wait if wait else None))
                        _state.changed.wait(min(left, POLL_SECONDS))
                    if _same_file(fd, self.path):
                        break
                    _os_unlock(fd)  # the holder removed the file as it released it: lock the new one
                except BaseException:
                    os.close(fd)
                    raise
                os.close(fd)
            try:
                record = json.dumps({"pid": os.getpid(), "command": _command(), "since": time.time()}).encode()
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, record)
            except BaseException:
                _os_unlock(fd)
                os.close(fd)
                raise
            _state.held[self._key] = (me, 1, fd)

    def release(self) -> None:
        with _state.changed:
            owner = _state.held.get(self._key)
            if owner is None or owner[0] != threading.get_ident():
                raise RuntimeError(f"{self.path} is not held by this thread")
            me, depth, fd = owner
            if depth > 1:
                _state.held[self._key] = (me, depth - 1, fd)
                return
            del _state.held[self._key]
            try:
                if sys.platform != "win32":  # the file goes with the lock (Windows cannot remove an open file)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path)
                _os_unlock(fd)
            finally:
                os.close(fd)
            _state.changed.notify_all()

    @contextlib.contextmanager
    def held(self, wait: float = 0.0, on_wait: Callable[[str], None] | None = None) -> Iterator[WriterLock]:
        """``acquire`` for the block, ``release`` after it."""
        self.acquire(wait, on_wait)
        try:
            yield self
        finally:
            self.release()

    def held_elsewhere(self) -> bool:
        """True when a live writer (another process or thread) holds the lock right now. Never blocks."""
        with _state.changed:
            owner = _state.held.get(self._key)
            if owner is not None:
                return owner[0] != threading.get_ident()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            if not _try_os_lock(fd):
                return True
            _os_unlock(fd)
            return False
        finally:
            os.close(fd)
