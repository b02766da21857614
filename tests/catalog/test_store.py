import sqlite3

import numpy as np
import pytest

from fashion_gui.catalog.schema import MISSING, AttributeSchema, AttributeType, SchemaError
from fashion_gui.catalog.store import Catalog, CatalogError, ItemRecord

SCHEMA = AttributeSchema(
    categories=("top", "shoe"),
    types=(
        AttributeType("colour", ("red", "blue", "green")),
        AttributeType("sleeve", ("short", "long"), ("top",), "sleeves"),
    ),
)
RECORDS = [
    ItemRecord("images/a.jpg", "top", "i1", "train", {"colour": "red", "sleeve": "long"}),
    ItemRecord("images/b.jpg", "top", "i1", "train", {"colour": "red", "sleeve": "long"}),
    ItemRecord("images/c.jpg", "shoe", "i2", "test", {"colour": "blue"}),
    ItemRecord("images/d.jpg", "top", "i3", "test", {"colour": "green", "sleeve": "short"}),
    ItemRecord("images/e.jpg", "top", "i4", "val", {}),
]


@pytest.fixture
def catalog_path(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with Catalog.build(path, SCHEMA, name="tiny") as cat:
        ids = cat.add_items(RECORDS)
        cat.add_outfit([ids[0], ids[2]], split="train", style="casual")
        cat.add_feedback([(ids[0], ids[3], "change colour to green", "TGR", "test"),
                          (ids[0], ids[2], "search a shoe that matches this top best", "VCR", "train")])
        cat.add_manipulation_queries([(ids[3], {"colour": "red"}, "test")])
    return path


def test_round_trip(catalog_path):
    with Catalog.open(catalog_path) as cat:
        assert cat.schema == SCHEMA
        assert cat.name == "tiny"
        assert len(cat) == 5
        ids = cat.ids()
        item = cat.item(int(ids[2]))
        assert (item.image_path, item.category, item.instance_id, item.split) == ("images/c.jpg", "shoe", "i2", "test")
        assert item.attributes == {"colour": "blue"}
        assert cat.item(int(ids[4])).attributes == {}
        np.testing.assert_array_equal(cat.labels(ids), [[0, 1], [0, 1], [1, MISSING], [2, 0], [MISSING, MISSING]])
        np.testing.assert_array_equal(cat.one_hot(ids[2:4]), [[0, 1, 0, 0, 0], [0, 0, 1, 1, 0]])
        [outfit] = cat.outfits()
        assert outfit.item_ids == (ids[0], ids[2]) and outfit.style == "casual"
        assert [f.kind for f in cat.feedback()] == ["TGR", "VCR"]
        assert cat.feedback(kind="VCR")[0].text.startswith("search a shoe")
        [query] = cat.manipulation_queries("test")
        assert query.edits == {"colour": "red"} and query.target_label == (0, 0)
        counts = cat.counts()
        assert counts["items"] == 5 and counts["instances"] == 4 and counts["outfits"] == 1
        assert counts["splits"] == {"train": 2, "val": 1, "test": 2}
        assert cat.get_meta("missing", "x") == "x"


def test_filters(catalog_path):
    with Catalog.open(catalog_path) as cat:
        ids = cat.ids()
        assert cat.ids(split="test").tolist() == [ids[2], ids[3]]
        assert cat.ids(category="top", attributes={"colour": "red"}).tolist() == [ids[0], ids[1]]
        assert cat.ids(split="train", category="shoe").tolist() == []
        assert [i.id for i in cat.items(split="val")] == [ids[4]]
        with pytest.raises(SchemaError):
            cat.ids(attributes={"colour": "pink"})
        with pytest.raises(CatalogError, match="unknown split"):
            cat.ids(split="dev")
        with pytest.raises(CatalogError, match="no item with id 999"):
            cat.labels([999])


def test_writes_bump_catalog_version(catalog_path):
    with Catalog.open(catalog_path) as cat:
        before = cat.version
        cat.add_items([ItemRecord("images/f.jpg", "shoe", "i9", "train", {"colour": "red"})])
        assert cat.version == before + 1
        assert len(cat) == 6


def test_interrupted_build_leaves_nothing(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with pytest.raises(RuntimeError):
        with Catalog.build(path, SCHEMA) as cat:
            cat.add_items(RECORDS[:2])
            raise RuntimeError("crash in the middle of an import")
    assert list(tmp_path.iterdir()) == []


def test_failed_rebuild_keeps_previous_catalog(catalog_path):
    with pytest.raises(SchemaError):
        with Catalog.build(catalog_path, SCHEMA, overwrite=True) as cat:
            cat.add_items([ItemRecord("x.jpg", "top", "i", "train", {"colour": "pink"})])
    with Catalog.open(catalog_path) as cat:
        assert len(cat) == 5
    assert sorted(p.name for p in catalog_path.parent.iterdir()) == ["catalog.sqlite"]


def test_refuses_to_overwrite_without_flag(catalog_path):
    with pytest.raises(CatalogError, match="already exists"):
        with Catalog.build(catalog_path, SCHEMA):
            pass


def test_other_schema_version_is_refused(catalog_path):
    conn = sqlite3.connect(catalog_path)
    with conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(CatalogError, match="schema version 99, this program reads version 1"):
        Catalog.open(catalog_path)


def test_not_a_catalog(tmp_path):
    bogus = tmp_path / "catalog.sqlite"
    bogus.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CatalogError, match="not a fashion-gui catalog"):
        Catalog.open(bogus)
    with pytest.raises(CatalogError, match="fashion catalog demo"):
        Catalog.open(tmp_path / "nowhere" / "catalog.sqlite")


def test_edited_label_and_bad_feedback(catalog_path):
    with Catalog.open(catalog_path) as cat:
        ids = cat.ids()
        assert cat.edited_label(int(ids[2]), {"sleeve": "short"}).tolist() == [1, 0]
        with pytest.raises(CatalogError, match="TGR or VCR"):
            cat.add_feedback([(ids[0], ids[1], "x", "XYZ", "train")])
