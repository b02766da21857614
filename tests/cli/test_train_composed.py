"""``fashion train`` / ``fashion eval`` for the composed-retrieval methods: JSON progress, protocol in the
report, flags that do not apply are refused."""
import json
import shutil

import pytest
import torch

from fashion_gui.cli.main import main
from fashion_gui.methods import list_methods

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


def test_registry_lists_the_composed_methods_by_what_they_serve():
    assert set(list_methods(serves="compatible")) == {"uigr-tirg", "uigr-rtic", "vcr-only", "adde-o"}
    assert set(list_methods(serves="text")) == {"uigr-tirg", "uigr-rtic", "tgr-only"}
    assert "adde" in list_methods(encoder=True) and "uigr-tirg" not in list_methods(encoder=True)


def test_train_progress_json_then_eval_states_the_protocol(cli_ws, capsys, tmp_path):
    assert main(["train", "tgr-only", "-w", str(cli_ws), "--epochs", "2", "--compositor", "rtic",
                 "--progress-json", *SMALL]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    events = [json.loads(line) for line in lines]  # every stdout line is one JSON event
    assert [e["kind"] for e in events[:2]] == ["plan", "start"] and events[-1]["kind"] == "done"
    assert events[0]["plan"] == [{"name": "composed", "title": "composed retrieval", "epochs": 2}]
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


def _usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_flags_that_do_not_apply_are_refused(cli_ws, capsys, tmp_path):
    # each method offers only its own options: another method's flag, or a value its entry fixes, is unknown
    assert "unrecognized arguments: --compositor rtic" in _usage_error(
        ["train", "adde", "-w", str(cli_ws), "--compositor", "rtic"], capsys)
    assert "unrecognized arguments: --compositor rtic" in _usage_error(
        ["train", "uigr-tirg", "-w", str(cli_ws), "--compositor", "rtic", *SMALL], capsys)
    assert "unrecognized arguments: --preset" in _usage_error(["train", "adde-o", "-w", str(cli_ws), "--preset", "paper"],
                                                             capsys)
    assert "invalid choice: 'lstm'" in _usage_error(["train", "tgr-only", "-w", str(cli_ws), "--compositor", "lstm"],
                                                    capsys)
    assert main(["train", "adde-o", "-w", str(cli_ws), "--adde-checkpoint", "missing"]) == 2
    assert "ADDE-O needs a trained ADDE model" in capsys.readouterr().err
    # a --config file: unknown keys, fixed values, bad types and bad JSON are one clear line each
    bad = tmp_path / "run.json"
    for content, message in (('{"epochs": 2, "colour": 1}', "unknown option(s) colour in --config"),
                             ('{"compositor": "rtic"}', "compositor in --config"),
                             ('{"epochs": "many"}', "epochs in --config"),
                             ('[1, 2]', "must hold a JSON object"),
                             ('{"epochs": 2', "is not a readable JSON file")):
        bad.write_text(content)
        assert main(["train", "uigr-tirg", "-w", str(cli_ws), "--config", str(bad)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_preset_config_file_and_flags_combine_in_that_order(tmp_path):
    from fashion_gui.cli.main import build_parser
    from fashion_gui.cli.train import train_config
    from fashion_gui.methods import get_method

    args = build_parser().parse_args(["train", "uigr-rtic", "-w", str(tmp_path), "--preset", "paper"])
    config = train_config(get_method("uigr-rtic"), args)
    assert (config.embed_dim, config.word_dim, config.text_hidden) == (512, 512, 1024)
    assert config.compositor == "rtic" and config.tasks == ("tgr", "vcr")
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"embed_dim": 64, "epochs": 3, "lr_milestones": [1, 2], "train_backbone": True}))
    args = build_parser().parse_args(["train", "vcr-only", "-w", str(tmp_path), "--preset", "paper", "--config",
                                      str(run), "--epochs", "5", "--no-train-backbone"])
    config = train_config(get_method("vcr-only"), args)
    assert (config.embed_dim, config.text_hidden, config.compositor) == (64, 1024, "tirg")
    assert (config.epochs, config.lr_milestones, config.train_backbone, config.tasks) == (5, (1, 2), False, ("vcr",))
