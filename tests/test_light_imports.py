"""Start-up stays light (issue 16): the app's window, ``fashion --help`` and ``fashion catalog info`` do not
import torch; the command list of ``fashion --help`` is the full parser's."""
import argparse
import subprocess
import sys

import pytest

from fashion_gui.cli.main import COMMAND_MODULES, build_parser

LIGHT = {
    "the app's start-up (window, settings, worker client)": "import fashion_gui.ui.startup",
    "the method registry": "import fashion_gui.methods; fashion_gui.methods.list_methods()",
    "the engine package and its config": "from fashion_gui.engine import EngineConfig, Manipulate; EngineConfig()",
    "fashion --help's parser": "from fashion_gui.cli.main import build_parser; build_parser(['--help'])",
    "fashion catalog info's parser": "from fashion_gui.cli.main import build_parser; build_parser(['catalog', 'info'])",
    "the models package": "import models; models.__all__",
}


@pytest.mark.parametrize("code", LIGHT.values(), ids=LIGHT.keys())
def test_does_not_import_torch(code):
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print('torch' in sys.modules)"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False", f"{code!r} imported torch"


def _commands(parser: argparse.ArgumentParser) -> dict[str, str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help for c in sub._choices_actions}


def test_the_short_command_list_is_the_full_parsers():
    full = _commands(build_parser())
    short = _commands(build_parser(["--help"]))
    assert short == full
    assert set(full) == {name for commands in COMMAND_MODULES.values() for name in commands}


def test_a_named_command_gets_its_full_parser():
    args = build_parser(["catalog", "info", "-w", "/tmp/x"]).parse_args(["catalog", "info", "-w", "/tmp/x"])
    assert args.command == "catalog" and callable(args.func)
