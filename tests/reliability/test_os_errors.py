"""A read-only workspace and a full disk: every command says so in one line naming the path and what to do,
exits with status 2, and changes nothing."""
from __future__ import annotations

import builtins
import contextlib
import errno
import io
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from fashion_gui.cli.main import main
from fashion_gui.engine import RetrievalEngine
from fashion_gui.errors import describe_os_error, user_message
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.reliability.workspaces import TINY_DEMO

from reliability_helpers import FullDiskFile, fashion, make_writable, one_line_error, snapshot


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, err.getvalue()


# --- read-only ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["search", "train", "demo"])
def test_a_read_only_workspace_is_one_line_and_changes_nothing(ws, command):
    if command == "search":  # a search that has to build its indexes first
        shutil.rmtree(ws.indexes)
        ws.indexes.mkdir()
        args = ["search", "--workspace", str(ws.root), "--item", "1", "--device", "cpu"]
    elif command == "train":
        args = ["train", "adde", "--workspace", str(ws.root), "--epochs", "1", "--d", "4", "--device", "cpu",
                "--progress-json"]
    else:
        args = ["catalog", "demo", "--workspace", str(ws.root), "--force", "--quiet", "--items",
                str(TINY_DEMO["items"]), "--size", "32", "--workers", "1"]
    before = snapshot(ws.root)
    try:
        proc = fashion(*args, readonly_root=ws.root)
    finally:
        make_writable(ws.root)
    line = one_line_error(proc.stderr, args[0])
    assert proc.returncode == 2 and str(ws.root) in line
    assert "permission denied" in line and "make it writable" in line
    assert snapshot(ws.root) == before


# --- a full disk -----------------------------------------------------------------------------------------
@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk(root)``: from now on, every file opened for writing under ``root`` fails like a full disk."""
    def fill(root: Path) -> None:
        root = str(root)
        real_open, real_fdopen = builtins.open, os.fdopen

        def open_(file, mode="r", *a, **k):
            fh = real_open(file, mode, *a, **k)
            if isinstance(file, (str, os.PathLike)) and str(file).startswith(root) and set(mode) & set("wax+"):
                return FullDiskFile(fh)
            return fh

        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: FullDiskFile(real_fdopen(fd, *a, **k)))
    return fill


def test_index_build_on_a_full_disk_is_one_line_and_keeps_the_old_index(ws, full_disk):
    full_disk(ws.indexes)
    rc, err = run(["index", "build", "--workspace", str(ws.root), "--ef-search", "90", "--device", "cpu"])
    line = one_line_error(err, "index")
    assert rc == 2 and "the disk is full" in line and str(ws.indexes) in line and "free some space" in line
    with RetrievalEngine.open(ws, device="cpu") as engine:  # the previous indexes still load, unchanged
        assert {ix["status"] for ix in engine.describe()["indexes"].values()} == {"loaded"}
    assert not [p for p in ws.indexes.rglob(".tmp-*")]  # a failed write cleans up after itself


def test_a_full_disk_while_writing_the_catalog_is_one_line(ws, monkeypatch):
    from fashion_gui.catalog import store

    def full(self, records):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store.Catalog, "add_items", full)
    before = snapshot(ws.root)
    rc, err = run(["catalog", "demo", "--workspace", str(ws.root), "--force", "--quiet", "--items", "60",
                   "--size", "32", "--workers", "1"])
    line = one_line_error(err, "catalog")
    assert rc == 2 and "the disk is full" in line and str(ws.catalog_path) in line
    assert snapshot(ws.root) == before


def test_a_full_disk_while_saving_a_checkpoint_keeps_the_old_one(ws, full_disk):
    from fashion_gui.reliability.workspaces import untrained_adde

    full_disk(ws.checkpoints)
    with pytest.raises(OSError) as info:
        untrained_adde(ws, d=4)
    assert "the disk is full" in user_message(info.value) and str(ws.checkpoints / "adde") in user_message(info.value)
    assert load_checkpoint(ws.checkpoints / "adde").config["architecture"]["d"] == 8
    assert [p.name for p in ws.checkpoints.iterdir()] == ["adde"]


# --- the messages themselves -------------------------------------------------------------------------------
@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
    (errno.ELOOP, "symbolic link loop"), (errno.ENOENT, "does not exist"), (errno.EISDIR, "is a folder"),
])
def test_os_errors_become_one_line_naming_the_path(code, words):
    message = describe_os_error(OSError(code, os.strerror(code), "/ws/indexes/adde/.tmp-123-data-ab12cd34"))
    assert words in message and "\n" not in message
    assert "/ws/indexes/adde" in message and ".tmp-" not in message  # a temporary name is shown as its folder


def test_pathlib_symlink_loops_are_recognised():
    assert "symbolic link loop" in user_message(RuntimeError("Symlink loop from '/a/b.jpg'"))
    assert user_message(ZeroDivisionError("division by zero")) is None  # a bug stays a bug
