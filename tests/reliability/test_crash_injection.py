"""Kill the writers at every step between two writes (and, for a bounded number of trials, at random moments
with a real ``kill -9``): the workspace is the old one or the new one, whole; the next commands work or refuse
in one line; the next run of the same writer completes and leaves nothing of the killed one behind."""
from __future__ import annotations

import os

import numpy as np
import pytest

from fashion_gui.reliability.crash import old_and_new, random_kill, run_scenario
from fashion_gui.reliability.scenarios import crash_scenarios, demo_scenario, import_scenario, index_scenario

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="crash injection forks the writer")

EXPECTED_STEPS = {  # every write step of each writer is a crash point
    "checkpoint save": {"checkpoint:weights", "checkpoint:config", "commit_dir:staged", "commit_dir:exchanged"},
    "checkpoint save (two-rename fallback)": {"commit_dir:moved_old", "commit_dir:moved_new"},
    "index build": {"index:data_written", "index:data_renamed", "atomic:manifest.json:replaced",
                    "atomic:index_config.json:written"},
    "catalog import": {"catalog:derived_dropped", "catalog:written", "catalog:replaced"},
    "demo build": {"demo:rendered", "demo:images_in_place", "catalog:written", "catalog:replaced"},
}


@pytest.mark.parametrize("scenario", crash_scenarios(), ids=lambda s: s.name)
def test_a_kill_at_every_crash_point_leaves_a_whole_workspace(scenario, tmp_path):
    result = run_scenario(scenario, tmp_path)
    assert EXPECTED_STEPS[scenario.name] <= set(result.points)
    assert len(result.trials) == len(result.points) and all(t.outcome == "killed" for t in result.trials)
    bad = [t for t in result.trials if not (t.whole and t.commands_ok and t.cleaned_by_next_run)]
    assert bad == []


def test_kill_9_at_random_moments(tmp_path):
    """A real ``fashion`` process per writer, killed after a random delay (bounded: one trial each; ``fashion
    bench reliability`` runs more, timed from a full run)."""
    rng = np.random.default_rng(14)
    trials = []
    for make in (index_scenario, import_scenario, demo_scenario):
        scenario = make()
        base = tmp_path / scenario.name.replace(" ", "-")
        old, new, _ = old_and_new(scenario, base)
        trial, _ = random_kill(scenario, base, float(rng.uniform(1.5, 4.5)), old, new)
        trials.append(trial)
    assert [t for t in trials if not (t.whole and t.commands_ok)] == []
