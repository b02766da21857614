"""``fashion bench threads`` times the real trainer's steps per thread count and load (issue 18)."""
import json

from fashion_gui.cli.bench_threads import seconds_per_step
from fashion_gui.cli.main import main


def test_seconds_per_step_times_the_trainers_steps(demo_workspace):
    s = seconds_per_step(demo_workspace, "adde", threads=1, steps=2, warmup=1)
    assert 0.0 < s < 30.0
    assert not list(demo_workspace.checkpoints.glob("adde*"))  # nothing is left in the workspace


def test_bench_threads_writes_figures_and_ratios(demo_workspace, tmp_path):
    out = tmp_path / "threads.json"
    assert main(["bench", "threads", "-w", str(demo_workspace.root), "--methods", "adde", "--threads", "1", "2",
                 "--loads", "0", "1", "--steps", "2", "--warmup", "1", "--repeats", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    fig = data["figures"]["adde"]
    assert set(fig) == {"load 0", "load 1"} and set(fig["load 1"]) == {"1 threads", "2 threads"}
    assert all(f["seconds_per_step"] > 0 for load in fig.values() for f in load.values())
    ratio = data["ratio_more_threads_over_fewer"]["adde"]["load 1"]
    assert ratio == round(fig["load 1"]["2 threads"]["seconds_per_step"] / fig["load 1"]["1 threads"]["seconds_per_step"], 3)
