"""``fashion`` entry point: catalog, train/eval, index/search/path and bench subcommands.

Only the module of the command that runs is imported (issue 16: ``fashion --help`` and ``fashion catalog
info`` must not wait for torch): the other commands are listed by name and help text alone.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from fashion_gui.errors import user_message

# module -> the commands its register() adds, with their one-line help (shown by ``fashion --help``)
COMMAND_MODULES: dict[str, dict[str, str]] = {
    "fashion_gui.cli.catalog": {"catalog": "build, import, inspect and export catalogs"},
    "fashion_gui.cli.train": {"train": "train a model on a workspace (`fashion train METHOD --help`: its options)",
                              "eval": "evaluate a trained model in its paper's terms"},
    "fashion_gui.cli.search": {"index": "build or update the search indexes of a workspace",
                               "search": "search the catalog with an image and edits, a text or a target category",
                               "path": "style-transition path between two items or to a category"},
    "fashion_gui.cli.doctor": {"doctor": "check a workspace: catalog, images, checkpoints, indexes, leftovers"},
    "fashion_gui.cli.bench": {"bench": "performance benchmarks (JSON out)"},
}


def _command_of(argv: list[str]) -> str | None:
    """The command named on the command line (its first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the module of the command it names is imported (every module when
    ``argv`` is None, as the tests and docs tools want the whole tree)."""
    parser = argparse.ArgumentParser(prog="fashion", description="Interactive fashion retrieval: command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _command_of(argv) if argv is not None else None
    for module, commands in COMMAND_MODULES.items():
        if argv is None or chosen in commands:
            importlib.import_module(module).register(sub)
        else:
            for name, help_text in commands.items():
                sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. The error boundary: an error a person can act on (the project's own, a read-only
    folder, a full disk, a symbolic-link loop...) is one message on stderr and exit status 2, never a
    traceback; only a bug shows its traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
