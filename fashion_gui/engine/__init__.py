"""The retrieval engine (DESIGN.md "Engine contract"): Qt-free, owns models and indexes, one worker thread.

``RetrievalEngine`` (and torch with it) loads on first use (PEP 562), so the app can show its window and
hold an :class:`EngineConfig` before torch is imported (issue 16).
"""
from __future__ import annotations

from typing import Any

from fashion_gui.engine.config import EngineConfig
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
    "AttributeValues", "CategoryQuery", "Compatible", "EngineConfig", "EngineError", "Hit", "Manipulate",
    "NotAvailableError", "PathResult", "QueryState", "Request", "RequestError", "Results", "RetrievalEngine", "Session",
    "SimilarIn", "TextFeedback", "Turn", "TypicalityResult",
]


def __getattr__(name: str) -> Any:
    if name == "RetrievalEngine":
        from fashion_gui.engine.engine import RetrievalEngine

        return RetrievalEngine
    raise AttributeError(f"module 'fashion_gui.engine' has no attribute {name!r}")
