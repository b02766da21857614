"""Resumable multi-seed benchmarks (``fashion bench attributes|composed``): the JSON file is rewritten after
every run, and a later invocation with the same ``--json`` skips the runs it already holds."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fashion_gui.workspace import Workspace


def previous_runs(path: Path) -> list[dict]:
    """Runs already recorded in an earlier (possibly interrupted) invocation writing the same JSON file."""
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text())["runs"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path} exists but is not a benchmark file ({exc}); move it away or pick another --json")


def config_record(args: argparse.Namespace, ws: Workspace) -> dict:
    """The command's arguments as JSON-safe values, for the benchmark file."""
    return vars(args) | {"func": None, "json": str(args.json), "workspace": str(ws.root)}
