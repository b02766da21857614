"""``fashion train`` / ``fashion eval`` for the composed-retrieval methods: JSON progress, protocol in the
report, flags that do not apply are refused."""
import json
import shutil

import pytest
import torch

from fashion_gui.cli.main import main
from fashion_gui.training.registry import list_methods

SMALL = ["--backbone-init", "none", "--image-size", "48", "--embed-dim", "32", "--word-dim", "16",
         "--text-hidden", "32", "--device", "cpu"]


@pytest.fixture(scope="module")
def cli_ws(demo_workspace, tmp_path_factory):
    """A copy of the session demo (the shared one must not be modified); one torch thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cli_ws") / "ws"
    shutil.copytree(demo_workspace.root, root)
    yield root
    torch.set_num_threads(previous)


def test_registry_lists_the_composed_methods():
    assert {"uigr-tirg", "uigr-rtic", "tgr-only", "vcr-only", "adde-o"} <= set(list_methods("composed"))
    assert "adde" in list_methods("attributes") and "uigr-tirg" not in list_methods("attributes")


def test_train_progress_json_then_eval_states_the_protocol(cli_ws, capsys, tmp_path):
    assert main(["train", "tgr-only", "-w", str(cli_ws), "--epochs", "2", "--compositor", "rtic",
                 "--progress-json", *SMALL]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    events = [json.loads(line) for line in lines]  # every stdout line is one JSON event
    assert events[0]["kind"] == "start" and events[-1]["kind"] == "done"
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [1, 2]
    assert all(e["stage"] == "composed" for e in events if e["kind"] in ("step", "epoch"))
    ckpt = cli_ws / "checkpoints" / "tgr-only-rtic"
    assert events[-1]["path"] == str(ckpt) and (ckpt / "weights.pt").is_file()

    out = tmp_path / "report.json"
    assert main(["eval", "tgr-only-rtic", "-w", str(cli_ws), "--json", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "UIGR protocol: source image kept in the gallery" in printed and "TGR R@10" in printed
    report = json.loads(out.read_text())
    assert report["protocol"]["source_in_gallery"] is True and report["protocol"]["targets_per_query"] == 1
    assert set(report["metrics"]) == {"tgr"} and {"R@10", "R@50", "mAP@50"} <= set(report["metrics"]["tgr"])

    assert main(["eval", "tgr-only-rtic", "-w", str(cli_ws), "--json", str(out), "--exclude-reference",
                 "--device", "cpu"]) == 0
    assert "source image removed from the gallery" in capsys.readouterr().out
    removed = json.loads(out.read_text())
    assert removed["protocol"]["source_in_gallery"] is False
    # removing the source can only move the target up: R@50 never drops
    assert removed["metrics"]["tgr"]["R@50"] >= report["metrics"]["tgr"]["R@50"]


def test_flags_that_do_not_apply_are_refused(cli_ws, capsys):
    assert main(["train", "adde", "-w", str(cli_ws), "--compositor", "rtic"]) == 2
    assert "--compositor do(es) not apply to method adde" in capsys.readouterr().err
    assert main(["train", "uigr-tirg", "-w", str(cli_ws), "--compositor", "rtic", *SMALL]) == 2
    assert "train uigr-rtic" in capsys.readouterr().err
    assert main(["train", "adde-o", "-w", str(cli_ws), "--paper-sizes"]) == 2
    assert "--paper-sizes" in capsys.readouterr().err
    assert main(["train", "adde-o", "-w", str(cli_ws), "--adde-checkpoint", "missing"]) == 2
    assert "ADDE-O needs a trained ADDE model" in capsys.readouterr().err


def test_paper_sizes_give_the_uigr_paper_dimensions(tmp_path):
    from fashion_gui.cli.main import build_parser
    from fashion_gui.cli.train import train_config
    from fashion_gui.training.registry import get_method

    args = build_parser().parse_args(["train", "uigr-rtic", "-w", str(tmp_path), "--paper-sizes"])
    config = train_config(get_method("uigr-rtic"), args)
    assert (config.embed_dim, config.word_dim, config.text_hidden) == (512, 512, 1024)
    assert config.compositor == "rtic" and config.tasks == ("tgr", "vcr")
    args = build_parser().parse_args(["train", "vcr-only", "-w", str(tmp_path), "--paper-sizes", "--embed-dim", "128"])
    config = train_config(get_method("vcr-only"), args)
    assert (config.embed_dim, config.text_hidden, config.compositor) == (128, 1024, "tirg")
