"""Crash injection: kill a writer at every step between two of its writes, or at a random moment, and check
that the workspace is still the old one or the new one, whole, and that every command works or refuses
clearly.

A writer runs in a forked child whose ``atomic.crash_point`` hook SIGKILLs it at the n-th step it reaches (no
``finally`` block, no ``atexit``: a real crash). ``record_points`` first lists the steps of a full run. Random
kills run the real ``fashion`` command in a child process and ``kill -9`` it after a random delay.

A scenario's ``state`` maps each unit that must commit as a whole (a checkpoint, an index, the catalog with its
images) to a fingerprint; after a crash every unit must equal its old or its new fingerprint.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashion_gui import atomic

BROKEN = "BROKEN"
State = dict[str, Any]  # unit -> fingerprint (or "BROKEN: why")


@dataclass
class Scenario:
    """A writer and how to judge the workspace it leaves.

    prepare(root): make the old workspace in ``root``; write(root): the writer (old -> new), run in-process in
    a child; state(root): unit -> fingerprint; argv(root): the same writer as a ``fashion`` command (random
    kills), or None."""

    name: str
    prepare: Callable[[Path], None]
    write: Callable[[Path], None]
    state: Callable[[Path], State]
    argv: Callable[[Path], list[str]] | None = None
    child_setup: Callable[[], None] | None = None  # run in the child before the writer (e.g. force a fallback)
    rule: Callable[[State, State], str] | None = None  # a cross-unit rule: (state, new) -> problem or ""


@dataclass
class Trial:
    scenario: str
    point: str  # the step it was killed at ("random after 1.3 s" for random kills)
    outcome: str  # killed | completed | failed
    whole: bool
    commands_ok: bool
    detail: str = ""
    cleaned_by_next_run: bool | None = None  # None: not checked (random kills)


@dataclass
class ScenarioResult:
    scenario: str
    points: list[str]
    trials: list[Trial] = field(default_factory=list)


# --- running a writer in a child that dies at a crash point -----------------------------------------
def _fork(fn: Callable[[], None], hook: atomic.CrashHook | None, setup: Callable[[], None] | None,
          report_fd: int | None = None) -> str:
    """Run ``fn`` in a forked child; returns "completed", "killed" or "failed: <traceback tail>"."""
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's stack
        code = 0
        try:
            os.close(err_r)
            if setup is not None:
                setup()
            atomic.set_crash_hook(hook)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                fn()
        except BaseException:
            os.write(err_w, traceback.format_exc()[-2000:].encode())
            code = 3
        finally:
            os._exit(code)
    os.close(err_w)
    with os.fdopen(err_r, "rb") as fh:
        error = fh.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return "killed"
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return "completed"
    return f"failed: {error.strip().splitlines()[-1] if error.strip() else status}"


def record_points(fn: Callable[[], None], setup: Callable[[], None] | None = None) -> list[str]:
    """The crash points a full run of ``fn`` passes, in order (run in a child)."""
    read_fd, write_fd = os.pipe()

    def hook(step: str) -> None:
        os.write(write_fd, step.encode() + b"\n")

    outcome = _fork(fn, hook, setup)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        steps = fh.read().decode().split()
    if outcome != "completed":
        raise RuntimeError(f"the writer failed without a crash: {outcome}")
    return steps


def crash_at(fn: Callable[[], None], n: int, setup: Callable[[], None] | None = None) -> str:
    """Run ``fn`` in a child that is killed (SIGKILL) at the ``n``-th crash point (1-based)."""
    count = [0]

    def hook(step: str) -> None:
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    return _fork(fn, hook, setup)


# --- judging -------------------------------------------------------------------------------------------
def is_whole(state: State, old: State, new: State,
             rule: Callable[[State, State], str] | None = None) -> tuple[bool, str]:
    """Every unit equals its old or its new fingerprint (and the scenario's rule holds); else (False, why)."""
    wrong = []
    for unit in sorted(set(state) | set(old) | set(new)):
        have = state.get(unit)
        if have != old.get(unit) and have != new.get(unit):
            wrong.append(f"{unit}: {str(have)[:200]}")
    broken = rule(state, new) if rule is not None else ""
    if broken:
        wrong.append(broken)
    return not wrong, "; ".join(wrong)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``fashion ARGV`` in-process: (exit status, stderr); a traceback gives status -1."""
    from fashion_gui.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except Exception as exc:
            return -1, f"Traceback: {type(exc).__name__}: {exc}"
    return rc, err.getvalue()


def commands_work(root: Path) -> tuple[bool, str]:
    """The commands a user would run next: each works, or refuses with one clear line (exit status 2)."""
    problems = []
    for argv in (["catalog", "info", "--workspace", str(root)],
                 ["search", "--workspace", str(root), "--item", "1", "--k", "3", "--device", "cpu", "--json"],
                 ["doctor", "--workspace", str(root), "--quick", "--json"]):
        rc, err = run_cli(argv)
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("  encode")]
        if argv[0] == "doctor":
            if rc not in (0, 1) or lines:
                problems.append(f"doctor: exit {rc} {err[-300:]}")
            continue
        if rc == 0:
            continue
        if rc != 2 or len(lines) != 1:
            problems.append(f"{' '.join(argv[:2])}: exit {rc}: {err[-300:]}")
    return not problems, "; ".join(problems)


def stale_leftovers(root: Path) -> list[str]:
    """What ``fashion doctor`` lists as leftovers of killed writers."""
    from fashion_gui.workspace_doctor import check_workspace

    return [p.path for p in check_workspace(root, images=False).problems if p.area == "leftovers"]


# --- a scenario ------------------------------------------------------------------------------------------
def run_scenario(scenario: Scenario, base: Path, limit: int | None = None,
                 rerun: bool = True) -> ScenarioResult:
    """Kill ``scenario``'s writer at each of its crash points (at most ``limit``, spread over the run)."""
    base = Path(base)
    old, new, points = old_and_new(scenario, base)
    old_root = base / "old"
    result = ScenarioResult(scenario.name, points)
    chosen = list(range(1, len(points) + 1))
    if limit is not None and len(chosen) > limit:
        step = len(chosen) / limit
        chosen = sorted({chosen[int(i * step)] for i in range(limit)} | {chosen[-1]})
    for n in chosen:
        trial_root = base / f"trial-{n}"
        shutil.copytree(old_root, trial_root, symlinks=True)
        outcome = crash_at(lambda r=trial_root: scenario.write(r), n, scenario.child_setup)
        result.trials.append(judge_trial(scenario, trial_root, f"{n}:{points[n - 1]}", outcome, old, new, rerun))
        shutil.rmtree(trial_root, ignore_errors=True)
    return result


def old_and_new(scenario: Scenario, base: Path) -> tuple[State, State, list[str]]:
    """Prepare ``base/old``, run the writer to completion on a copy (``base/new``); returns both states and
    the crash points the writer passed."""
    old_root, new_root = Path(base) / "old", Path(base) / "new"
    scenario.prepare(old_root)
    old = scenario.state(old_root)
    shutil.copytree(old_root, new_root, symlinks=True)
    points = record_points(lambda: scenario.write(new_root), scenario.child_setup)
    new = scenario.state(new_root)
    if old == new:
        raise RuntimeError(f"scenario {scenario.name}: the writer changed nothing")
    return old, new, points


def judge_trial(scenario: Scenario, root: Path, point: str, outcome: str, old: State, new: State,
                rerun: bool) -> Trial:
    whole, detail = is_whole(scenario.state(root), old, new, scenario.rule)
    ok, why = commands_work(root)
    trial = Trial(scenario.name, point, outcome.split(":")[0], whole, ok, "; ".join(x for x in (detail, why) if x))
    if rerun:  # the next run of the same writer completes and leaves nothing of the killed one behind
        again = _fork(lambda: scenario.write(root), None, scenario.child_setup)
        left = stale_leftovers(root)
        trial.cleaned_by_next_run = again == "completed" and not left
        if not trial.cleaned_by_next_run:
            trial.detail += f"; next run: {again}, left {left[:3]}"
        final_whole, final_detail = is_whole(scenario.state(root), new, new)
        if not final_whole:
            trial.whole = False
            trial.detail += f"; after the next run: {final_detail}"
    return trial


def random_kill(scenario: Scenario, base: Path, delay: float, old: State,
                new: State | None) -> tuple[Trial, State]:
    """Run ``scenario.argv`` as a real ``fashion`` process on a copy of the old workspace, ``kill -9`` it after
    ``delay`` seconds, and judge what it left (``new`` None: a calibration run, judged on its own). Returns
    the trial and the state it left."""
    root = Path(base) / f"kill-{time.monotonic_ns()}"
    shutil.copytree(Path(base) / "old", root, symlinks=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "fashion_gui.cli.main", *scenario.argv(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        proc.wait(timeout=delay)
        outcome = "completed" if proc.returncode == 0 else f"failed ({proc.returncode})"
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        outcome = "killed"
    state = scenario.state(root)
    whole, detail = is_whole(state, old, new if new is not None else state, scenario.rule if new else None)
    ok, why = commands_work(root)
    trial = Trial(scenario.name, f"random after {delay:.2f} s", outcome, whole, ok,
                  "; ".join(x for x in (detail, why) if x))
    shutil.rmtree(root, ignore_errors=True)
    return trial, state


def kill_trials(scenario: Scenario, base: Path, delays: list[float]) -> tuple[float, list[Trial]]:
    """One full run of the command (its state is the new one; it times the command), then one run per delay
    killed after that many seconds. ``delays`` are fractions of the full run's duration. Returns the
    duration and the trials (the calibration run's own trial first when it failed)."""
    old = scenario.state(Path(base) / "old")
    start = time.perf_counter()
    calibration, new = random_kill(scenario, base, 3600.0, old, None)
    duration = time.perf_counter() - start
    if calibration.outcome != "completed" or any(str(v).startswith(BROKEN) for v in new.values()):
        calibration.point, calibration.whole = "full run", False
        return duration, [calibration]
    return duration, [random_kill(scenario, base, f * duration, old, new)[0] for f in delays]
