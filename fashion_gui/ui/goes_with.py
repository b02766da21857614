"""Which category "Goes with" offers first for a query (Qt-free): the one most often worn with the query's
category in the catalog's outfits, else the first category other than the query's own."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from fashion_gui.catalog.store import Catalog


def outfit_partners(catalog: Catalog) -> dict[str, list[str]]:
    """For each category, the other categories that share an outfit with it, most often first (ties in the
    schema's order). One pass over the outfits; empty for a catalog without outfits."""
    categories = catalog.schema.categories
    outfits = catalog.outfits()
    item_ids = sorted({i for outfit in outfits for i in outfit.item_ids})
    if not item_ids:
        return {}
    category_of = dict(zip(item_ids, (categories[int(c)] for c in catalog.categories_of(item_ids))))
    return partners_from_outfits(([category_of[i] for i in outfit.item_ids] for outfit in outfits), categories)


def partners_from_outfits(outfits: Iterable[Sequence[str]], categories: Sequence[str]) -> dict[str, list[str]]:
    """:func:`outfit_partners` from the outfits' categories."""
    counts: dict[str, Counter] = {}
    for worn in outfits:
        kinds = set(worn)
        for a in kinds:
            counts.setdefault(a, Counter()).update(b for b in kinds if b != a)
    order = {c: i for i, c in enumerate(categories)}
    return {a: sorted(c, key=lambda b: (-c[b], order.get(b, len(order)))) for a, c in counts.items()}


def default_partner(category: str | None, categories: Sequence[str],
                    partners: Mapping[str, Sequence[str]]) -> str | None:
    """The category to offer for a query of ``category``: its most frequent outfit partner, else the first
    other category (None when there is no other)."""
    for candidate in partners.get(category or "", ()):
        if candidate in categories:
            return candidate
    return next((c for c in categories if c != category), None)
