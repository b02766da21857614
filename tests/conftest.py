"""Shared fixtures: a small demo workspace rendered once per test session."""
from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One torch thread: on a 2-core machine a second thread gains ~15% when the machine is idle but makes
# training 10x slower whenever anything else runs (OpenMP threads spin-wait); the suite takes ~3 min either
# way. It also keeps the trained fixtures bit-for-bit the runs whose figures the tests quote.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

SMALL_DEMO = DemoConfig(items=300, views=3, size=64, seed=7, workers=1)


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Workspace:
    """A 300-image demo workspace at 64 px (built once; tests must not modify it)."""
    ws = Workspace(tmp_path_factory.mktemp("demo_ws"))
    build_demo(ws, SMALL_DEMO)
    return ws


# A small but real attribute model for engine, CLI and app tests: ADDE trained by the real trainer on a
# 600-image demo catalog (its own, so the 300-image one stays untouched). Tests copy it before writing.
# Measured once with this budget (a one-off script, not in the repo; the test asserts the bounds): a colour edit puts the new colour in 53% of the top 5 (59% of
# the top 3, 47% of the top 10) against a 6-12% base rate, keeping 49% of the other attributes (chance 19%).
ENGINE_DEMO = DemoConfig(items=600, views=3, size=64, seed=7, workers=1, difficulty="easy")
ENGINE_TRAIN = dict(backbone="compact", d=32, image_size=48, batch_size=32, epochs=12, manip_epochs=4,
                    lr=2e-3, manip_lr=1e-3, device="cpu", seed=0)


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory) -> Workspace:
    """A demo workspace with a trained ADDE checkpoint in ``checkpoints/adde`` (no indexes yet)."""
    from fashion_gui.methods import get_method

    ws = Workspace(tmp_path_factory.mktemp("trained_ws"))
    build_demo(ws, ENGINE_DEMO)
    get_method("adde").create_trainer(ws, ws.checkpoints / "adde", **ENGINE_TRAIN).run()
    return ws


SMALL_UIGR = {"image_size": 48, "embed_dim": 64, "word_dim": 32, "text_hidden": 64, "batch_size": 32,
              "device": "cpu", "seed": 0}


@pytest.fixture(scope="session")
def composed_workspace(trained_workspace, tmp_path_factory) -> Workspace:
    """The trained demo workspace plus a UIGR-TIRG model (on the ADDE backbone) and an ADDE-O head
    (no indexes yet; tests copy it before writing)."""
    from fashion_gui.methods import get_method

    ws = Workspace(tmp_path_factory.mktemp("composed_ws") / "ws")
    shutil.copytree(trained_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    get_method("uigr-tirg").create_trainer(ws, ws.checkpoints / "uigr-tirg", epochs=6, **SMALL_UIGR).run()
    get_method("adde-o").create_trainer(ws, ws.checkpoints / "adde-o", epochs=6, device="cpu").run()
    return ws
