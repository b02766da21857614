from fashion_gui.catalog.queries import manipulation_queries
from fashion_gui.catalog.schema import AttributeSchema, AttributeType
from fashion_gui.catalog.store import Catalog, ItemRecord

SCHEMA = AttributeSchema(
    categories=("top",),
    types=(AttributeType("colour", ("red", "blue", "green")), AttributeType("sleeve", ("short", "long"))),
)


def test_adde_protocol_keeps_only_queries_with_a_target_in_the_split(tmp_path):
    records = [
        ItemRecord("a", "top", "1", "test", {"colour": "red", "sleeve": "short"}),
        ItemRecord("b", "top", "2", "test", {"colour": "blue", "sleeve": "short"}),
        ItemRecord("c", "top", "3", "test", {"colour": "red", "sleeve": "long"}),
        ItemRecord("d", "top", "4", "test", {"colour": "green"}),
        ItemRecord("e", "top", "5", "train", {"colour": "green", "sleeve": "short"}),  # other split: no target
    ]
    with Catalog.build(tmp_path / "c.sqlite", SCHEMA) as cat:
        a, b, c, d, _ = cat.add_items(records)
        got = sorted((ref, tuple(sorted(e.items()))) for ref, e, _ in manipulation_queries(cat, "test"))
    assert got == sorted([
        (a, (("colour", "blue"),)), (a, (("sleeve", "long"),)),
        (b, (("colour", "red"),)),
        (c, (("sleeve", "short"),)),
    ])
