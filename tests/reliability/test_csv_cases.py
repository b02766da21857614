"""Awkward CSV imports: each imports, or is refused naming the file (and its row or line), exit status 2, no
traceback, no catalog written."""
from __future__ import annotations

import pytest

from fashion_gui.reliability.csv_cases import csv_cases, run_case

CASES = csv_cases()


def test_there_are_many_cases_of_both_kinds():
    assert len(CASES) >= 40 and sum(c.expect == "import" for c in CASES) >= 5


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_csv_case(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.result == ("imported" if case.expect == "import" else "clear"), outcome.message
