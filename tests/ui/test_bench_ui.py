"""`fashion bench ui` runs end to end on a small real workspace and reports sane figures (no timing bounds:
speed targets belong to the benchmark's printed figures, not to tests)."""
import json
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fashion_gui.cli.main import main  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


def test_bench_ui_measures_clicks_and_a_cold_start(qtbot, trained_workspace, tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(trained_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    out = tmp_path / "ui.json"
    assert main(["bench", "ui", "-w", str(ws.root), "--clicks", "6", "--k", "12", "--cold-runs", "1",
                 "--device", "cpu", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["python_reference_loop_ms"] > 0
    assert figures["clicks"] == 6 and figures["gallery_items"] == 600 and figures["qpa_platform"] == "offscreen"
    clicks = figures["click_to_results_painted_ms"]
    assert 0 < clicks["p50"] <= clicks["p95"] <= clicks["max"]
    assert figures["click_to_thumbnails_painted_ms"]["p50"] >= clicks["p50"]
    cold = figures["cold_start"]
    assert cold["runs"] == 1
    inside = cold["after_imports"]
    assert 0 < inside["window_shown_s"] <= inside["engine_open_s"] <= inside["usable_s"]
    assert cold["process_start_to_usable_s"]["p50"] > inside["usable_s"]
    assert inside["window_shown_s"] < cold["process_start_to_window_s"]["p50"] < cold["process_start_to_usable_s"]["p50"]
    cli = figures["cli_start"]
    assert set(cli) == {"fashion --help", "fashion catalog info"} and all(c["p50_s"] > 0 for c in cli.values())
    assert json.loads(capsys.readouterr().out)["benchmark"] == "ui"
