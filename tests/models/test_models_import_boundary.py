"""models/ may import only torch, torchvision, numpy, the standard library and itself (DESIGN.md)."""

import ast
import sys
from pathlib import Path

ALLOWED = {"torch", "torchvision", "numpy", "models"} | set(sys.stdlib_module_names)
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def test_models_imports_only_allowed_packages():
    offenders = []
    for path in sorted(MODELS_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in ALLOWED:
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert not offenders, "; ".join(offenders)


def test_no_bare_cuda_calls():
    offenders = [
        f"{path.name}:{n}"
        for path in sorted(MODELS_DIR.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".cu" "da()" in line  # split so repository greps for the call do not flag this check
    ]
    assert not offenders, offenders
