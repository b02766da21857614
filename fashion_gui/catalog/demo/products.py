"""The demo catalog's products: a style model, product families and the photographs of each product.

A *family* is what a shop sells as one model in several variants: a grid over one or two attributes
(mostly colour), so most variants differ from each other in one attribute and some in two. Families give the ADDE protocol its targets
("this, but red" exists in the gallery) and give TGR feedback its fine-grained pairs. Every product has
a latent *style* that biases its colours, patterns and fabrics; outfits are drawn from one style.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fashion_gui.catalog.demo.schema import CATEGORIES, COLOURS, DEMO_SCHEMA, allowed_values
from fashion_gui.catalog.demo.spec import Difficulty, GarmentSpec, ViewSpec


@dataclass(frozen=True)
class Style:
    """A style biases (not fixes) a product's colour, pattern and fabric; weights are relative."""

    name: str
    colours: tuple[str, ...]
    patterns: dict[str, float]
    textures: tuple[str, ...]
    palette_prob: float = 0.8  # chance of taking the colour from the style palette


STYLES: tuple[Style, ...] = (
    Style("classic", ("navy", "white", "beige", "grey", "burgundy", "black", "brown"),
          {"solid": 6, "striped": 3, "checked": 2}, ("cotton", "linen", "leather", "knit")),
    Style("casual", ("blue", "white", "grey", "olive", "red", "beige", "navy"),
          {"solid": 5, "striped": 2, "checked": 2, "dotted": 1}, ("denim", "cotton", "corduroy")),
    Style("sporty", ("black", "white", "red", "blue", "yellow", "green", "grey"),
          {"solid": 6, "striped": 3, "chevron": 2}, ("cotton", "knit")),
    Style("boho", ("brown", "beige", "olive", "burgundy", "pink", "yellow", "green"),
          {"floral": 4, "dotted": 2, "chevron": 2, "solid": 2}, ("linen", "corduroy", "knit", "cotton")),
    Style("evening", ("black", "burgundy", "navy", "purple", "pink", "red"),
          {"solid": 6, "dotted": 2, "floral": 2}, ("leather", "knit", "cotton")),
)
STYLE_BY_NAME = {s.name: s for s in STYLES}

# Variants change one attribute; colour variants are the commonest, as in a real shop.
VARIANT_WEIGHTS = {
    "colour": 6.0, "pattern": 2.0, "sleeve": 1.5, "neckline": 1.0, "length": 1.5, "fit": 1.0,
    "fastening": 1.0, "pocket": 1.0, "texture": 1.5, "heel": 1.5, "handle": 1.5,
}
FAMILY_SINGLETON_PROB = 0.2
BACKGROUNDS = ((246, 246, 244), (240, 242, 246), (246, 242, 236), (236, 238, 236), (250, 248, 250))


@dataclass(frozen=True)
class Product:
    """One product (an instance): its garment spec, style, family and the photographs taken of it."""

    instance_id: str
    family_id: int
    style: str
    spec: GarmentSpec
    views: tuple[ViewSpec, ...]


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], weights: list[float] | None = None) -> str:
    if weights is None:
        return str(options[int(rng.integers(len(options)))])
    p = np.asarray(weights, dtype=float)
    return str(options[int(rng.choice(len(options), p=p / p.sum()))])


def sample_attributes(rng: np.random.Generator, category: str, style: Style) -> dict[str, str]:
    """Draw every applicable attribute of a ``category`` garment under ``style``."""
    attrs: dict[str, str] = {"category": category}
    for t in DEMO_SCHEMA.types[1:]:
        options = allowed_values(category, t.name)
        if not options:
            continue
        if t.name == "colour":
            palette = style.colours if rng.random() < style.palette_prob else tuple(COLOURS)
            attrs["colour"] = _pick(rng, palette)
        elif t.name == "pattern":
            weights = [style.patterns.get(v, 0.25) for v in options]
            attrs["pattern"] = _pick(rng, options, weights)
        elif t.name == "texture":
            preferred = [v for v in options if v in style.textures]
            attrs["texture"] = _pick(rng, preferred if preferred and rng.random() < 0.8 else options)
        else:
            attrs[t.name] = _pick(rng, options)
    return attrs


def _jitter_rgb(rgb: tuple[int, int, int], shift: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + s, 0, 255)) for c, s in zip(rgb, shift))  # type: ignore[return-value]


def _accent(rng: np.random.Generator, colour: str) -> tuple[int, int, int]:
    """The pattern's second colour: a light tone on dark garments, a dark one on light garments."""
    r, g, b = COLOURS[colour]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    light = ((250, 248, 240), (236, 226, 200), (226, 232, 240))
    dark = ((30, 32, 40), (70, 50, 40), (40, 52, 90))
    options = light if luma < 140 else dark
    return options[int(rng.integers(len(options)))]


