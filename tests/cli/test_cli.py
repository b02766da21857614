import json

from fashion_gui.cli.main import main


def test_catalog_info_json(demo_workspace, capsys):
    assert main(["catalog", "info", "--workspace", str(demo_workspace.root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in ("items", "categories", "attribute_types", "attribute_values", "instances", "outfits",
                "manipulation_queries", "feedback_triplets", "splits"):
        assert key in info
    assert info["items"] == 300 and info["categories"] == 10 and sum(info["splits"].values()) == 300


def test_catalog_info_text(demo_workspace, capsys):
    assert main(["catalog", "info", "-w", str(demo_workspace.root)]) == 0
    out = capsys.readouterr().out
    assert "colour (14: black, white" in out and "[shoes]" in out


def test_demo_command_and_user_errors(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["catalog", "demo", "-w", str(ws), "--items", "60", "--size", "48", "--workers", "1",
                 "--quiet"]) == 0
    assert "demo catalog: 60 images of 20 products" in capsys.readouterr().out
    assert main(["catalog", "demo", "-w", str(ws), "--items", "60", "--quiet"]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert main(["catalog", "info", "-w", str(tmp_path / "empty")]) == 2
    assert "no catalog at" in capsys.readouterr().err


def test_import_error_exit_code(tmp_path, capsys):
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("file,colour\nx.jpg,red\n")
    assert main(["catalog", "import", str(csv_path), "-w", str(tmp_path / "ws")]) == 2
    assert "missing column(s) path, category" in capsys.readouterr().err


def test_export_adde(demo_workspace, tmp_path, capsys):
    out = tmp_path / "adde"
    assert main(["catalog", "export", "--format", "adde", "-w", str(demo_workspace.root), "--out", str(out)]) == 0
    import numpy as np

    from fashion_gui.catalog.store import Catalog

    attr_num = np.loadtxt(out / "attr_num.txt", dtype=int)
    with Catalog.open(demo_workspace.catalog_path) as cat:
        assert attr_num.tolist() == cat.schema.sizes
        for split in ("train", "val", "test"):
            labels = np.loadtxt(out / f"labels_{split}.txt", dtype=int)
            np.testing.assert_array_equal(cat.schema.from_one_hot(labels), cat.labels(cat.ids(split=split)))
            assert len((out / f"imgs_{split}.txt").read_text().splitlines()) == len(labels)
        test_labels = np.loadtxt(out / "labels_test.txt", dtype=int)
        refs = np.loadtxt(out / "ref_test.txt", dtype=int)
        inds = np.loadtxt(out / "indfull_test.txt", dtype=int)
        gts = np.loadtxt(out / "gt_test.txt", dtype=int)
        assert len(refs) == len(inds) == len(gts) == len(cat.manipulation_queries("test"))
        # ADDE's arithmetic: target one-hot = reference one-hot + indicator
        np.testing.assert_array_equal(test_labels[refs] + inds, gts)
        train_labels = np.loadtxt(out / "labels_train.txt", dtype=int)
        triplets = np.loadtxt(out / "triplet_train.txt", dtype=int).reshape(-1, 3)
        tind = np.loadtxt(out / "triplet_train_ind.txt", dtype=int).reshape(len(triplets), -1)
        assert len(triplets) > 0
        np.testing.assert_array_equal(train_labels[triplets[:, 0]] + tind, train_labels[triplets[:, 1]])
        assert all((train_labels[n] != train_labels[p]).any() for _, p, n in triplets)


def test_entry_points_answer_help():
    import subprocess
    import sys

    for module in ("fashion_gui", "fashion_gui.cli.main"):
        out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                             env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
        assert out.returncode == 0, out.stderr
        assert "--workspace" in out.stdout or "catalog" in out.stdout
