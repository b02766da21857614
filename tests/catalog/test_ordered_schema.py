"""Ordered attribute types (cooperative embeddings' ordered proxies): declared in the schema with their
values in rank order, kept by the catalog, read from a CSV import's schema file."""
import json

import pytest
from PIL import Image

from fashion_gui.catalog.demo.schema import DEMO_SCHEMA
from fashion_gui.catalog.importers import CsvImportOptions, ImportProblems, import_csv
from fashion_gui.catalog.schema import AttributeSchema, AttributeType, SchemaError
from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace


def test_the_demo_declares_its_naturally_ordered_types():
    assert DEMO_SCHEMA.ordered_names == ["sleeve", "length", "fit", "heel"]
    assert DEMO_SCHEMA.type("sleeve").values == ("sleeveless", "short", "three-quarter", "long")
    assert DEMO_SCHEMA.type("heel").values == ("flat", "low", "high")
    data = DEMO_SCHEMA.to_dict()
    assert data["types"][DEMO_SCHEMA.type_index("length")]["ordered"] is True
    assert "ordered" not in data["types"][DEMO_SCHEMA.type_index("colour")]  # older schema dicts stay equal
    assert AttributeSchema.from_dict(data) == DEMO_SCHEMA
    with pytest.raises(SchemaError, match="ordered must be true or false"):
        AttributeType("size", ("s", "m"), ordered="yes")


def test_the_catalog_keeps_the_order(tmp_path):
    schema = AttributeSchema(("top",), (AttributeType("colour", ("red", "blue")),
                                        AttributeType("size", ("s", "m", "l"), ordered=True)))
    with Catalog.build(tmp_path / "catalog.sqlite", schema):
        pass
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.schema == schema and catalog.schema.ordered_names == ["size"]
    plain = AttributeSchema(("top",), (AttributeType("colour", ("red", "blue")),))
    with Catalog.build(tmp_path / "plain.sqlite", plain):
        pass
    with Catalog.open(tmp_path / "plain.sqlite") as catalog:
        assert catalog.schema.ordered_names == [] and catalog.get_meta("ordered_types") is None


def test_csv_import_takes_the_order_from_the_schema_file(tmp_path):
    (tmp_path / "img").mkdir()
    for name in "abc":
        Image.new("RGB", (16, 16), "red").save(tmp_path / "img" / f"{name}.jpg")
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("path,category,size\nimg/a.jpg,top,l\nimg/b.jpg,top,s\nimg/c.jpg,top,m\n")
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps({"categories": ["top"], "types": [
        {"name": "size", "values": ["s", "m", "l"], "ordered": True}]}))
    ws = Workspace(tmp_path / "ws")
    import_csv(ws, csv_path, CsvImportOptions(schema_path=schema_path))
    with Catalog.open(ws.catalog_path) as catalog:
        size = catalog.schema.type("size")
        assert size.ordered and size.values == ("s", "m", "l")  # the file's order, not sorted
    schema_path.write_text(json.dumps({"categories": ["top"], "types": [
        {"name": "size", "values": ["s", "m", "l"], "ordered": "yes"}]}))
    with pytest.raises(ImportProblems, match="ordered must be true or false"):
        import_csv(Workspace(tmp_path / "ws2"), csv_path, CsvImportOptions(schema_path=schema_path))
