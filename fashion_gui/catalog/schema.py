"""Attribute schema: ordered attribute types, their ordered values and the categories they apply to.

Labels follow ADDE's convention (REFERENCE.md): one block per attribute type, one-hot over that type's
values; a missing attribute is an all-zero block. ``value index`` -1 means missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MISSING = -1


class SchemaError(ValueError):
    """An attribute type or value that the schema does not know."""


@dataclass(frozen=True)
class AttributeType:
    """One attribute type (e.g. ``colour``) with its ordered values.

    ``categories`` lists the item categories the type applies to; an empty tuple means all categories.
    ``noun`` is how feedback text names the type ("change {noun} to {value}").
    ``ordered``: the values are naturally ordered and ``values`` lists them in that order (sleeve length,
    heel height...): value index = rank (cooperative embeddings' ordered proxies, Eq. 3-4).
    """

    name: str
    values: tuple[str, ...]
    categories: tuple[str, ...] = ()
    noun: str = ""
    ordered: bool = False

    def __post_init__(self) -> None:
        if not self.values:
            raise SchemaError(f"attribute type {self.name!r} has no values")
        if len(set(self.values)) != len(self.values):
            raise SchemaError(f"attribute type {self.name!r} lists a value twice: {self.values}")
        if not self.noun:
            object.__setattr__(self, "noun", self.name.replace("_", " "))
        if not isinstance(self.ordered, bool):
            raise SchemaError(f"attribute type {self.name!r}: ordered must be true or false, got {self.ordered!r}")

    def applies_to(self, category: str) -> bool:
        return not self.categories or category in self.categories

    def index(self, value: str) -> int:
        try:
            return self.values.index(value)
        except ValueError:
            raise SchemaError(
                f"unknown value {value!r} for attribute {self.name!r}; known values: {', '.join(self.values)}"
            ) from None


@dataclass(frozen=True)
class AttributeSchema:
    """Ordered attribute types plus the ordered item categories of a catalog."""

    categories: tuple[str, ...]
    types: tuple[AttributeType, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [t.name for t in self.types]
        if len(set(names)) != len(names):
            raise SchemaError(f"attribute type names must be unique: {names}")
        if len(set(self.categories)) != len(self.categories):
            raise SchemaError(f"category names must be unique: {self.categories}")
        for t in self.types:
            unknown = [c for c in t.categories if c not in self.categories]
            if unknown:
                raise SchemaError(f"attribute type {t.name!r} applies to unknown categories {unknown}")

    # --- sizes and offsets -------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [t.name for t in self.types]

    @property
    def ordered_names(self) -> list[str]:
        """The attribute types declared ordered (their values listed in rank order)."""
        return [t.name for t in self.types if t.ordered]

    @property
    def sizes(self) -> list[int]:
        """Number of values per type (ADDE's attr_num.txt)."""
        return [len(t.values) for t in self.types]

    @property
    def offsets(self) -> list[int]:
        """Start of each type's block in the concatenated one-hot vector."""
        out, acc = [], 0
        for n in self.sizes:
            out.append(acc)
            acc += n
        return out

    @property
    def total_values(self) -> int:
        """J, the length of the concatenated one-hot vector."""
        return sum(self.sizes)

    def type(self, name: str) -> AttributeType:
        for t in self.types:
            if t.name == name:
                return t
        raise SchemaError(f"unknown attribute type {name!r}; known types: {', '.join(self.names)}")

    def type_index(self, name: str) -> int:
        return self.names.index(self.type(name).name)

    def category_index(self, category: str) -> int:
        try:
            return self.categories.index(category)
        except ValueError:
            raise SchemaError(
                f"unknown category {category!r}; known categories: {', '.join(self.categories)}"
            ) from None

    # --- label conversions ---------------------------------------------------------------------
    def encode(self, values: dict[str, str]) -> np.ndarray:
        """``{"colour": "red", ...}`` -> value indices (A,), MISSING where absent."""
        out = np.full(len(self.types), MISSING, dtype=np.int64)
        for name, value in values.items():
            ti = self.type_index(name)
            out[ti] = self.types[ti].index(value)
        return out

    def decode(self, indices: np.ndarray) -> dict[str, str]:
        """Value indices (A,) -> ``{"type": "value"}`` without the missing types."""
        return {t.name: t.values[int(i)] for t, i in zip(self.types, indices) if int(i) != MISSING}

    def one_hot(self, indices: np.ndarray) -> np.ndarray:
        """Value indices (N, A) -> concatenated one-hot blocks (N, J); a missing type is a zero block."""
        indices = np.atleast_2d(np.asarray(indices, dtype=np.int64))
        out = np.zeros((indices.shape[0], self.total_values), dtype=np.float32)
        for a, offset in enumerate(self.offsets):
            rows = np.nonzero(indices[:, a] != MISSING)[0]
            out[rows, offset + indices[rows, a]] = 1.0
        return out

    def from_one_hot(self, blocks: np.ndarray) -> np.ndarray:
        """Concatenated one-hot blocks (N, J) -> value indices (N, A); an all-zero block is MISSING."""
        blocks = np.atleast_2d(np.asarray(blocks))
        if blocks.shape[1] != self.total_values:
            raise SchemaError(f"expected {self.total_values} label columns, got {blocks.shape[1]}")
        out = np.full((blocks.shape[0], len(self.types)), MISSING, dtype=np.int64)
        for a, (offset, n) in enumerate(zip(self.offsets, self.sizes)):
            block = blocks[:, offset : offset + n]
            present = block.sum(axis=1) > 0
            out[present, a] = block[present].argmax(axis=1)
        return out

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "categories": list(self.categories),
            "types": [
                {"name": t.name, "values": list(t.values), "categories": list(t.categories), "noun": t.noun,
                 **({"ordered": True} if t.ordered else {})}  # absent when false: older schema dicts stay equal
                for t in self.types
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "AttributeSchema":
        return cls(
            categories=tuple(data["categories"]),
            types=tuple(
                AttributeType(t["name"], tuple(t["values"]), tuple(t.get("categories", ())), t.get("noun", ""),
                              t.get("ordered", False))
                for t in data["types"]
            ),
        )
