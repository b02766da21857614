"""Metric reports that always carry their protocol choices (REFERENCE.md: "write the choice into every
report").

A report is ``{"task", "protocol", "metrics", "meta"}``; the ``*_protocol`` helpers return the switches of
``fashion_gui.evaluation.metrics`` with the pinned defaults, so a caller passes the same keyword arguments
to the metric and to its protocol record.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashion_gui.atomic import atomic_write_text
from fashion_gui.evaluation.metrics import ADDE_KS, AP_DENOMINATORS, UIGR_KS

# Where the NDCG discount comes from; recorded in every ADDE report.
NDCG_LOG = "natural: ln(i + 2), as compute_DCG in amzn/fashion-attribute-disentanglement src/utils.py"


def adde_protocol(*, reference_in_gallery: bool = True, ks: Sequence[int] = ADDE_KS) -> dict[str, Any]:
    """Choices behind ADDE's top-K accuracy and NDCG (pinned: the reference stays in the gallery)."""
    return {
        "reference_in_gallery": bool(reference_in_gallery),
        "distance": "exact L2 between L2-normalised features",
        "ties": "equal distances ordered by gallery row",
        "topk_hit": "any of the top K has the full target label vector (missing == missing)",
        "ndcg_log": NDCG_LOG,
        "ndcg_ideal": "a list of K perfect items (not the sorted actual relevances)",
        "ks": [int(k) for k in ks],
    }


def uigr_protocol(
    *, source_in_gallery: bool = True, ks: Sequence[int] = UIGR_KS, map_k: int = 50
) -> dict[str, Any]:
    """Choices behind UIGR's R@K and mAP@K (pinned: the source image stays in the gallery)."""
    return {
        "source_in_gallery": bool(source_in_gallery),
        "distance": "cosine (L2 between L2-normalised features)",
        "ties": "equal distances ordered by gallery row",
        "targets_per_query": 1,
        "map": f"mAP@{int(map_k)} = reciprocal rank of the target if within {int(map_k)}, else 0",
        "ks": [int(k) for k in ks],
    }


def asen_protocol(*, ap_denominator: str = "min(R,K)") -> dict[str, Any]:
    """Choices behind ASEN / MODC's AP@K, MAP@all and Recall@K (pinned AP@K denominator: min(R, K))."""
    if ap_denominator not in AP_DENOMINATORS:
        raise ValueError(f"unknown AP denominator {ap_denominator!r}; choose one of {AP_DENOMINATORS}")
    return {
        "ap_denominator": ap_denominator,
        "map_all_denominator": "R",
        "no_relevant": "a query with R = 0 scores AP = 0 and recall = 0 and still counts",
        "overall": "mean over attributes weighted by their number of queries",
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays unpacked, non-finite floats as null, keys as strings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (str, type(None))):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} into a metric report")


@dataclass
class MetricReport:
    """One evaluation's numbers plus the protocol choices that produced them."""

    task: str                                            # "adde", "uigr", "asen", "cooperative", ...
    metrics: dict[str, Any]                              # metric name -> value or {K: value}
    protocol: dict[str, Any]                             # switches, e.g. adde_protocol(...)
    meta: dict[str, Any] = field(default_factory=dict)   # model, checkpoint, dataset, split, query count

    def __post_init__(self) -> None:
        if not self.protocol:
            raise ValueError(f"the {self.task!r} report has no protocol: record its choices "
                             f"(e.g. adde_protocol(), uigr_protocol(), asen_protocol())")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN and inf become null."""
        return _jsonable({"task": self.task, "protocol": self.protocol, "metrics": self.metrics, "meta": self.meta})

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write the report atomically (temporary file in the same folder, then ``os.replace``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path


def report_dict(task: str, metrics: Mapping[str, Any], protocol: Mapping[str, Any], **meta: Any) -> dict[str, Any]:
    """Shorthand for ``MetricReport(task, metrics, protocol, meta).to_dict()``."""
    return MetricReport(task=task, metrics=dict(metrics), protocol=dict(protocol), meta=dict(meta)).to_dict()
