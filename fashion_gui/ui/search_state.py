"""The search window's state as a small Qt-free view-model (napari's Dims / QtDims: the model emits plain
callbacks, the widgets subscribe and never hold the state themselves).

:class:`SearchState` holds the current query, its attribute edits, the active request kind and the
session (turns with undo/redo). Its events fire after each change:

* ``query(query)``: another query is on screen (a new one, or undo/redo moved to another turn's query);
* ``edits(edits)``: the attribute edits changed (a copy of the dict);
* ``kind(kind)``: the active request kind changed (a key of ``fashion_gui.methods.REQUEST_KINDS``);
* ``turn(turn)``: a turn was recorded or undo/redo moved the cursor (the turn now current, or None);
* ``session()``: the turns or the cursor changed (undo/redo availability, the breadcrumb).

It imports no Qt (tests/ui/test_search_state.py checks it), so it is tested without a window.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fashion_gui.engine import (
    Compatible,
    Manipulate,
    QueryState,
    Request,
    Results,
    Session,
    SimilarIn,
    TextFeedback,
    Turn,
)

# request class -> request kind, for request classes that do not carry ``kind`` themselves
_KIND_OF = {Manipulate: "manipulate", SimilarIn: "similar_in", TextFeedback: "text", Compatible: "compatible"}


def request_kind(request: Request | None) -> str:
    """The kind of a request (its ``kind`` attribute when it has one); a turn without a request is a plain
    query, shown as "manipulate" without edits."""
    if request is None:
        return "manipulate"
    kind = getattr(request, "kind", None)
    return str(kind) if kind else _KIND_OF.get(type(request), "manipulate")


class Event:
    """A list of callbacks; ``emit`` calls them in the order they connected."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class SearchEvents:
    """The events of a :class:`SearchState` (see the module docstring)."""

    def __init__(self) -> None:
        self.query = Event()
        self.edits = Event()
        self.kind = Event()
        self.turn = Event()
        self.session = Event()


class SearchState:
    """Query, edits, active request kind and session of one search window."""

    def __init__(self) -> None:
        self.events = SearchEvents()
        self.session = Session()
        self._query: QueryState | None = None
        self._edits: dict[str, str] = {}
        self._kind = "manipulate"

    # --- read ------------------------------------------------------------------------------------------
    @property
    def query(self) -> QueryState | None:
        return self._query

    @property
    def edits(self) -> dict[str, str]:
        """A copy: change edits through :meth:`set_edit` / :meth:`reset_edits`."""
        return dict(self._edits)

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def current(self) -> Turn | None:
        return self.session.current

    @property
    def can_undo(self) -> bool:
        return self.session.can_undo

    @property
    def can_redo(self) -> bool:
        return self.session.can_redo

    def __len__(self) -> int:
        return len(self.session)

    def breadcrumb(self, last: int = 6) -> list[tuple[str, bool]]:
        """The last ``last`` turns' captions, each with whether it is the current turn."""
        start = max(0, len(self.session) - last)
        return [(turn.label if turn.request is not None else "query", i == self.session.cursor)
                for i, turn in enumerate(self.session.turns[start:], start=start)]

    # --- change ----------------------------------------------------------------------------------------
    def set_kind(self, kind: str) -> None:
        if kind != self._kind:
            self._kind = kind
            self.events.kind.emit(kind)

    def set_edit(self, name: str, value: str | None) -> bool:
        """Edit one attribute: ``value`` None or the query's own value removes the edit. True if the edits
        changed (the caller then searches)."""
        if self._query is None:
            return False
        edits = dict(self._edits)
        if value is None or value == self._query.attributes.get(name):
            edits.pop(name, None)
        else:
            edits[name] = value
        if edits == self._edits:
            return False
        self._edits = edits
        self.events.edits.emit(dict(edits))
        return True

    def reset_edits(self) -> bool:
        """Drop every edit; True if there were any."""
        if not self._edits:
            return False
        self._edits = {}
        self.events.edits.emit({})
        return True

    def record(self, results: Results) -> Turn:
        """An answer arrived: it becomes the next turn, and its query, edits and kind are shown."""
        turn = self.session.record(results)
        self._show(turn)
        return turn

    def undo(self) -> Turn | None:
        """Back one turn (None and no change at the first); the turn's results are shown without a search."""
        turn = self.session.undo()
        if turn is not None:
            self._show(turn)
        return turn

    def redo(self) -> Turn | None:
        turn = self.session.redo()
        if turn is not None:
            self._show(turn)
        return turn

    def reset(self) -> None:
        """A new session with no query (another workspace, or a reopened engine re-encodes the query)."""
        self.session = Session()
        query_changed = self._query is not None
        self._query = None
        edits_changed = bool(self._edits)
        self._edits = {}
        if query_changed:
            self.events.query.emit(None)
        if edits_changed:
            self.events.edits.emit({})
        self.set_kind("manipulate")
        self.events.turn.emit(None)
        self.events.session.emit()

    def _show(self, turn: Turn) -> None:
        request = turn.request
        edits = dict(request.edits) if isinstance(request, Manipulate) else {}
        query_changed = turn.query is not self._query
        edits_changed = edits != self._edits
        self._query, self._edits = turn.query, edits
        if query_changed:
            self.events.query.emit(turn.query)
        if edits_changed:
            self.events.edits.emit(dict(edits))
        self.set_kind(request_kind(request))
        self.events.turn.emit(turn)
        self.events.session.emit()

    # --- requests from the state ---------------------------------------------------------------------
    def manipulate(self, category: str | None = None) -> Manipulate | None:
        """The current edits as a request (no edits: the query's nearest neighbours)."""
        return Manipulate(self._query, dict(self._edits), category) if self._query is not None else None
