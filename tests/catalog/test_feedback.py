import numpy as np
import pytest

from fashion_gui.catalog.demo.schema import DEMO_SCHEMA
from fashion_gui.catalog.feedback import TGR_TEMPLATES, VCR_TEMPLATES, tgr_text, vcr_text


def _mentions(text, name, value):
    noun = DEMO_SCHEMA.type(name).noun
    return value in text if value != "none" else noun in text


@pytest.mark.parametrize("changes", [
    [("colour", "red")],
    [("pocket", "none")],
    [("sleeve", "long")],
    [("colour", "navy"), ("pattern", "striped")],
    [("fastening", "none"), ("colour", "beige")],
    [("neckline", "v-neck"), ("pocket", "none")],
])
def test_tgr_text_mentions_every_change(changes):
    rng = np.random.default_rng(0)
    texts = {tgr_text(changes, DEMO_SCHEMA, rng) for _ in range(60)}
    assert len(texts) >= 2, "several templates should be in use"
    for text in texts:
        for name, value in changes:
            assert _mentions(text, name, value), (text, name, value)


def test_tgr_no_change_uses_the_zero_templates():
    rng = np.random.default_rng(1)
    assert {tgr_text([], DEMO_SCHEMA, rng) for _ in range(30)} == set(TGR_TEMPLATES[0])


def test_tgr_rejects_three_changes():
    with pytest.raises(ValueError):
        tgr_text([("colour", "red")] * 3, DEMO_SCHEMA, np.random.default_rng(0))


def test_vcr_text():
    rng = np.random.default_rng(2)
    plain = {vcr_text("dress", "shoes", rng) for _ in range(40)}
    assert plain == {t.format(RC="dress", TC="shoes") for t in VCR_TEMPLATES[False]}
    with_attr = {vcr_text("dress", "shoes", rng, ("colour", "red"), DEMO_SCHEMA) for _ in range(40)}
    assert len(with_attr) == len(VCR_TEMPLATES[True])
    assert all("red" in t and "shoes" in t and "dress" in t for t in with_attr)
