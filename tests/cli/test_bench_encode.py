"""``fashion bench encode`` and the gallery's decoding workers (issue 16)."""
import json

import numpy as np

from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.main import main
from fashion_gui.engine.gallery import image_batches


def test_bench_encode_reports_model_only_and_end_to_end_rates(demo_workspace, tmp_path):
    out = tmp_path / "encode.json"
    assert main(["bench", "encode", "-w", str(demo_workspace.root), "--backbone", "compact", "--size", "32",
                 "--batch", "4", "--batches", "2", "--repeats", "1", "--workers", "0", "1", "--device", "cpu",
                 "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert set(figures["model_only"]) == {"float32", "bfloat16"} and all(v > 0 for v in figures["model_only"].values())
    assert set(figures["end_to_end"]) == {"float32, 0 decoding workers", "bfloat16, 0 decoding workers",
                                          "float32, 1 decoding worker", "bfloat16, 1 decoding worker"}
    assert "anchors_images_per_second" not in figures  # only for ResNet18 at 224 px


def test_decoding_workers_give_the_same_batches_in_order(demo_workspace, tmp_path):
    with Catalog.open(demo_workspace.catalog_path) as catalog:
        ids = catalog.ids()[:23]
        here = list(image_batches(demo_workspace, catalog, ids, 32, 5, workers=0))
        there = list(image_batches(demo_workspace, catalog, ids, 32, 5, workers=2))
    assert len(here) == len(there) == 5
    for (a_ids, a_img, a_bad), (b_ids, b_img, b_bad) in zip(here, there):
        np.testing.assert_array_equal(np.asarray(a_ids), np.asarray(b_ids))
        assert np.array_equal(a_img.numpy(), b_img.numpy()) and a_bad == b_bad
    assert np.concatenate([np.asarray(b[0]) for b in there]).tolist() == ids.tolist()
