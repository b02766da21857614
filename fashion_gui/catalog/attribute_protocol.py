"""The attribute-specific retrieval protocol (ASEN / MODC; REFERENCE.md "ASEN / MODC"): per attribute and
per evaluated split (val, test), a query set and a disjoint candidate set of items that have a value of that
attribute; candidates are ranked by similarity in the query's attribute space and the relevant ones share
the query's value.

Every catalog has one: the demo writes it at build time, the ASEN importer stores the dataset's own
query / candidate files, and any other catalog gets one drawn here, seeded, by product (all views of one
product fall on the same side, so a query never finds its own product's other photos among the candidates).
It is stored in the catalog's meta table under ``attribute_protocol``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fashion_gui.catalog.store import Catalog

META_KEY = "attribute_protocol"
SPLITS = ("val", "test")


@dataclass(frozen=True)
class AttributeQueries:
    """One attribute's query and candidate item ids on one split."""

    attribute: str
    queries: np.ndarray
    candidates: np.ndarray


def draw_protocol(catalog: Catalog, split: str, seed: int = 0, query_fraction: float = 0.3) -> dict[str, AttributeQueries]:
    """Per attribute: items of ``split`` with that attribute, products shuffled (seeded), the first
    ``query_fraction`` of them queries, the rest candidates. Attributes with < 2 products are left out."""
    if not 0 < query_fraction < 1:
        raise ValueError(f"query_fraction must be in (0, 1), got {query_fraction}")
    ids = catalog.ids(split=split)
    labels = catalog.labels(ids)
    instances = np.array(catalog.instances_of(ids), dtype=object)
    out: dict[str, AttributeQueries] = {}
    for a, name in enumerate(catalog.schema.names):
        have = labels[:, a] >= 0
        products = sorted(set(instances[have].tolist()))
        if len(products) < 2:
            continue
        rng = np.random.default_rng([seed, a, SPLITS.index(split) if split in SPLITS else 9])
        order = rng.permutation(len(products))
        n_query = min(max(1, int(round(query_fraction * len(products)))), len(products) - 1)
        query_products = {products[i] for i in order[:n_query]}
        is_query = np.array([p in query_products for p in instances], dtype=bool)
        out[name] = AttributeQueries(name, ids[have & is_query], ids[have & ~is_query])
    return out


def store_protocol(catalog: Catalog, protocol: dict[str, dict[str, AttributeQueries]], source: str) -> None:
    """Write ``{split: {attribute: AttributeQueries}}`` into the catalog (``source`` says where it came from)."""
    catalog.set_meta(META_KEY, {"source": source, "splits": {
        split: {name: {"queries": q.queries.tolist(), "candidates": q.candidates.tolist()} for name, q in per.items()}
        for split, per in protocol.items()}})


def write_drawn_protocol(catalog: Catalog, seed: int = 0) -> None:
    """Draw and store the protocol of every evaluated split (the demo calls this at build time)."""
    store_protocol(catalog, {split: draw_protocol(catalog, split, seed) for split in SPLITS},
                   f"drawn by product, seed {seed}, 30 % of the products as queries")


def attribute_protocol(catalog: Catalog, split: str) -> dict[str, AttributeQueries]:
    """The catalog's protocol for ``split``: the stored one, else drawn with seed 0."""
    stored = catalog.get_meta(META_KEY)
    if stored and split in stored.get("splits", {}):
        return {name: AttributeQueries(name, np.asarray(q["queries"], dtype=np.int64),
                                       np.asarray(q["candidates"], dtype=np.int64))
                for name, q in stored["splits"][split].items()}
    return draw_protocol(catalog, split)


def protocol_source(catalog: Catalog) -> str:
    stored = catalog.get_meta(META_KEY)
    return str(stored.get("source")) if stored else "drawn by product, seed 0, 30 % of the products as queries"
