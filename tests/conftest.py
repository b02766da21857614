"""Shared fixtures: a small demo workspace rendered once per test session."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

SMALL_DEMO = DemoConfig(items=300, views=3, size=64, seed=7, workers=1)


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Workspace:
    """A 300-image demo workspace at 64 px (built once; tests must not modify it)."""
    ws = Workspace(tmp_path_factory.mktemp("demo_ws"))
    build_demo(ws, SMALL_DEMO)
    return ws
