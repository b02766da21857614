"""Sessions: turns, undo/redo, and hits seeding the next turn."""
import numpy as np

from fashion_gui.engine import Manipulate, QueryState, Results, Session, SimilarIn, TextFeedback, Turn


def _query(name: str) -> QueryState:
    return QueryState(embedding=np.zeros(4, np.float32), labels=np.zeros(1, np.int64), attributes={"colour": name},
                      predicted={}, category="shirt", source=name)


def _results(request) -> Results:
    return Results(request, (), {}, "full", 0.0)


def test_undo_redo_walks_turns_and_a_new_turn_drops_the_redo_tail():
    s = Session()
    assert s.current is None and not s.can_undo and not s.can_redo and s.undo() is None
    a = s.start(_query("a"))
    r1 = s.record(_results(Manipulate(a.query, {"colour": "red"})))
    r2 = s.record(_results(SimilarIn(a.query, "pattern")))
    assert len(s) == 3 and s.current is r2 and s.can_undo and not s.can_redo
    assert s.undo() is r1 and s.undo() is a and s.undo() is None and s.current is a
    assert s.redo() is r1 and s.current is r1 and s.can_redo
    b = s.start(_query("b"))  # a hit made the next query: the redo tail (r2) is gone
    assert s.turns == (a, r1, b) and not s.can_redo and s.redo() is None
    assert s.go_to(0) is a and s.cursor == 0 and s.redo() is r1


def test_turn_labels_for_the_breadcrumb():
    q = _query("a")
    assert Turn(q).label == "a"
    assert Turn(q, Manipulate(q, {"colour": "red", "sleeve": "long"})).label == "colour=red, sleeve=long"
    assert Turn(q, SimilarIn(q, "pattern")).label == "similar in pattern"
    assert Turn(q, TextFeedback(q, "is red")).label == "\u201cis red\u201d"
