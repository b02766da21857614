"""Outfits for the demo catalog: a style model plus a colour-harmony rule.

An outfit is (top + bottom) or a dress, plus shoes, and optionally a bag and a coat, all products of one
style. The harmony rule, which a compatibility model has to learn from images alone:
- neutrals (black, white, beige, grey, navy, brown) go with anything;
- at most two accent colours, and two accents must be a harmonious pair (``ACCENT_PAIRS``);
- at most one patterned piece; the top and bottom do not share an accent colour.
Style only biases colours, patterns and fabrics, so style alone does not decide compatibility.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from fashion_gui.catalog.demo.products import Product
from fashion_gui.catalog.demo.schema import BOTTOMS, NEUTRALS, TOPS

ACCENT_PAIRS = frozenset(frozenset(p) for p in (
    ("red", "pink"), ("red", "burgundy"), ("pink", "burgundy"), ("pink", "purple"), ("blue", "yellow"),
    ("green", "olive"), ("olive", "yellow"), ("purple", "yellow"), ("blue", "green"), ("burgundy", "olive"),
))


def harmonious(products: list[Product]) -> bool:
    """The colour-harmony and single-pattern rule for a set of products."""
    accents = {p.spec.attributes["colour"] for p in products} - set(NEUTRALS)
    if len(accents) > 2 or (len(accents) == 2 and frozenset(accents) not in ACCENT_PAIRS):
        return False
    patterned = [p for p in products if p.spec.attributes.get("pattern", "solid") != "solid"]
    if len(patterned) > 1:
        return False
    top = [p for p in products if p.spec.category in TOPS]
    bottom = [p for p in products if p.spec.category in BOTTOMS]
    if top and bottom:
        c_top, c_bottom = top[0].spec.attributes["colour"], bottom[0].spec.attributes["colour"]
        if c_top == c_bottom and c_top not in NEUTRALS:
            return False
    return True


def _slots(rng: np.random.Generator) -> list[tuple[str, ...]]:
    slots: list[tuple[str, ...]] = [TOPS, BOTTOMS] if rng.random() < 0.7 else [("dress",)]
    slots.append(("shoes",))
    if rng.random() < 0.6:
        slots.append(("bag",))
    if rng.random() < 0.3:
        slots.append(("coat",))
    return slots


def sample_outfits(products: list[Product], n_outfits: int, rng: np.random.Generator,
                   max_tries: int = 40) -> list[tuple[str, list[Product]]]:
    """Draw up to ``n_outfits`` harmonious single-style outfits from ``products`` (one split)."""
    pool: dict[tuple[str, str], list[Product]] = defaultdict(list)
    for p in products:
        pool[(p.style, p.spec.category)].append(p)
    styles = sorted({p.style for p in products})
    outfits: list[tuple[str, list[Product]]] = []
    seen: set[tuple[str, ...]] = set()
    for _ in range(n_outfits * 4):
        if len(outfits) >= n_outfits or not styles:
            break
        style = styles[int(rng.integers(len(styles)))]
        chosen: list[Product] = []
        for slot in _slots(rng):
            candidates = [p for c in slot for p in pool.get((style, c), [])]
            for _try in range(max_tries if candidates else 0):
                pick = candidates[int(rng.integers(len(candidates)))]
                if harmonious(chosen + [pick]):
                    chosen.append(pick)
                    break
            else:
                chosen = []
                break
        key = tuple(sorted(p.instance_id for p in chosen))
        if chosen and key not in seen:
            seen.add(key)
            outfits.append((style, chosen))
    return outfits
