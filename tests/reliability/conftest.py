"""Fixtures of the reliability suite: a tiny workspace (60 demo images at 32 px, an untrained ADDE model), the
generated corpus of bad images, and ways to run ``fashion`` as a user would (a child process, a read-only
folder)."""
from __future__ import annotations

import shutil

import pytest

from fashion_gui.reliability.corpus import make_corpus
from fashion_gui.reliability.workspaces import tiny_workspace
from fashion_gui.workspace import Workspace

@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Workspace:
    """A tiny workspace with its indexes built (tests must copy it before writing)."""
    from fashion_gui.engine import RetrievalEngine

    ws = tiny_workspace(tmp_path_factory.mktemp("tiny") / "ws")
    with RetrievalEngine.open(ws, device="cpu"):
        pass
    return ws


@pytest.fixture
def ws(tiny, tmp_path) -> Workspace:
    """A private copy of the tiny workspace."""
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(tiny.root, copy.root, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """(folder, cases): the generated corpus of bad and awkward images."""
    folder = tmp_path_factory.mktemp("corpus")
    return folder, make_corpus(folder)


