"""What the engine is asked and what it answers (DESIGN.md, "Engine contract").

A :class:`QueryState` is an encoded garment (a catalog item or an uploaded image); requests name what to
do with it; :class:`Results` carry ranked :class:`Hit` s that look the same for every kind of request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Union

import numpy as np
from PIL import Image


class EngineError(RuntimeError):
    """A request the engine cannot serve (bad workspace, missing model...); the message says what to do."""


class RequestError(EngineError, ValueError):
    """A malformed request: an unknown attribute or value, an unknown category, an empty text."""


class NotAvailableError(EngineError):
    """The request needs a model this workspace does not have (e.g. text feedback without a UIGR model)."""


@dataclass(frozen=True, eq=False)
class QueryState:
    """One encoded garment: what every request starts from.

    ``embedding`` is the raw ADDE embedding r (A*d,), the one the memory block edits (ADDE Eq. 5).
    ``labels`` are the value indices a manipulation starts from: the catalog's labels for a catalog item,
    otherwise the classifiers' predictions, with types that do not apply to ``category`` left missing (-1).
    """

    embedding: np.ndarray  # (A*d,) float32
    labels: np.ndarray  # (A,) int64, -1 = missing
    attributes: dict[str, str]  # labels decoded: type -> value (missing types absent)
    predicted: dict[str, tuple[str, float]]  # type -> (most likely value, its softmax probability)
    category: str | None  # the catalog's category, or the one predicted for an uploaded image
    item_id: int | None = None  # set when the query is a catalog item (it is excluded from its results)
    image_path: Path | None = None
    image: Image.Image | None = field(default=None, repr=False)  # RGB, for encoders other than ADDE
    source: str = ""  # how it was made, for the UI and logs ("catalog item 12", a file path, ...)


@dataclass(frozen=True, eq=False)
class Manipulate:
    """"This, but red": move the query by the memory block, r' = r + M i (ADDE Eq. 5), several edits at once."""

    kind: ClassVar[str] = "manipulate"  # what a method declares it serves (fashion_gui.methods.REQUEST_KINDS)
    query: QueryState
    edits: dict[str, str]  # attribute type -> new value
    category: str | None = None  # optional restriction of the gallery to one category


@dataclass(frozen=True, eq=False)
class SimilarIn:
    """"Similar in pattern only": nearest items in one attribute's subspace (ADDE-C / ASEN)."""

    kind: ClassVar[str] = "similar_in"
    query: QueryState
    attribute: str
    category: str | None = None
    prioritize: int = 0  # MODC: 0 plain; 1 / 2 = items of the top 1 / 2 classes first ("same <value> first")
    value: str | None = None  # MODC: the value to put first (None: the query's predicted value)


@dataclass(frozen=True, eq=False)
class TextFeedback:
    """Free-text feedback composed with the query image (UIGR); the branch classifier picks TGR or VCR."""

    kind: ClassVar[str] = "text"
    query: QueryState
    text: str
    category: str | None = None


@dataclass(frozen=True, eq=False)
class Compatible:
    """"Shoes that go with this": visually compatible items of ``target_category`` (UIGR VCR or ADDE-O)."""

    kind: ClassVar[str] = "compatible"
    query: QueryState
    target_category: str


@dataclass(frozen=True, eq=False)
class AttributeValues:
    """"Navy and striped", with no picture: items ranked by the mean of the asked values' queries, each the
    mean training feature of that value in its attribute's subspace (cooperative embeddings, Sec. 4.2)."""

    kind: ClassVar[str] = "attribute_values"
    values: dict[str, str]  # attribute type -> value
    category: str | None = None  # optional restriction of the gallery to one category
    query: ClassVar[None] = None  # no query garment


@dataclass(frozen=True, eq=False)
class CategoryQuery:
    """"Typical coats", with no picture: the category's mean training feature in the superspace as the query."""

    kind: ClassVar[str] = "category"
    category: str
    query: ClassVar[None] = None


Request = Union[Manipulate, SimilarIn, TextFeedback, Compatible, AttributeValues, CategoryQuery]


@dataclass(frozen=True)
class Hit:
    """One ranked item. ``matches``: for each requested attribute value (``Results.requested``), whether
    this item has it."""

    item_id: int
    score: float  # higher is better (cosine similarity in the space searched, or minus a distance)
    image_path: Path
    category: str
    attributes: dict[str, str]
    matches: dict[str, bool]
    note: str = ""  # what the model thinks of this item for the request, e.g. MODC's pseudo label

    @property
    def matched_all(self) -> bool:
        return all(self.matches.values())


@dataclass(frozen=True, eq=False)
class Results:
    """The answer to one request: hits best first, never containing the query item itself."""

    request: Request
    hits: tuple[Hit, ...]
    requested: dict[str, str]  # attribute type -> value the user asked for (what ``Hit.matches`` checks)
    space: str  # where the ranking happened: "full", "subspace:<type>", "tgr", "vcr", "outfit"
    seconds: float  # encode + search time inside the engine
    note: str = ""  # e.g. how the branch classifier read a text, or that nothing has the asked values
    alternatives_from: int | None = None  # hits from this rank on lack something asked (None: none do)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def ids(self) -> list[int]:
        return [h.item_id for h in self.hits]


@dataclass(frozen=True)
class PathResult:
    """A style-transition path (cooperative embeddings Sec. 5.3) with the items along it."""

    hits: tuple[Hit, ...]  # source first, target last
    steps: tuple[float, ...]  # L2 length of each hop
    largest_step: int | None  # index i of the longest hop hits[i] -> hits[i + 1]
    space: str
    target_category: str | None = None

    @property
    def ids(self) -> list[int]:
        return [h.item_id for h in self.hits]


@dataclass(frozen=True)
class TypicalityResult:
    """A category's gallery items from most typical (nearest the category centre) to most atypical."""

    hits: tuple[Hit, ...]
    distances: tuple[float, ...]  # L2 distance of each to the centre, ascending
    category: str
    space: str

    @property
    def ids(self) -> list[int]:
        return [h.item_id for h in self.hits]
