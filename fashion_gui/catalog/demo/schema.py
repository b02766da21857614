"""The demo catalog's attribute schema, modelled on Shopping100k (12 attribute types, as there).

Every type applies only to the categories where it makes sense, and within a category only the
plausible values are drawn (``ALLOWED``); the schema itself lists all values so that a manipulation
such as "this t-shirt, but with a hood" is expressible even when no such garment exists.
"""
from __future__ import annotations

from fashion_gui.catalog.schema import AttributeSchema, AttributeType

CATEGORIES: tuple[str, ...] = (
    "t-shirt", "shirt", "sweater", "dress", "skirt", "trousers", "shorts", "coat", "shoes", "bag",
)
TOPS = ("t-shirt", "shirt", "sweater")
BOTTOMS = ("skirt", "trousers", "shorts")
CLOTHES = ("t-shirt", "shirt", "sweater", "dress", "skirt", "trousers", "shorts", "coat")

# Base colours in sRGB. Close pairs on purpose: navy/blue, beige/white, red/burgundy, green/olive.
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (34, 34, 38),
    "white": (240, 240, 236),
    "beige": (222, 204, 170),
    "grey": (140, 142, 146),
    "navy": (32, 46, 92),
    "blue": (52, 98, 178),
    "red": (196, 40, 46),
    "burgundy": (122, 30, 52),
    "pink": (236, 150, 176),
    "yellow": (236, 196, 58),
    "green": (46, 140, 76),
    "olive": (110, 112, 52),
    "brown": (116, 76, 46),
    "purple": (112, 64, 150),
}
NEUTRALS = ("black", "white", "beige", "grey", "navy", "brown")

DEMO_SCHEMA = AttributeSchema(
    categories=CATEGORIES,
    types=(
        AttributeType("category", CATEGORIES, (), "category"),
        AttributeType("colour", tuple(COLOURS), (), "colour"),
        AttributeType(
            "pattern", ("solid", "striped", "checked", "dotted", "floral", "chevron"),
            CLOTHES + ("bag",), "pattern",
        ),
        AttributeType(
            "sleeve", ("sleeveless", "short", "three-quarter", "long"),
            ("t-shirt", "shirt", "sweater", "dress", "coat"), "sleeves", ordered=True,
        ),
        AttributeType(
            "neckline", ("crew", "v-neck", "scoop", "turtleneck", "collar", "hood"),
            ("t-shirt", "shirt", "sweater", "dress", "coat"), "neckline",
        ),
        AttributeType("length", ("mini", "knee", "midi", "maxi"), ("dress", "skirt", "coat"), "length",
                      ordered=True),
        AttributeType(
            "fit", ("slim", "regular", "loose"),
            ("t-shirt", "shirt", "sweater", "dress", "skirt", "trousers", "shorts", "coat"), "fit", ordered=True,
        ),
        AttributeType(
            "fastening", ("none", "buttons", "zip", "laces", "buckle"),
            ("shirt", "sweater", "coat", "shoes", "bag"), "fastening",
        ),
        AttributeType(
            "pocket", ("none", "chest", "side", "flap"),
            ("t-shirt", "shirt", "trousers", "shorts", "coat", "skirt"), "pockets",
        ),
        AttributeType(
            "texture", ("cotton", "knit", "denim", "leather", "corduroy", "linen"), (), "fabric",
        ),
        AttributeType("heel", ("flat", "low", "high"), ("shoes",), "heel", ordered=True),
        AttributeType("handle", ("top", "shoulder", "clutch"), ("bag",), "handle"),
    ),
)

# Plausible values per (category, type); types not listed draw from all their values.
ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    ("t-shirt", "sleeve"): ("sleeveless", "short", "long"),
    ("t-shirt", "neckline"): ("crew", "v-neck", "scoop"),
    ("t-shirt", "pocket"): ("none", "chest"),
    ("t-shirt", "texture"): ("cotton", "linen", "knit"),
    ("shirt", "sleeve"): ("short", "three-quarter", "long"),
    ("shirt", "neckline"): ("collar", "v-neck"),
    ("shirt", "fastening"): ("buttons", "zip"),
    ("shirt", "pocket"): ("none", "chest", "flap"),
    ("shirt", "texture"): ("cotton", "linen", "denim", "corduroy"),
    ("sweater", "sleeve"): ("three-quarter", "long"),
    ("sweater", "neckline"): ("crew", "v-neck", "turtleneck", "hood"),
    ("sweater", "fastening"): ("none", "buttons", "zip"),
    ("sweater", "pattern"): ("solid", "striped", "checked", "chevron"),
    ("sweater", "texture"): ("knit", "cotton"),
    ("dress", "sleeve"): ("sleeveless", "short", "three-quarter", "long"),
    ("dress", "neckline"): ("crew", "v-neck", "scoop", "collar"),
    ("dress", "length"): ("mini", "knee", "midi", "maxi"),
    ("dress", "texture"): ("cotton", "linen", "knit", "denim"),
    ("skirt", "length"): ("mini", "knee", "midi", "maxi"),
    ("skirt", "pocket"): ("none", "side"),
    ("skirt", "texture"): ("cotton", "denim", "leather", "corduroy", "linen"),
    ("trousers", "pocket"): ("none", "side", "flap"),
    ("trousers", "texture"): ("cotton", "denim", "corduroy", "linen", "leather"),
    ("trousers", "pattern"): ("solid", "striped", "checked"),
    ("shorts", "pocket"): ("none", "side", "flap"),
    ("shorts", "texture"): ("cotton", "denim", "linen"),
    ("coat", "sleeve"): ("long",),
    ("coat", "neckline"): ("collar", "hood"),
    ("coat", "length"): ("knee", "midi", "maxi"),
    ("coat", "fastening"): ("buttons", "zip"),
    ("coat", "pocket"): ("none", "side", "flap"),
    ("coat", "pattern"): ("solid", "checked", "striped"),
    ("coat", "texture"): ("cotton", "denim", "leather", "corduroy", "knit"),
    ("shoes", "fastening"): ("none", "laces", "buckle"),
    ("shoes", "texture"): ("leather", "cotton", "denim"),
    ("bag", "fastening"): ("none", "zip", "buckle"),
    ("bag", "pattern"): ("solid", "striped", "checked", "dotted"),
    ("bag", "texture"): ("leather", "cotton", "denim", "corduroy"),
}


def allowed_values(category: str, type_name: str) -> tuple[str, ...]:
    """Values a demo garment of ``category`` may take for ``type_name`` (empty if the type does not apply)."""
    t = DEMO_SCHEMA.type(type_name)
    if type_name == "category":
        return (category,)
    if not t.applies_to(category):
        return ()
    return ALLOWED.get((category, type_name), t.values)
