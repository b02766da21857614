"""The retrieval engine (DESIGN.md "Engine contract"): Qt-free, owns models and indexes, one worker thread."""
from fashion_gui.engine.engine import EngineConfig, RetrievalEngine
from fashion_gui.engine.requests import (
    AttributeValues,
    CategoryQuery,
    Compatible,
    EngineError,
    Hit,
    Manipulate,
    NotAvailableError,
    PathResult,
    QueryState,
    Request,
    RequestError,
    Results,
    SimilarIn,
    TextFeedback,
    TypicalityResult,
)
from fashion_gui.engine.session import Session, Turn

__all__ = [
    "AttributeValues", "CategoryQuery", "Compatible", "EngineConfig", "EngineError", "Hit", "Manipulate", "NotAvailableError", "PathResult",
    "QueryState", "Request", "RequestError", "Results", "RetrievalEngine", "Session", "SimilarIn", "TextFeedback",
    "Turn", "TypicalityResult",
]
