import json

import pytest
from PIL import Image

from fashion_gui.catalog.demo.schema import DEMO_SCHEMA
from fashion_gui.catalog.importers import CsvImportOptions, ImportProblems, import_csv
from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "shop"
    (folder / "img").mkdir(parents=True)
    for name, colour in [("a", "red"), ("b", "blue"), ("c", "green"), ("d", "white")]:
        Image.new("RGB", (32, 40), colour).save(folder / "img" / f"{name}.jpg")
    (folder / "img" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def write_csv(folder, text):
    path = folder / "items.csv"
    path.write_text(text)
    return path


def test_import_infers_schema_and_splits(image_folder, tmp_path):
    csv_path = write_csv(image_folder, (
        "path,category,colour,sleeve,instance_id\n"
        "img/a.jpg,t-shirt,red,long,p1\n"
        "img/b.jpg,t-shirt,blue,,p1\n"
        "img/c.jpg,shoes,green,,p2\n"
        "img/d.jpg,shoes,red,,p3\n"
    ))
    ws = Workspace(tmp_path / "ws")
    counts = import_csv(ws, csv_path)
    assert counts["items"] == 4 and counts["instances"] == 3 and counts["categories"] == 2
    with Catalog.open(ws.catalog_path) as cat:
        assert cat.schema.categories == ("shoes", "t-shirt")
        assert cat.schema.type("colour").values == ("blue", "green", "red")
        assert cat.schema.type("sleeve").categories == ("t-shirt",)
        items = list(cat.items())
        assert items[1].attributes == {"colour": "blue"}
        assert items[0].split == items[1].split, "photos of one instance share a split"
        assert ws.resolve_image(items[0].image_path) == (image_folder / "img" / "a.jpg").resolve()


def test_missing_columns_name_the_header(image_folder, tmp_path):
    csv_path = write_csv(image_folder, "file,colour\nimg/a.jpg,red\n")
    with pytest.raises(ImportProblems, match="missing column\\(s\\) path, category; the header has: file, colour"):
        import_csv(Workspace(tmp_path / "ws"), csv_path)
    assert not (tmp_path / "ws" / "catalog.sqlite").exists()


def test_every_bad_row_is_named_and_nothing_is_written(image_folder, tmp_path):
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(DEMO_SCHEMA.to_dict()))
    csv_path = write_csv(image_folder, (
        "id,path,category,colour,pattern\n"
        "1,img/a.jpg,t-shirt,red,solid\n"
        "2,img/b.jpg,t-shirt,magenta,solid\n"      # unknown value
        "2,img/c.jpg,shoes,green,\n"              # duplicate id
        "4,img/broken.jpg,shoes,red,\n"           # unreadable image
        "5,img/missing.jpg,bag,red,\n"            # file not found
        "6,img/d.jpg,hat,white,\n"                # unknown category
    ))
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(ImportProblems) as info:
        import_csv(ws, csv_path, CsvImportOptions(schema_path=schema_path))
    message = str(info.value)
    assert "nothing was written" in message
    assert "row 3 (img/b.jpg): unknown value 'magenta' for attribute 'colour'" in message
    assert "row 3 (img/b.jpg): duplicate id 2" in message and "row 4 (img/c.jpg): duplicate id 2" in message
    assert "row 5 (img/broken.jpg): unreadable image" in message
    assert "row 6 (img/missing.jpg): image file not found" in message
    assert "row 7 (img/d.jpg): unknown category 'hat'" in message
    assert len(info.value.problems) == 6
    assert not ws.root.exists() or not any(ws.root.iterdir())


def test_failed_reimport_keeps_the_old_catalog(image_folder, tmp_path):
    good = write_csv(image_folder, "path,category,colour\nimg/a.jpg,top,red\n")
    ws = Workspace(tmp_path / "ws")
    import_csv(ws, good)
    bad = write_csv(image_folder, "path,category,colour\nimg/a.jpg,top,red\nimg/a.jpg,top,blue\n")
    with pytest.raises(ImportProblems, match="duplicate path"):
        import_csv(ws, bad, force=True)
    with Catalog.open(ws.catalog_path) as cat:
        assert len(cat) == 1
