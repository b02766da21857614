import numpy as np
import pytest

from fashion_gui.catalog.schema import MISSING, AttributeSchema, AttributeType, SchemaError

SCHEMA = AttributeSchema(
    categories=("top", "shoe"),
    types=(
        AttributeType("colour", ("red", "blue", "green")),
        AttributeType("sleeve", ("short", "long"), ("top",)),
    ),
)


def test_offsets_and_sizes():
    assert SCHEMA.sizes == [3, 2]
    assert SCHEMA.offsets == [0, 3]
    assert SCHEMA.total_values == 5


def test_one_hot_missing_is_zero_block_and_round_trips():
    labels = np.array([[1, 0], [2, MISSING]])
    blocks = SCHEMA.one_hot(labels)
    np.testing.assert_array_equal(blocks, [[0, 1, 0, 1, 0], [0, 0, 1, 0, 0]])
    np.testing.assert_array_equal(SCHEMA.from_one_hot(blocks), labels)


def test_encode_decode():
    idx = SCHEMA.encode({"sleeve": "long"})
    assert idx.tolist() == [MISSING, 1]
    assert SCHEMA.decode(idx) == {"sleeve": "long"}


def test_unknown_names_are_actionable():
    with pytest.raises(SchemaError, match="unknown value 'pink' for attribute 'colour'; known values: red, blue"):
        SCHEMA.encode({"colour": "pink"})
    with pytest.raises(SchemaError, match="unknown attribute type 'size'"):
        SCHEMA.type("size")
    with pytest.raises(SchemaError, match="unknown categories"):
        AttributeSchema(("a",), (AttributeType("x", ("1",), ("b",)),))


def test_applies_to_and_dict_round_trip():
    assert SCHEMA.type("sleeve").applies_to("top") and not SCHEMA.type("sleeve").applies_to("shoe")
    assert SCHEMA.type("colour").applies_to("shoe")
    assert AttributeSchema.from_dict(SCHEMA.to_dict()) == SCHEMA
