"""DESIGN.md layering, stated once: which first-party packages each layer may import (dependencies point
down only), that Qt lives only under fashion_gui/ui/, and that models/ imports only torch, torchvision,
numpy and the standard library. Imports inside functions count too (a lazy import is still an import)."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = {"PySide6", "PyQt5", "PyQt6", "shiboken6", "qtawesome", "qtpy"}
MODELS_ALLOWED = {"torch", "torchvision", "numpy", "models", "__future__"} | set(sys.stdlib_module_names)

# layer -> the first-party layers it may import (besides itself). Top: the entry points (cli, ui); bottom:
# the plain modules and models/. The engine never imports a trainer; the UI starts training and the CLI as
# child processes, so it imports neither; nothing below the UI imports it.
BASE = {"fashion_gui.atomic", "fashion_gui.workspace", "fashion_gui.locks"}
LAYERS: dict[str, set[str]] = {
    "models": set(),
    "fashion_gui": set(),
    "fashion_gui.atomic": set(),
    "fashion_gui.workspace": {"fashion_gui.atomic"},
    "fashion_gui.locks": {"fashion_gui.atomic"},
    "fashion_gui.catalog": BASE,
    "fashion_gui.evaluation": BASE,
    "fashion_gui.index": BASE,
    "fashion_gui.methods": BASE | {"models"},
    "fashion_gui.inference": BASE | {"fashion_gui.catalog", "fashion_gui.methods", "models"},
    "fashion_gui.training": BASE | {"fashion_gui.catalog", "fashion_gui.evaluation", "fashion_gui.methods",
                                    "fashion_gui.inference", "models"},
    "fashion_gui.engine": BASE | {"fashion_gui.catalog", "fashion_gui.index", "fashion_gui.methods",
                                  "fashion_gui.inference", "models"},
    "fashion_gui.workspace_checks": BASE | {"fashion_gui.catalog", "fashion_gui.engine", "fashion_gui.inference",
                                            "fashion_gui.methods", "fashion_gui.workspace_doctor"},  # the app's Qt-free workspace checks
    "fashion_gui.ui": BASE | {"fashion_gui.catalog", "fashion_gui.index", "fashion_gui.methods",
                              "fashion_gui.inference", "fashion_gui.engine", "fashion_gui.evaluation",
                              "fashion_gui.errors", "fashion_gui.workspace_doctor",
                              "fashion_gui.workspace_checks"},
    # Qt-free workspace services that the app and the CLI share (checks, the doctor, user-facing errors)
    "fashion_gui.workspace_doctor": BASE | {"fashion_gui.catalog", "fashion_gui.index", "fashion_gui.inference"},
    "fashion_gui.errors": BASE | {"fashion_gui.catalog", "fashion_gui.index", "fashion_gui.inference",
                                  "fashion_gui.engine"},
    "fashion_gui.cli": BASE | {"fashion_gui.catalog", "fashion_gui.evaluation", "fashion_gui.index",
                               "fashion_gui.methods", "fashion_gui.inference", "fashion_gui.training",
                               "fashion_gui.engine", "fashion_gui.ui", "models", "fashion_gui.errors",
                               "fashion_gui.workspace_doctor", "fashion_gui.reliability"},
    "fashion_gui.__main__": {"fashion_gui.ui"},
    # the reliability harness drives the CLI in-process (``fashion bench reliability`` runs it): the CLI's layer
    "fashion_gui.reliability": BASE | {"fashion_gui.catalog", "fashion_gui.index", "fashion_gui.inference",
                                       "fashion_gui.engine", "fashion_gui.errors", "fashion_gui.workspace_doctor",
                                       "fashion_gui.cli", "models"},
}


def _imports(path: Path) -> set[str]:
    """Every absolute module imported anywhere in the file (top level or inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _layer(module: str) -> str | None:
    """The longest LAYERS key that ``module`` is or lies under."""
    found = [k for k in LAYERS if module == k or module.startswith(k + ".")]
    return max(found, key=len) if found else None


def _sources(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py"))]


def test_every_first_party_module_belongs_to_a_layer():
    unplaced = [_module(p) for p in _sources("fashion_gui", "models") if _layer(_module(p)) is None]
    assert unplaced == [], "add the new module's layer to LAYERS"


def test_imports_point_down_only():
    offenders = []
    for path in _sources("fashion_gui", "models"):
        layer = _layer(_module(path))
        for name in _imports(path):
            target = _layer(name)
            if target not in (None, layer, "fashion_gui") and target not in LAYERS[layer]:
                offenders.append(f"{path.relative_to(ROOT)} ({layer}) imports {name} ({target})")
    assert offenders == []


def test_qt_only_under_ui_and_models_only_torch_numpy_stdlib():
    offenders = []
    for path in _sources("fashion_gui", "models"):
        layer = _layer(_module(path))
        top = {n.split(".")[0] for n in _imports(path)}
        if layer != "fashion_gui.ui" and top & QT_MODULES:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(top & QT_MODULES)}")
        if layer == "models" and top - MODELS_ALLOWED:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(top - MODELS_ALLOWED)}")
    assert offenders == []


def test_the_layer_rules_can_fail(tmp_path):
    """The checker itself: an engine module importing a trainer, and a UI module importing the CLI, are caught."""
    assert "fashion_gui.training" not in LAYERS["fashion_gui.engine"]
    assert "fashion_gui.cli" not in LAYERS["fashion_gui.ui"] and "fashion_gui.training" not in LAYERS["fashion_gui.ui"]
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from fashion_gui.training.adde import ADDETrainer\n")
    assert "fashion_gui.training.adde" in _imports(bad)
    assert _layer("fashion_gui.training.adde") == "fashion_gui.training"


def test_importing_every_qt_free_module_loads_no_qt():
    modules = sorted(_module(p) for p in _sources("fashion_gui", "models")
                     if _layer(_module(p)) != "fashion_gui.ui" and p.name != "__main__.py")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(QT_MODULES)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
