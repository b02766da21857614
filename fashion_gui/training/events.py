"""Training progress events and the reporters that consume them (minGPT-style callbacks, not prints)."""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO

from tqdm import tqdm


@dataclass
class TrainEvent:
    """One progress event. ``kind``: plan | start | step | epoch | checkpoint | done | error. A run begins with
    one ``plan`` event listing its stages (name, title, epochs); later events carry ``stage_index`` (1-based)
    and ``stage_count`` so a listener can show overall progress."""

    kind: str
    stage: str = ""                # e.g. "attributes", "manipulation"
    epoch: int = 0                 # 1-based within the stage
    epochs: int = 0
    step: int = 0                  # 1-based within the epoch
    steps: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    images_per_second: float = 0.0
    message: str = ""
    path: str = ""
    stage_index: int = 0           # 1-based position of ``stage`` in the plan
    stage_count: int = 0
    plan: list[dict] = field(default_factory=list)  # the "plan" event: [{"name", "title", "epochs"}, ...]

    def to_json(self) -> str:
        def clean(v):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                v = round(float(v), 6)
                return v if math.isfinite(v) else None
            return v
        data = {k: v for k, v in asdict(self).items() if v not in ("", 0, 0.0, {}, []) or k == "kind"}
        for key in ("losses", "metrics"):
            if key in data:
                data[key] = {k: clean(v) for k, v in data[key].items()}
        return json.dumps(data)


Callback = Callable[[TrainEvent], None]


class JsonLinesReporter:
    """Writes one JSON object per line (``--progress-json``): what the app's QProcess reads."""

    def __init__(self, stream: IO[str] | None = None, every: int = 1) -> None:
        self.stream = stream or sys.stdout
        self.every = max(1, every)

    def __call__(self, event: TrainEvent) -> None:
        if event.kind == "step" and event.step % self.every and event.step != event.steps:
            return
        self.stream.write(event.to_json() + "\n")
        self.stream.flush()


class TqdmReporter:
    """A progress bar per epoch on stderr, with the running losses; epoch metrics printed below."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def __call__(self, event: TrainEvent) -> None:
        if event.kind == "step":
            if self._bar is None or event.step == 1:
                self._close()
                self._bar = tqdm(total=event.steps, desc=f"{event.stage} {event.epoch}/{event.epochs} (stage {event.stage_index}/{event.stage_count})",
                                 file=sys.stderr, leave=False)
            self._bar.update(event.step - self._bar.n)
            self._bar.set_postfix({k: f"{v:.3f}" for k, v in list(event.losses.items())[:4]})
        elif event.kind == "epoch":
            self._close()
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in event.metrics.items())
            losses = ", ".join(f"{k} {v:.3f}" for k, v in event.losses.items())
            print(f"{event.stage} epoch {event.epoch}/{event.epochs}: {losses} | {metrics} "
                  f"({event.images_per_second:.0f} img/s)", file=sys.stderr)
        elif event.kind in ("done", "error", "start", "checkpoint") and event.message:
            self._close()
            print(event.message, file=sys.stderr)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
