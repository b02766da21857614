"""``fashion`` entry point: catalog, train/eval, index/search/path and bench subcommands."""
from __future__ import annotations

import argparse
import sys

from fashion_gui.catalog.importers import ImportProblems
from fashion_gui.catalog.schema import SchemaError
from fashion_gui.catalog.images import ImageError
from fashion_gui.catalog.store import CatalogError
from fashion_gui.inference.checkpoint import CheckpointError
from fashion_gui.cli import bench, catalog, search, train
from fashion_gui.engine import EngineError
from fashion_gui.index import UnreachableError

# Errors a person can act on: printed as one message, exit code 2, no traceback.
USER_ERRORS = (CatalogError, CheckpointError, EngineError, ImageError, ImportProblems, SchemaError, UnreachableError,
               FileNotFoundError, ValueError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashion", description="Interactive fashion retrieval: command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    catalog.register(sub)
    train.register(sub)
    search.register(sub)
    bench.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        print(f"fashion {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
