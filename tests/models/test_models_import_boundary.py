"""models/ passes a device instead of calling the tensors' cuda method (CONVENTIONS 11); what models/ may import is checked by
tests/test_layering.py."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def test_no_bare_cuda_calls():
    offenders = [
        f"{path.name}:{n}"
        for path in sorted(MODELS_DIR.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".cu" "da()" in line  # split so repository greps for the call do not flag this check
    ]
    assert not offenders, offenders
