"""The app talks to training only through child processes and to methods only through the registry: nothing
under fashion_gui/ui imports the CLI or the trainers, and no UI code tests a method's name."""
import ast
import re
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "fashion_gui" / "ui"
FORBIDDEN = ("fashion_gui.cli", "fashion_gui.training")
# the review hook of issue 11: a comparison of a method, name or kind with a method's name
METHOD_TEST = re.compile(r"(method|name|kind)\s*(==|in)\s*[\(\[\{]?['\"](adde|grl|uigr|asen|modc|coop|tgr|vcr)")


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_ui_imports_neither_the_cli_nor_the_trainers():
    sources = sorted(UI.rglob("*.py"))
    assert len(sources) > 15
    offenders = [f"{p.relative_to(UI)}: {name}" for p in sources for name in sorted(_imported(p))
                 if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert offenders == []


def test_no_ui_code_tests_a_method_name():
    offenders = [f"{p.relative_to(UI)}:{n}: {line.strip()}" for p in sorted(UI.rglob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), start=1) if METHOD_TEST.search(line)]
    assert offenders == []
    assert METHOD_TEST.search('if spec.name == "adde":') and METHOD_TEST.search("if method in ('uigr-tirg',)")
