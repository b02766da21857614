"""The per-attribute query / candidate protocol (ASEN / MODC): disjoint, by product, seeded, stored by the demo."""
import numpy as np
import pytest

from fashion_gui.catalog.attribute_protocol import META_KEY, attribute_protocol, draw_protocol
from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("protocol"))
    build_demo(ws, DemoConfig(items=150, size=32, seed=1, workers=1))
    return ws


def test_demo_stores_disjoint_sets_by_product(demo):
    with Catalog.open(demo.catalog_path) as catalog:
        assert catalog.get_meta(META_KEY)["source"].startswith("drawn by product")
        for split in ("val", "test"):
            protocol = attribute_protocol(catalog, split)
            assert "colour" in protocol
            for name, q in protocol.items():
                assert len(q.queries) and len(q.candidates)
                assert not set(q.queries) & set(q.candidates)
                a = catalog.schema.type_index(name)
                ids = np.concatenate([q.queries, q.candidates])
                assert (catalog.labels(ids)[:, a] >= 0).all()
                assert set(catalog.splits_of(ids)) == {split}
                assert not set(catalog.instances_of(q.queries)) & set(catalog.instances_of(q.candidates))


def test_drawing_is_seeded(demo):
    with Catalog.open(demo.catalog_path) as catalog:
        a, b, c = (draw_protocol(catalog, "test", seed=s) for s in (0, 0, 5))
        assert all(np.array_equal(a[n].queries, b[n].queries) for n in a)
        assert any(not np.array_equal(a[n].queries, c[n].queries) for n in a)
        with pytest.raises(ValueError, match="query_fraction"):
            draw_protocol(catalog, "test", query_fraction=1.5)
