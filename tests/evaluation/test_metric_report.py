"""Metric reports carry their protocol choices and serialise to strict JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fashion_gui.evaluation.report import MetricReport, adde_protocol, asen_protocol, report_dict, uigr_protocol


def test_protocol_helpers_record_the_pinned_defaults_and_switches():
    assert adde_protocol()["reference_in_gallery"] is True
    assert adde_protocol(reference_in_gallery=False)["reference_in_gallery"] is False
    assert "natural" in adde_protocol()["ndcg_log"]
    assert uigr_protocol()["source_in_gallery"] is True
    assert asen_protocol()["ap_denominator"] == "min(R,K)"
    assert asen_protocol(ap_denominator="hits")["ap_denominator"] == "hits"
    with pytest.raises(ValueError, match="denominator"):
        asen_protocol(ap_denominator="K")


def test_report_dict_is_json_ready():
    out = report_dict(
        "adde",
        {"topk": {10: np.float64(0.5)}, "ndcg_others": {1: float("nan")}, "per_type": np.array([0.5, 1.0])},
        adde_protocol(),
        model="adde-alexnet",
        n_queries=np.int64(3),
    )
    assert out["protocol"]["reference_in_gallery"] is True
    assert out["metrics"] == {"topk": {"10": 0.5}, "ndcg_others": {"1": None}, "per_type": [0.5, 1.0]}
    assert out["meta"] == {"model": "adde-alexnet", "n_queries": 3}
    json.dumps(out, allow_nan=False)


def test_report_without_protocol_is_refused():
    with pytest.raises(ValueError, match="no protocol"):
        MetricReport(task="asen", metrics={"map": 0.5}, protocol={})


def test_write_json_round_trip(tmp_path):
    report = MetricReport(task="asen", metrics={"map_all": 0.25}, protocol=asen_protocol(ap_denominator="R"))
    path = report.write_json(tmp_path / "reports" / "asen.json")
    loaded = json.loads(path.read_text())
    assert loaded["protocol"]["ap_denominator"] == "R" and loaded["metrics"] == {"map_all": 0.25}
    assert sorted(p.name for p in path.parent.iterdir()) == ["asen.json"]
