"""Which attribute values a feedback text asks for (the chips of text results)."""
from fashion_gui.catalog.demo.schema import DEMO_SCHEMA
from fashion_gui.engine.text import mentioned_values


def test_values_named_in_feedback_texts():
    assert mentioned_values(DEMO_SCHEMA, "change colour to red and has long sleeves") == {"colour": "red",
                                                                                        "sleeve": "long"}
    assert mentioned_values(DEMO_SCHEMA, "Is RED, with a three-quarter sleeve!") == {"colour": "red",
                                                                                   "sleeve": "three-quarter"}
    assert mentioned_values(DEMO_SCHEMA, "search another item with a similar style") == {}
    assert mentioned_values(DEMO_SCHEMA, "redder please") == {}  # whole words only


def test_the_current_value_is_not_requested():
    current = {"colour": "red", "category": "t-shirt"}
    assert mentioned_values(DEMO_SCHEMA, "blue instead of red", current) == {"colour": "blue"}
    assert mentioned_values(DEMO_SCHEMA, "search a shoes that matches this t-shirt best", current) == {
        "category": "shoes"}


def test_a_value_shared_by_two_types_needs_its_noun():
    shared = {v for t in DEMO_SCHEMA.types for v in t.values
              if sum(v in u.values for u in DEMO_SCHEMA.types) > 1}
    assert shared, "the demo schema shares at least one value name between types"
    for value in shared:
        owners = [t for t in DEMO_SCHEMA.types if value in t.values]
        assert mentioned_values(DEMO_SCHEMA, f"make it {value}") == {}
        noun = owners[0].noun
        assert mentioned_values(DEMO_SCHEMA, f"make the {noun} {value}") == {owners[0].name: value}
