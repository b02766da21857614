"""Helpers of the reliability tests: run ``fashion`` as a user would (a child process, a read-only folder),
snapshot a workspace, check a one-line error."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fashion(*args: str, readonly_root: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """``fashion ARGS`` in a child process. ``readonly_root``: make that folder read-only for the child (as a
    user who cannot write it; root runs the child without the capability that ignores permissions)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "fashion_gui.cli.main", *args]
    if readonly_root is not None:
        make_readonly(readonly_root)
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: a read-only folder cannot be simulated")
            argv = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def make_readonly(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to show that a failed command changed nothing)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and p.name != ".lock" and not p.name.endswith(".lock")}


def one_line_error(stderr: str, command: str) -> str:
    """The single error line of a failed command (asserting there is exactly one and no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("  encode")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"fashion {command}: error: "), stderr
    return lines[0]


class FullDiskFile:
    """A file whose writes fail as on a full disk (after ``allow`` bytes)."""

    def __init__(self, fh, allow: int = 0) -> None:
        self._fh, self._left = fh, allow

    def write(self, data):
        if len(data) > self._left:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __iter__(self):
        return iter(self._fh)
