"""``fashion bench cooperative`` on the small demo: rows trained and evaluated, the JSON and the table."""
import json
import shutil

from fashion_gui.cli.main import main


def test_bench_cooperative_writes_runs_and_a_table(demo_workspace, tmp_path, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, ws)
    out = tmp_path / "coop.json"
    args = ["bench", "cooperative", "-w", str(ws), "--rows", "untrained", "(a) multitask", "--seeds", "0", "1",
            "--epochs", "1", "--image-size", "32", "--n", "8", "--json", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert [(r["row"], r["seed"]) for r in data["runs"]] == [("untrained", 0), ("untrained", 1),
                                                             ("(a) multitask", 0), ("(a) multitask", 1)]
    assert set(data["summary"]) == {"untrained", "(a) multitask"} and data["summary"]["untrained"]["seeds"] == 2
    assert "| (a) multitask | 2 |" in data["markdown"] and "instance R@1" in data["markdown"]
    assert "instance" in data["protocol"] and 0 <= data["runs"][0]["metrics"]["attribute mAP"] <= 1
    assert main(args) == 0  # resumed: every run is already in the file
    assert capsys.readouterr().out.count("already in") == 4
    assert json.loads(out.read_text())["protocol"] == data["protocol"]
