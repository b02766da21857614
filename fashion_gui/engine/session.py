"""Search sessions: a list of turns with undo/redo, where any hit can seed the next turn.

A turn is one query with the request made from it and its results. ``push`` adds a turn after the
current one and drops the redo tail (as every editor does); ``undo``/``redo`` move the cursor without
forgetting anything. Sessions hold no engine and no Qt: the app keeps one per window.
"""
from __future__ import annotations

from dataclasses import dataclass

from fashion_gui.engine.requests import (
    AttributeValues,
    CategoryQuery,
    Compatible,
    Manipulate,
    QueryState,
    Request,
    Results,
    SimilarIn,
    TextFeedback,
)


@dataclass(frozen=True)
class Turn:
    query: QueryState | None  # None for a turn started without a picture (attribute values, a category)
    request: Request | None = None  # None for a turn that only set a new query
    results: Results | None = None

    @property
    def label(self) -> str:
        """A short breadcrumb caption."""
        r = self.request
        only = f" ({r.category} only)" if getattr(r, "category", None) else ""
        if isinstance(r, Manipulate):
            return (", ".join(f"{k}={v}" for k, v in r.edits.items()) or "similar") + only
        if isinstance(r, SimilarIn):
            return f"similar in {r.attribute}{only}"
        if isinstance(r, TextFeedback):
            return f"\u201c{r.text}\u201d{only}"
        if isinstance(r, Compatible):
            return f"{r.target_category} to go with it"
        if isinstance(r, AttributeValues):
            return ", ".join(f"{k}={v}" for k, v in r.values.items()) + only
        if isinstance(r, CategoryQuery):
            return f"typical {r.category}"
        return (self.query.source if self.query is not None else "") or "query"


class Session:
    """Turns and a cursor; ``current`` is the turn on screen."""

    def __init__(self) -> None:
        self._turns: list[Turn] = []
        self._cursor = -1

    def __len__(self) -> int:
        return len(self._turns)

    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(self._turns)

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def current(self) -> Turn | None:
        return self._turns[self._cursor] if self._cursor >= 0 else None

    def push(self, turn: Turn) -> Turn:
        """Add ``turn`` after the current one; turns that could have been redone are dropped."""
        del self._turns[self._cursor + 1:]
        self._turns.append(turn)
        self._cursor = len(self._turns) - 1
        return turn

    def start(self, query: QueryState) -> Turn:
        """A new query (opened, dropped, pasted, or a hit made the next query)."""
        return self.push(Turn(query))

    def record(self, results: Results) -> Turn:
        """Results of a request on the current query become the next turn."""
        return self.push(Turn(results.request.query, results.request, results))

    @property
    def can_undo(self) -> bool:
        return self._cursor > 0

    @property
    def can_redo(self) -> bool:
        return self._cursor < len(self._turns) - 1

    def undo(self) -> Turn | None:
        """Step back one turn; None (and no change) at the first turn."""
        if not self.can_undo:
            return None
        self._cursor -= 1
        return self._turns[self._cursor]

    def redo(self) -> Turn | None:
        """Step forward again; None (and no change) at the last turn."""
        if not self.can_redo:
            return None
        self._cursor += 1
        return self._turns[self._cursor]

    def go_to(self, index: int) -> Turn:
        """Jump to a breadcrumb turn (keeps the others, like repeated undo/redo)."""
        if not 0 <= index < len(self._turns):
            raise IndexError(f"no turn {index}; the session has {len(self._turns)}")
        self._cursor = index
        return self._turns[index]
