"""The first run's data and what it has done, Qt-free (the dialog is first_run.py).

* :data:`FIRST_RUN_TRAINING`: the models trained at first run, in order, each with the time it takes on
  the reference machine (2 CPU cores, README "Quick start"), which weighs its share of the progress bar and
  seeds the time estimate before anything has been measured.
* :func:`thread_values`: the ``cpu_threads`` a first-run training gets (on a machine with two cores or
  fewer: two when the other programs leave the cores idle, else one, since a second thread gains on an
  idle 2-core machine and makes training many times slower as soon as anything else runs;
  inference/device.training_threads, measured by ``fashion bench threads``).
* :class:`FirstRunState`: ``<workspace>/first_run.json``, written after each finished step, so an
  interrupted first run (cancelled, or the app killed) can resume: the finished steps are skipped and the
  interrupted training continues from its ``state.pt`` (``fashion train --resume``) with the same option
  values, which the file keeps (a resumed run must have the options its state was saved with).
* :class:`BuildEstimate`: the time left over all steps, from the expected durations, corrected by how fast
  this machine did the finished steps.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fashion_gui.atomic import atomic_write_json
from fashion_gui.inference.cpu import training_threads
from fashion_gui.methods import list_methods
from fashion_gui.workspace import Workspace

STATE_FILE = "first_run.json"
STATE_VERSION = 1
CATALOG_STEP = "catalog"  # the step keys besides the method names
INDEX_STEP = "indexes"
THREADS_OPTION = "cpu_threads"


@dataclass(frozen=True)
class FirstRunTraining:
    """One model trained at first run: its method and how long its default training takes (2 CPU cores)."""

    method: str
    seconds: float


# the models trained at first run, in this order (each later one may build on the earlier ones)
FIRST_RUN_TRAINING: tuple[FirstRunTraining, ...] = (
    FirstRunTraining("adde", 180.0),
    FirstRunTraining("uigr-tirg", 80.0),
    FirstRunTraining("adde-o", 45.0),
)
CATALOG_SECONDS = 25.0  # rendering the default demo catalog
INDEX_SECONDS = 20.0  # encoding the gallery and building the indexes
OTHER_TRAINING_SECONDS = 60.0  # a method without an entry above


def expected_seconds(step: str) -> float:
    """How long a step usually takes (seconds on 2 CPU cores)."""
    if step == CATALOG_STEP:
        return CATALOG_SECONDS
    if step == INDEX_STEP:
        return INDEX_SECONDS
    return next((t.seconds for t in FIRST_RUN_TRAINING if t.method == step), OTHER_TRAINING_SECONDS)


def thread_values(option_names: Iterable[str], cpu_count: int | None, busy: float | None) -> dict[str, int]:
    """``{"cpu_threads": n}`` for a method with that option on a small machine, ``n`` from how many cores
    other programs keep ``busy`` (inference/device.training_threads); else nothing (the method's default)."""
    threads = training_threads(cpu_count, busy)
    if THREADS_OPTION in set(option_names) and threads is not None:
        return {THREADS_OPTION: threads}
    return {}


@dataclass
class FirstRunState:
    """What a first run has done. ``steps``: the step keys in order ("catalog", one per method, "indexes");
    ``finished``: those done; ``values``: each training's option values as its run.json held them;
    ``interrupted``: the step that was running when the run stopped (None: it stopped between steps)."""

    steps: list[str]
    finished: list[str] = field(default_factory=list)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: str | None = None

    @property
    def complete(self) -> bool:
        return all(step in self.finished for step in self.steps)

    @property
    def next_step(self) -> str | None:
        """The first step not finished (None when complete)."""
        return next((step for step in self.steps if step not in self.finished), None)

    def mark_finished(self, step: str) -> None:
        if step not in self.finished:
            self.finished.append(step)
        if self.interrupted == step:
            self.interrupted = None

    # --- the file ------------------------------------------------------------------------------------
    @staticmethod
    def path(workspace: Workspace) -> Path:
        return workspace.root / STATE_FILE

    def save(self, workspace: Workspace) -> None:
        atomic_write_json(self.path(workspace), {"version": STATE_VERSION, **asdict(self)})

    @classmethod
    def load(cls, workspace: Workspace) -> FirstRunState | None:
        """The workspace's interrupted first run, or None: no file, a file this version cannot read (or
        naming a method it does not know), or one that claims a catalog the workspace does not have (the
        folder was emptied since)."""
        path = cls.path(workspace)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
            return None
        steps, finished, values = raw.get("steps"), raw.get("finished"), raw.get("values")
        interrupted = raw.get("interrupted")
        if not (_strings(steps) and _strings(finished) and isinstance(values, dict)
                and all(isinstance(v, dict) for v in values.values())
                and (interrupted is None or isinstance(interrupted, str))):
            return None
        if (len(steps) < 2 or steps[0] != CATALOG_STEP or steps[-1] != INDEX_STEP
                or not set(steps[1:-1]) <= set(list_methods())):
            return None
        state = cls(list(steps), list(finished), {str(k): dict(v) for k, v in values.items()}, interrupted)
        if CATALOG_STEP in state.finished and not workspace.exists():
            return None
        return state

    @classmethod
    def remove(cls, workspace: Workspace) -> None:
        cls.path(workspace).unlink(missing_ok=True)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class BuildEstimate:
    """Time left over all steps. Before a step has run, each is expected to take its usual time; once
    steps have finished, the later ones are scaled by how much faster or slower this machine was on them.
    Within the running step its own estimate (a training's, from its pace) is used when there is one."""

    MIN_SCALE, MAX_SCALE = 0.2, 5.0

    def __init__(self, steps: Sequence[str], expected: Mapping[str, float] | None = None) -> None:
        self.steps = list(steps)
        self.expected = {s: float((expected or {}).get(s, expected_seconds(s))) for s in self.steps}
        self._measured: dict[str, float] = {}  # finished step -> seconds it took
        self._started: dict[str, float] = {}

    def start(self, step: str, now: float) -> None:
        self._started[step] = now

    def finish(self, step: str, now: float) -> None:
        if step in self._started:
            self._measured[step] = now - self._started[step]

    @property
    def scale(self) -> float:
        """Measured / expected time over the finished steps (1 before any has finished)."""
        expected = sum(self.expected[s] for s in self._measured)
        if expected <= 0:
            return 1.0
        return min(max(sum(self._measured.values()) / expected, self.MIN_SCALE), self.MAX_SCALE)

    def weights(self) -> list[float]:
        """Each step's share of the progress bar (its expected time; they sum to 1)."""
        total = sum(self.expected.values()) or 1.0
        return [self.expected[s] / total for s in self.steps]

    def remaining(self, step: str, fraction: float, now: float, step_remaining: float | None = None) -> float:
        """Seconds left: the rest of ``step`` (``fraction`` of it done) plus the steps after it."""
        i = self.steps.index(step)
        scale = self.scale
        if step_remaining is None:
            elapsed = now - self._started.get(step, now)
            if fraction >= 0.1 and elapsed > 0:
                step_remaining = elapsed / fraction * (1.0 - fraction)
            else:
                step_remaining = scale * self.expected[step] * (1.0 - min(max(fraction, 0.0), 1.0))
        return step_remaining + scale * sum(self.expected[s] for s in self.steps[i + 1:])
