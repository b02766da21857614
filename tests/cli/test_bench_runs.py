"""Resumable benchmark files: earlier runs are read back, a foreign file is refused with a message."""
import json

import pytest

from fashion_gui.cli.bench_runs import previous_runs


def test_previous_runs_resume_and_refuse_foreign_files(tmp_path):
    path = tmp_path / "bench.json"
    assert previous_runs(path) == []
    runs = [{"method": "adde", "seed": 0, "metrics": {"top-10": 0.8}}]
    path.write_text(json.dumps({"runs": runs, "summary": None}))
    assert previous_runs(path) == runs
    path.write_text(json.dumps({"something": "else"}))
    with pytest.raises(SystemExit, match="not a benchmark file.*pick another --json"):
        previous_runs(path)