def make_spec(rng: np.random.Generator, attrs: dict[str, str], difficulty: Difficulty, seed: int,
              shade: np.ndarray) -> GarmentSpec:
    lo, hi = difficulty.pattern_scale
    return GarmentSpec(
        category=attrs["category"],
        attributes=dict(attrs),
        base_rgb=_jitter_rgb(COLOURS[attrs["colour"]], shade),
        accent_rgb=_accent(rng, attrs["colour"]),
        pattern_scale=float(rng.uniform(lo, hi)),
        pattern_phase=float(rng.uniform(0.0, 1.0)),
        seed=seed,
    )


def make_views(rng: np.random.Generator, n_views: int, difficulty: Difficulty, seed: int) -> tuple[ViewSpec, ...]:
    """View 0 is the clean catalog shot; the others vary pose, scale, light, backdrop and props."""
    views = [ViewSpec(light_strength=0.5 * difficulty.lighting, noise=difficulty.noise, seed=seed * 16)]
    for v in range(1, n_views):
        occluder = None
        if rng.random() < difficulty.occlusion:
            kind = _pick(rng, ("tag", "card", "hanger"))
            x0, y0 = rng.uniform(0.1, 0.65), rng.uniform(0.1, 0.65)
            w, h = rng.uniform(0.12, 0.28), rng.uniform(0.12, 0.28)
            occluder = (float(x0), float(y0), float(min(x0 + w, 0.95)), float(min(y0 + h, 0.95)), kind)
        pose = difficulty.pose
        views.append(ViewSpec(
            angle=float(rng.uniform(-pose, pose)),
            scale=float(rng.uniform(1.0 - pose / 60.0, 1.0 + pose / 120.0)),
            offset=(float(rng.uniform(-pose, pose) / 250.0), float(rng.uniform(-pose, pose) / 250.0)),
            light_angle=float(rng.uniform(0.0, 360.0)),
            light_strength=float(rng.uniform(0.0, difficulty.lighting)),
            background_rgb=BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
            occluder=occluder,
            noise=difficulty.noise,
            seed=seed * 16 + v,
        ))
    return tuple(views)


def family_members(rng: np.random.Generator, base: dict[str, str]) -> list[dict[str, str]]:
    """A product family as a shop sells it: the base model in a grid of variants.

    One variant axis (mostly colour, 2-3 values) and, 60% of the time, a second axis (2 values), so a
    family holds near-twins: for "this, but red" the exact target sits among variants that share the new
    colour but differ in the second attribute, and variants that keep the old colour. 20% of products
    come alone.
    """
    if rng.random() < FAMILY_SINGLETON_PROB:
        return [base]
    category = base["category"]
    names = [n for n in VARIANT_WEIGHTS if len(allowed_values(category, n)) > 1]
    axes: list[tuple[str, list[str]]] = []
    for n_extra in (int(rng.integers(1, 3)), 1 if rng.random() < 0.6 else 0):
        names = [n for n in names if n not in dict(axes)]
        if not n_extra or not names:
            continue
        name = _pick(rng, names, [VARIANT_WEIGHTS[n] for n in names])
        others = [v for v in allowed_values(category, name) if v != base[name]]
        picks = rng.choice(len(others), size=min(n_extra, len(others)), replace=False)
        axes.append((name, [base[name]] + [others[int(i)] for i in picks]))
    members = [dict(base)]
    for name, values in axes:
        members = [{**m, name: v} for m in members for v in values]
    return members


def sample_products(n_products: int, n_views: int, difficulty: Difficulty, seed: int) -> list[Product]:
    """Products in families, categories balanced, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    products: list[Product] = []
    family_id = 0
    while len(products) < n_products:
        category = CATEGORIES[family_id % len(CATEGORIES)]
        if family_id % len(CATEGORIES) == 0:  # each run of 10 families dresses one style head to toe,
            style = STYLES[int(rng.integers(len(STYLES)))]  # so even a small catalog can form outfits
        base = sample_attributes(rng, category, style)
        members = family_members(rng, base)
        for attrs in members[: n_products - len(products)]:
            pid = len(products)
            # each variant is its own dye lot and cut: only the labels tie it to its family, so finding
            # "this, but red" takes the attribute, not a copy of the reference's hidden appearance
            shade = rng.normal(0.0, difficulty.shade_jitter, size=3)
            spec = make_spec(rng, attrs, difficulty, seed=seed * 100_003 + pid, shade=shade)
            products.append(Product(
                instance_id=f"p{pid:05d}", family_id=family_id, style=style.name, spec=spec,
                views=make_views(rng, n_views, difficulty, seed=seed * 100_003 + pid),
            ))
        family_id += 1
    return products
