"""The DeepFashion In-Shop importer on fixture files shaped like the real ones (tests/catalog/fixtures/inshop:
list_eval_partition.txt, list_bbox_inshop.txt, list_attr_cloth.txt, list_attr_items.txt); the images are
drawn here (40 x 48 px) at the paths the partition lists."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_gui.catalog.importers import ImportProblems
from fashion_gui.catalog.inshop import InShopOptions, import_inshop, read_inshop
from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace

FIXTURE = Path(__file__).parent / "fixtures" / "inshop"


def _rows(name: str) -> list[list[str]]:
    return [line.split() for line in (FIXTURE / name).read_text().splitlines()[2:] if line.strip()]


@pytest.fixture
def inshop(tmp_path) -> Path:
    root = tmp_path / "inshop"
    shutil.copytree(FIXTURE, root)
    for i, (name, *_) in enumerate(_rows("Eval/list_eval_partition.txt")):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((48, 40, 3), 20 * i, np.uint8)).save(path)
    return root


def test_the_fixture_round_trips_through_the_catalog(inshop, tmp_path):
    ws = Workspace(tmp_path / "ws")
    counts = import_inshop(ws, inshop, InShopOptions(val_fraction=0.0))
    partition = _rows("Eval/list_eval_partition.txt")
    boxes = {r[0]: tuple(int(v) for v in r[3:7]) for r in _rows("Anno/list_bbox_inshop.txt")}
    assert counts["items"] == len(partition) and counts["instances"] == 4
    with Catalog.open(ws.catalog_path) as catalog:
        assert catalog.schema.categories == ("Dresses", "Denim", "Blouses_Shirts")
        assert catalog.schema.names == ["gender", "texture", "fabric", "shape"]
        assert catalog.schema.type("shape").values == ("maxi length", "sleeveless")
        items = {item.source: item for item in catalog.items()}
        for name, item_id, status in partition:
            item = items[name]
            assert (item.instance_id, item.split, item.category) == (item_id, status, Path(name).parts[2])
            x1, y1, x2, y2 = boxes[name]
            with Image.open(ws.resolve_image(item.image_path)) as crop:  # cropped to the box (clamped)
                assert crop.size == (min(x2, 40) - x1, min(y2, 48) - y1)
        dress = next(i for i in catalog.items() if i.instance_id == "id_00000002")
        assert catalog.schema.decode(catalog.labels([dress.id])[0]) == {
            "gender": "WOMEN", "texture": "floral", "fabric": "chiffon", "shape": "maxi length"}
        jeans = next(i for i in catalog.items() if i.instance_id == "id_00000080")
        assert catalog.schema.decode(catalog.labels([jeans.id])[0]) == {"gender": "MEN", "fabric": "denim"}


def test_a_validation_split_is_carved_from_training_items(inshop, tmp_path):
    _, records, _ = read_inshop(inshop, InShopOptions(val_fraction=1.0))
    assert {r.split for r in records} == {"val", "query", "gallery"}  # every training item became val
    _, records, _ = read_inshop(inshop, InShopOptions(crop=False))
    assert all(Path(r.image_path).is_absolute() for r in records)


def test_bad_lines_are_all_named(inshop):
    part = inshop / "Eval" / "list_eval_partition.txt"
    lines = part.read_text().splitlines()
    lines[3] = lines[3].replace("train", "training")
    lines[4] = "img/WOMEN/Dresses/id_00000002/02_2_side.jpg id_00000002"
    part.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportProblems) as err:
        read_inshop(inshop)
    text = str(err.value)
    assert "line 4: evaluation_status 'training'" in text and "line 5: expected at least 3 fields" in text
    (inshop / "Anno" / "list_bbox_inshop.txt").unlink()
    with pytest.raises(FileNotFoundError, match="list_bbox_inshop.txt"):
        read_inshop(inshop)


def test_fashion_catalog_import_inshop(inshop, tmp_path, capsys):
    from fashion_gui.cli.main import main

    ws = tmp_path / "ws"
    assert main(["catalog", "import", "--format", "inshop", "--workspace", str(ws), str(inshop)]) == 0
    assert "imported 10 In-Shop images of 4 items in 3 categories" in capsys.readouterr().out
    with Catalog.open(Workspace(ws).catalog_path) as catalog:
        assert set(catalog.counts()["splits"]) <= {"train", "val", "query", "gallery"}
