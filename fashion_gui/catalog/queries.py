"""Manipulation queries by ADDE's protocol (REFERENCE.md, "Query generation").

For every reference image of a split and every attribute type, try each other value; the target label is
the reference label with that type changed; keep the query only if at least one image of the same split
has exactly the target label. Labels are compared as whole tuples (missing = -1), so different label
tuples never collide.
"""
from __future__ import annotations

import numpy as np

from fashion_gui.catalog.store import Catalog


def manipulation_queries(catalog: Catalog, split: str,
                         max_per_reference: int | None = None,
                         rng: np.random.Generator | None = None) -> list[tuple[int, dict[str, str], str]]:
    """``(reference_id, {type: new value}, split)`` for every query that has a target in ``split``.

    ``max_per_reference`` optionally subsamples (with ``rng``) the queries of each reference.
    """
    ids = catalog.ids(split=split)
    labels = catalog.labels(ids)
    present = {tuple(row) for row in labels.tolist()}
    schema = catalog.schema
    out: list[tuple[int, dict[str, str], str]] = []
    for item_id, label in zip(ids.tolist(), labels.tolist()):
        found: list[dict[str, str]] = []
        for a, t in enumerate(schema.types):
            for v in range(len(t.values)):
                if v == label[a]:
                    continue
                target = list(label)
                target[a] = v
                if tuple(target) in present:
                    found.append({t.name: t.values[v]})
        if max_per_reference is not None and len(found) > max_per_reference:
            rng = rng or np.random.default_rng(0)
            keep = sorted(rng.choice(len(found), size=max_per_reference, replace=False).tolist())
            found = [found[i] for i in keep]
        out.extend((item_id, edits, split) for edits in found)
    return out
