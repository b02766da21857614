"""``fashion doctor``: check a workspace, print every problem with the command that fixes it."""
from __future__ import annotations

import argparse
import json
import sys

from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.workspace import Workspace
from fashion_gui.workspace_doctor import check_workspace, fix_workspace


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("doctor", help="check a workspace: catalog, images, checkpoints, indexes, leftovers")
    add_workspace_arg(d)
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    d.add_argument("--quick", action="store_true", help="read image headers only (do not decode every image)")
    d.add_argument("--fix", action="store_true",
                   help="first remove leftovers of killed writers and put back an interrupted checkpoint save")
    d.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit status 0 when the workspace is sound, 1 when problems were found."""
    ws = Workspace.at(args.workspace)
    fixed = fix_workspace(ws) if args.fix and ws.root.is_dir() else []
    report = check_workspace(ws, images=not args.quick)
    report.fixed = fixed
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        print()
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1
