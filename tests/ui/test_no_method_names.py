"""The app knows methods only through the registry: no UI code tests a method's name (issue 11's review hook;
that the UI imports neither the CLI nor the trainers is tests/test_layering.py's)."""
import re
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "fashion_gui" / "ui"
# the review hook of issue 11: a comparison of a method, name or kind with a method's name
METHOD_TEST = re.compile(r"(method|name|kind)\s*(==|in)\s*[\(\[\{]?['\"](adde|grl|uigr|asen|modc|coop|tgr|vcr)")


def test_no_ui_code_tests_a_method_name():
    offenders = [f"{p.relative_to(UI)}:{n}: {line.strip()}" for p in sorted(UI.rglob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), start=1) if METHOD_TEST.search(line)]
    assert offenders == []
    assert METHOD_TEST.search('if spec.name == "adde":') and METHOD_TEST.search("if method in ('uigr-tirg',)")
