"""DESIGN.md layering: Qt (PySide6, qtawesome) only under fashion_gui/ui/; models/ imports only torch,
torchvision, numpy and the standard library."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = {"PySide6", "PyQt5", "PyQt6", "shiboken6", "qtawesome", "qtpy"}
MODELS_ALLOWED = {"torch", "torchvision", "numpy", "models", "__future__"} | set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _sources(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py"))]


def _is_ui(path: Path) -> bool:
    return path.relative_to(ROOT).parts[:2] == ("fashion_gui", "ui")


def test_qt_is_imported_only_under_fashion_gui_ui():
    sources = _sources("fashion_gui", "models")
    assert len(sources) > 10
    offenders = [f"{p.relative_to(ROOT)} imports {sorted(_imports(p) & QT_MODULES)}"
                 for p in sources if not _is_ui(p) and _imports(p) & QT_MODULES]
    assert offenders == []


def test_models_import_only_torch_numpy_and_stdlib():
    offenders = [f"{p.relative_to(ROOT)} imports {sorted(_imports(p) - MODELS_ALLOWED)}"
                 for p in _sources("models") if _imports(p) - MODELS_ALLOWED]
    assert offenders == []


def test_importing_every_qt_free_module_loads_no_qt():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in _sources("fashion_gui", "models")
        if not _is_ui(p) and p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(QT_MODULES)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
