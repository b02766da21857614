"""Which attribute values a feedback text asks for, so text results get the same match chips as edits.

This reads the catalog's own vocabulary, not the model: a value name (or an attribute noun next to a
"no"/"without") found as whole words in the text is requested, unless it is the query's current value
("blue instead of red" on a red query asks for blue). A value name shared by several types counts only
when one of those types' nouns is also in the text. The model still sees the full text; this only
decides which chips each hit shows.
"""
from __future__ import annotations

import re

from fashion_gui.catalog.schema import AttributeSchema


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", text.lower())) + " "


def mentioned_values(schema: AttributeSchema, text: str, current: dict[str, str] | None = None) -> dict[str, str]:
    """``{type: value}`` named in ``text`` and different from ``current`` (the query's attributes)."""
    words = _words(text)
    current = current or {}
    found: dict[str, list[tuple[str, str]]] = {}  # value -> [(type, value)]
    for t in schema.types:
        for value in t.values:
            if f" {value.lower()} " in words:
                found.setdefault(value, []).append((t.name, value))
    out: dict[str, str] = {}
    for value, owners in sorted(found.items(), key=lambda kv: -len(kv[0])):  # longer names first
        if len(owners) > 1:
            owners = [(name, v) for name, v in owners if f" {schema.type(name).noun.lower()} " in words]
            if len(owners) != 1:
                continue
        name, v = owners[0]
        if current.get(name) != v and name not in out:
            out[name] = v
    return out
