"""Feedback sentences from the UIGR prompt templates (UIGR paper, supplementary Table 4).

TGR feedback describes the attribute changes between a reference and a target of the same category;
VCR feedback names the target category, the reference category and optionally one target attribute.
The template is chosen at random among those for the number of attributes to mention (0, 1 or 2).
"""
from __future__ import annotations

import numpy as np

from fashion_gui.catalog.schema import AttributeSchema

TGR_TEMPLATES: dict[int, tuple[str, ...]] = {
    0: ("search another item with a similar style", "there are no changes between two images"),
    1: ("change {A} to {V}", "has {V} {A}", "is {V}"),
    2: (
        "change {A1} to {V1} and {A2} to {V2}",
        "change {A1} to {V1} and change {A2} to {V2}",
        "has {V1} {A1} and {V2} {A2}",
        "is {V1} and with {V2} {A2}",
    ),
}
VCR_TEMPLATES: dict[bool, tuple[str, ...]] = {
    False: (
        "search a {TC} that matches this {RC} best",
        "retrieve a {TC} having a similar style with current {RC}",
        "for this {RC}, find a visually compatible {TC}",
        "replace this {RC} with a {TC} that has a consistent style",
    ),
    True: (
        "search a {TV} {TC} that matches this {RC} best",
        "retrieve a {TV} {TC} having a similar style with current {RC}",
        "for this {RC}, find a visually compatible {TC} with {TV} {TA}",
        "replace this {RC} with a {TC} that has {TV} {TA}",
    ),
}
# "is {V}" reads well only for adjectives; other types fall back to "has {V} {A}".
ADJECTIVE_TYPES = frozenset({"colour", "color", "pattern", "fit", "texture", "fabric"})
NONE_VALUES = frozenset({"none", "no", "without"})


def _has(noun: str, value: str) -> str:
    return f"has no {noun}" if value in NONE_VALUES else f"has {value} {noun}"


def _change(noun: str, value: str) -> str:
    return f"remove the {noun}" if value in NONE_VALUES else f"change {noun} to {value}"


def tgr_text(changes: list[tuple[str, str]], schema: AttributeSchema, rng: np.random.Generator) -> str:
    """One TGR sentence for ``changes`` = [(type name, new value), ...] (0, 1 or 2 changes).

    Every mentioned change names its new value (or, for a "none" value, the attribute's noun).
    """
    if len(changes) > 2:
        raise ValueError(f"TGR templates mention at most 2 attributes, got {len(changes)}")
    templates = TGR_TEMPLATES[len(changes)]
    template = templates[int(rng.integers(len(templates)))]
    parts = [(schema.type(name).noun, value, name) for name, value in changes]
    if len(parts) == 1:
        (noun, value, name), = parts
        if template.startswith("change"):
            return _change(noun, value)
        if template == "is {V}" and name in ADJECTIVE_TYPES and value not in NONE_VALUES:
            return f"is {value}"
        return _has(noun, value)
    if len(parts) == 2:
        (n1, v1, name1), (n2, v2, _) = parts
        if template.startswith("change"):
            second = _change(n2, v2)
            if "and change" not in template and second.startswith("change "):
                second = second[len("change "):]
            return _change(n1, v1) + " and " + second
        if template.startswith("is") and name1 in ADJECTIVE_TYPES and v1 not in NONE_VALUES:
            return f"is {v1} and " + (f"with no {n2}" if v2 in NONE_VALUES else f"with {v2} {n2}")
        return _has(n1, v1) + " and " + (f"no {n2}" if v2 in NONE_VALUES else f"{v2} {n2}")
    return template


def vcr_text(reference_category: str, target_category: str, rng: np.random.Generator,
             target_attribute: tuple[str, str] | None = None, schema: AttributeSchema | None = None) -> str:
    """One VCR sentence; ``target_attribute`` = (type name, value) is mentioned when given."""
    mention = target_attribute is not None and target_attribute[1] not in NONE_VALUES
    templates = VCR_TEMPLATES[mention]
    template = templates[int(rng.integers(len(templates)))]
    fields = {"RC": reference_category, "TC": target_category}
    if mention:
        name, value = target_attribute  # type: ignore[misc]
        fields["TV"] = value
        fields["TA"] = schema.type(name).noun if schema is not None else name
    return template.format(**fields)
