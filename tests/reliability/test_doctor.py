"""``fashion doctor``: a sound workspace passes; a damaged one gets every problem with the command that fixes
it (text and JSON), exit status 1; ``--fix`` removes leftovers."""
from __future__ import annotations

import contextlib
import io
import json

from fashion_gui.cli.main import main


def doctor(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = main(["doctor", *args])
    return rc, out.getvalue()


def test_a_sound_workspace_has_no_problems(ws):
    rc, out = doctor("--workspace", str(ws.root))
    assert rc == 0 and "no problems found" in out and "60 images" in out and "1 checkpoints" in out


def test_every_problem_is_listed_with_its_fix(ws):
    (ws.checkpoints / "adde" / "metrics.json").write_text("{broken")
    images = sorted(ws.images.rglob("*.jpg"))
    images[0].write_bytes(b"")  # an unreadable catalog image
    images[1].write_bytes(images[1].read_bytes()[:100])  # a truncated one
    data = next((ws.indexes / "adde" / "full").glob("data-*"))
    for f in data.iterdir():
        f.unlink()  # an index whose files are gone
    (ws.indexes / "adde" / "subspaces" / "data-0123456789ab").mkdir()  # debris of a killed build
    rc, out = doctor("--workspace", str(ws.root), "--json")
    report = json.loads(out)
    assert rc == 1 and not report["ok"]
    problems = {(p["area"], p["severity"]): p for p in report["problems"]}
    assert problems[("images", "error")]["fix"] == f"fashion catalog demo --workspace {ws.root} --force"
    assert "metrics.json" in problems[("checkpoints", "warning")]["message"]
    assert problems[("indexes", "error")]["fix"] == f"fashion index build --workspace {ws.root}"
    assert problems[("leftovers", "warning")]["fix"] == f"fashion doctor --workspace {ws.root} --fix"
    assert sum(p["area"] == "images" for p in report["problems"]) == 2
    rc, text = doctor("--workspace", str(ws.root))
    assert rc == 1 and "fix: fashion index build" in text and "ERROR" in text
    rc, text = doctor("--workspace", str(ws.root), "--fix", "--json")
    assert not any(p["area"] == "leftovers" for p in json.loads(text)["problems"])
    assert any("data-0123456789ab" in line for line in json.loads(text)["fixed"])


def test_a_mismatched_checkpoint_and_a_missing_catalog(ws, tmp_path):
    weights = ws.checkpoints / "adde" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10])  # no longer the file config.json records
    rc, out = doctor("--workspace", str(ws.root), "--quick", "--json")
    problem = next(p for p in json.loads(out)["problems"] if p["area"] == "checkpoints")
    assert rc == 1 and "does not match" in problem["message"] and problem["fix"].startswith("fashion train adde")
    rc, out = doctor("--workspace", str(tmp_path / "empty"), "--json")
    assert rc == 1 and json.loads(out)["problems"][0]["fix"].startswith("fashion catalog demo")
