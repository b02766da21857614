"""The search window's view-model without a window: events fire once per change, in order; undo/redo walk
the session without searching; edits are relative to the query; and the module imports no Qt."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashion_gui.engine import Compatible, Manipulate, QueryState, Results, SimilarIn, TextFeedback
from fashion_gui.ui.search_state import Event, SearchState, request_kind

ROOT = Path(__file__).resolve().parents[2]


def _query(item_id: int, colour: str = "blue") -> QueryState:
    return QueryState(embedding=np.zeros(4, np.float32), labels=np.zeros(2, np.int64),
                      attributes={"colour": colour, "pattern": "solid"},
                      predicted={"colour": (colour, 0.9), "pattern": ("solid", 0.8)}, category="dress",
                      item_id=item_id, source=f"catalog item {item_id}")


def _results(request) -> Results:
    return Results(request=request, hits=(), requested={}, space="full", seconds=0.0)


class Recorder:
    """Every event of a state as (name, payload) in the order they fired."""

    def __init__(self, state: SearchState) -> None:
        self.calls: list[tuple] = []
        events = state.events
        events.query.connect(lambda q: self.calls.append(("query", q.item_id if q is not None else None)))
        events.edits.connect(lambda e: self.calls.append(("edits", e)))
        events.kind.connect(lambda k: self.calls.append(("kind", k)))
        events.turn.connect(lambda t: self.calls.append(("turn", t.label if t is not None else None)))
        events.session.connect(lambda: self.calls.append(("session",)))

    def take(self) -> list[tuple]:
        calls, self.calls = self.calls, []
        return calls


def test_search_state_imports_no_qt():
    code = ("import sys; import fashion_gui.ui.search_state; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qtawesome')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_events_follow_queries_edits_and_kinds():
    state = SearchState()
    rec = Recorder(state)
    q1, q2 = _query(1), _query(2)
    assert state.query is None and state.kind == "manipulate" and not state.can_undo
    assert not state.set_edit("colour", "red")  # no query yet: nothing to edit
    assert rec.take() == []

    state.record(_results(Manipulate(q1, {})))
    assert rec.take() == [("query", 1), ("turn", "similar"), ("session",)]
    assert state.query is q1 and state.edits == {} and len(state) == 1

    # an edit: only the edits event; the same edit again, or the query's own value, changes nothing
    assert state.set_edit("colour", "red")
    assert rec.take() == [("edits", {"colour": "red"})]
    assert not state.set_edit("colour", "red") and rec.take() == []
    assert state.manipulate("dress").edits == {"colour": "red"} and state.manipulate("dress").category == "dress"
    edited = state.edits
    edited["pattern"] = "striped"  # a copy: the state is unchanged
    assert state.edits == {"colour": "red"}

    # the answer to the edit: same query, same edits -> only the turn and the session
    state.record(_results(Manipulate(q1, {"colour": "red"})))
    assert rec.take() == [("turn", "colour=red"), ("session",)]

    # text feedback on the same query: the edits go, the kind changes
    state.record(_results(TextFeedback(q1, "change colour to red")))
    assert rec.take() == [("edits", {}), ("kind", "text"), ("turn", "\u201cchange colour to red\u201d"), ("session",)]

    # a new query from a result
    state.record(_results(SimilarIn(q2, "pattern")))
    assert rec.take() == [("query", 2), ("kind", "similar_in"), ("turn", "similar in pattern"), ("session",)]
    assert [label for label, _ in state.breadcrumb()] == ["similar", "colour=red", "\u201cchange colour to red\u201d",
                                                        "similar in pattern"]
    assert [current for _, current in state.breadcrumb()] == [False, False, False, True]


def test_undo_and_redo_move_through_turns_without_new_turns():
    state = SearchState()
    q1, q2 = _query(1), _query(2, "red")
    for request in (Manipulate(q1, {}), Manipulate(q1, {"colour": "red"}), Compatible(q1, "shoes"),
                    Manipulate(q2, {})):
        state.record(_results(request))
    rec = Recorder(state)

    assert state.undo().request.target_category == "shoes"
    assert rec.take() == [("query", 1), ("kind", "compatible"), ("turn", "shoes to go with it"), ("session",)]
    state.undo()
    assert state.edits == {"colour": "red"} and state.kind == "manipulate" and len(state) == 4
    assert rec.take() == [("edits", {"colour": "red"}), ("kind", "manipulate"), ("turn", "colour=red"), ("session",)]
    state.undo()
    assert state.undo() is None and not state.can_undo and state.can_redo
    rec.take()
    assert state.redo().request.edits == {"colour": "red"} and state.edits == {"colour": "red"}
    assert rec.take() == [("edits", {"colour": "red"}), ("turn", "colour=red"), ("session",)]

    # a new answer after undo drops the redo tail
    state.record(_results(Manipulate(q1, {"pattern": "striped"})))
    assert len(state) == 3 and not state.can_redo and state.edits == {"pattern": "striped"}

    # reset: no query, no turns; the events say so once
    rec.take()
    assert state.reset_edits() and rec.take() == [("edits", {})] and not state.reset_edits()
    state.reset()
    assert state.query is None and len(state) == 0 and state.kind == "manipulate"
    assert rec.take() == [("query", None), ("turn", None), ("session",)]


def test_request_kinds_and_events():
    q = _query(1)
    assert [request_kind(r) for r in (Manipulate(q, {}), SimilarIn(q, "colour"), TextFeedback(q, "x"),
                                      Compatible(q, "bag"), None)] == \
        ["manipulate", "similar_in", "text", "compatible", "manipulate"]
    event, seen = Event(), []
    event.connect(seen.append)
    event.connect(lambda v: seen.append(v * 2))
    event.emit(3)
    assert seen == [3, 6]
    event.disconnect(seen.append)
    event.emit(1)
    assert seen == [3, 6, 2]
    with pytest.raises(ValueError):
        event.disconnect(seen.append)
