"""``fashion`` entry point: catalog, train/eval, index/search/path and bench subcommands."""
from __future__ import annotations

import argparse
import sys

from fashion_gui.cli import bench, catalog, doctor, search, train
from fashion_gui.errors import user_message


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashion", description="Interactive fashion retrieval: command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    catalog.register(sub)
    train.register(sub)
    search.register(sub)
    doctor.register(sub)
    bench.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. The error boundary: an error a person can act on (the project's own, a read-only
    folder, a full disk, a symbolic-link loop...) is one message on stderr and exit status 2, never a
    traceback; only a bug shows its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise
        print(f"fashion {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
