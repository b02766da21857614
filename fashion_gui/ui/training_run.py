"""``fashion`` commands in a separate process (QProcess), so a cancel is real and a crash or a CUDA out-of-memory
error cannot take the app down (DESIGN.md, threads and processes).

``CliRun`` runs one subcommand (``python -m fashion_gui.cli.main ...``) and reports its output lines;
``TrainingRun`` runs ``fashion train METHOD --config RUN_JSON ... --progress-json`` with option values
checked against the method registry, and turns its JSON lines (training/events.py ``TrainEvent.to_json``:
a ``plan`` of the stages first, then step / epoch events with their ``stage_index``) into events, progress
over the whole run with a time estimate, and the checkpoint name.

What a cancelled training leaves on disk: the trainers write every file atomically (temporary name, then
rename) and commit ``weights.pt``, ``config.json`` and ``metrics.json`` as one folder only when the whole run
ends (inference/checkpoint.py), so a cancelled run never adds a checkpoint; at each epoch end they save
``state.pt`` (for ``--resume``). A kill cannot run the atomic writer's cleanup, so after the process is gone
``tidy_cancelled_checkpoint`` removes the ``.tmp-*`` file or staged checkpoint folder a kill may have cut
short, a final save cut between its files by an older version (new ``weights.pt`` without its
``config.json``), and the folder itself when this run created it and left nothing in it. What stays:
``state.pt`` of the last finished epoch (ADDE and UIGR methods; resumable) and any checkpoint the folder held
before the run, unchanged.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from fashion_gui.atomic import TMP_PREFIX, atomic_write_json, remove_stale_temps
from fashion_gui.methods import MethodSpec, get_method
from fashion_gui.workspace import Workspace

CLI_MODULE = "fashion_gui.cli.main"
EVENT_KINDS = ("plan", "start", "step", "epoch", "checkpoint", "done", "error")
# a tqdm bar line on stderr (``fashion catalog demo``): "render:  45%|####   | 450/1000 [00:02<00:03, ...]"
TQDM_LINE = re.compile(r"^(?P<label>[^|]*?):\s*(?P<pct>\d+)%\|.*?\|\s*(?P<done>\d+)/(?P<total>\d+)")
MAX_LINE = 1 << 20  # a "line" this long without a newline is passed on as it is
PROGRESS_SCALE = 1000  # TrainingRun.progress reports per mille
DEVICE_OPTION = "device"  # the option naming where a method trains; the app fills in the device chosen in Settings


# --- output parsing (no Qt) ---------------------------------------------------------------------------
class LineBuffer:
    """Splits a byte stream into text lines, keeping an unfinished line until its end arrives."""

    def __init__(self, carriage_returns: bool = False) -> None:
        self.carriage_returns = carriage_returns  # "\r" ends a line too (progress bars redraw with it)
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        data = self._pending + data
        if self.carriage_returns:
            data = data.replace(b"\r", b"\n")
        *lines, self._pending = data.split(b"\n")
        if len(self._pending) > MAX_LINE:
            lines.append(self._pending)
            self._pending = b""
        return [t for t in (_decode(line) for line in lines) if t]

    def flush(self) -> list[str]:
        """The unfinished line, if any (call when the stream has ended)."""
        rest, self._pending = _decode(self._pending), b""
        return [rest] if rest else []


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r\n ")


def parse_event(line: str) -> dict | None:
    """A progress event (a JSON object with a known ``kind``) from one stdout line; None for any other text."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and obj.get("kind") in EVENT_KINDS else None


def describe_event(event: dict) -> str | None:
    """One log line for an event (the pane's log); None for step events, which only move the progress."""
    kind = event.get("kind")
    if kind == "step":
        return None
    if kind == "plan":
        stages = [f"{s.get('title') or s.get('name', '?')} ({_epochs(s.get('epochs', 0))})"
                  for s in event.get("plan", [])]
        return "plan: " + " \u2192 ".join(stages) if stages else None
    if kind == "epoch" and event.get("epoch"):
        losses = ", ".join(f"{k} {v:.3f}" for k, v in event.get("losses", {}).items() if v is not None)
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in event.get("metrics", {}).items() if v is not None)
        rate = f" ({event['images_per_second']:.0f} img/s)" if event.get("images_per_second") else ""
        return f"{event.get('stage', '')} epoch {event['epoch']}/{event.get('epochs', '?')}: {losses}" + \
            (f" | {metrics}" if metrics else "") + rate
    text = event.get("message") or (f"checkpoint {event['path']}" if event.get("path") else "")
    return f"{kind}: {text}" if kind == "error" else text or None


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def format_remaining(seconds: float) -> str:
    """A time estimate in words: "about 40 s left", "about 3 min left", "about 1 h 20 min left"."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


@dataclass
class Stage:
    """One training stage as far as progress goes: its name in events, its epochs and its title."""

    name: str
    epochs: int
    title: str = ""


def device_values(spec: MethodSpec, device: str) -> dict[str, str]:
    """``{"device": device}`` for a method that has the device option, else nothing."""
    return {DEVICE_OPTION: device} if any(o.name == DEVICE_OPTION for o in spec.options()) else {}


def planned_stages(spec: MethodSpec, config: Any) -> list[Stage]:
    """The stages a run of ``config`` goes through (the registry's plan, before the run's own plan event)."""
    return [Stage(stage.name, epochs, stage.title) for stage, epochs in spec.stage_epochs(config)]


class ProgressTracker:
    """Where a run stands over all its stages, in epochs: ``position`` of ``total`` (steps are fractions).
    The run's ``plan`` event replaces the stages it started with; later events name their stage by
    ``stage_index`` (1-based) or, failing that, by name."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = [dataclasses.replace(s) for s in stages] or [Stage("", 1)]
        self.position = 0.0
        self.index = 0  # 0-based index of the stage the last event was in

    @property
    def total(self) -> float:
        return float(sum(max(s.epochs, 0) for s in self.stages)) or 1.0

    @property
    def stage(self) -> Stage:
        return self.stages[self.index]

    def _stage(self, event: dict) -> int:
        index = event.get("stage_index")
        if isinstance(index, int) and 1 <= index <= len(self.stages):
            return index - 1
        name = str(event.get("stage", ""))
        for i, s in enumerate(self.stages):
            if s.name == name:
                return i
        for i, s in enumerate(self.stages):  # the first unnamed planned stage takes the name
            if s.name == "":
                s.name = name
                return i
        self.stages.append(Stage(name, 0))
        return len(self.stages) - 1

    def update(self, event: dict) -> float:
        """Advance with one event; returns the position (never moves back)."""
        kind = event.get("kind")
        if kind == "plan" and event.get("plan"):
            self.stages = [Stage(str(s.get("name", "")), int(s.get("epochs", 0)), str(s.get("title", "")))
                           for s in event["plan"]]
            self.position = min(self.position, self.total)
        elif kind == "done":
            self.position = self.total
            self.index = len(self.stages) - 1
        elif kind in ("step", "epoch") and event.get("epoch"):
            i = self.index = self._stage(event)
            if event.get("epochs"):
                self.stages[i].epochs = int(event["epochs"])
            within = 1.0 if kind == "epoch" else event.get("step", 0) / max(event.get("steps", 1), 1)
            position = sum(s.epochs for s in self.stages[:i]) + event["epoch"] - 1 + within
            self.position = max(self.position, min(position, self.total))
        return self.position

    def stage_label(self) -> str:
        """"stage 2 of 2: memory-block manipulation" (just the title when the run has one stage)."""
        stage = self.stage
        title = stage.title or stage.name
        if len(self.stages) == 1:
            return title
        return f"stage {self.index + 1} of {len(self.stages)}: {title}"


# --- processes ----------------------------------------------------------------------------------------
def child_environment() -> QProcessEnvironment:
    """The app's environment for a child: unbuffered UTF-8 output; OMP_NUM_THREADS only if the app has it."""
    env = QProcessEnvironment.systemEnvironment()
    env.insert("PYTHONUNBUFFERED", "1")
    env.insert("PYTHONIOENCODING", "utf-8")
    if "OMP_NUM_THREADS" in os.environ:
        env.insert("OMP_NUM_THREADS", os.environ["OMP_NUM_THREADS"])
    else:
        env.remove("OMP_NUM_THREADS")
    source_root = Path(__file__).resolve().parents[2]
    if (source_root / "pyproject.toml").is_file():  # a source checkout: the child imports the same code
        paths = [str(source_root), *filter(None, env.value("PYTHONPATH", "").split(os.pathsep))]
        env.insert("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths)))
    return env


class CliRun(QObject):
    """One ``fashion`` subcommand in a child process. Output lines go to ``log`` (tqdm bars on stderr move
    ``progress`` instead); it ends with exactly one of ``finished(result)``, ``failed(message)``,
    ``cancelled()``. ``failed`` carries the command's own error line (``fashion ...: error: ...``)."""

    log = Signal(str)
    progress = Signal(int, int, str)  # done, total, label
    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    KILL_AFTER_MS = 3000  # after terminate(), kill() if the process is still there
    STDERR_TAIL = 20

    def __init__(self, args: Sequence[str], title: str, result: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.args = [str(a) for a in args]
        self.title = title
        self.result = result  # what ``finished`` carries
        self.outcome = "idle"  # idle | running | finished | failed | cancelled
        self.exit_code: int | None = None
        self.error: str | None = None
        self.started_at = 0.0
        self._cancel_requested = False
        self._stdout = LineBuffer()
        self._stderr = LineBuffer(carriage_returns=True)
        self._stderr_tail: deque[str] = deque(maxlen=self.STDERR_TAIL)
        self._last_bar: tuple[str, str, str] | None = None
        self.process = QProcess(self)
        self.process.setProgram(sys.executable)
        self.process.setArguments(["-m", CLI_MODULE, *self.args])
        self.process.setProcessEnvironment(child_environment())
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.process.kill)

    @property
    def command_line(self) -> str:
        return "fashion " + shlex.join(self.args)

    def is_running(self) -> bool:
        return self.process.state() != QProcess.NotRunning

    def start(self) -> None:
        if self.outcome != "idle":
            raise RuntimeError(f"{self.title} was already started; make a new run")
        self.outcome = "running"
        self.started_at = time.time()
        self.log.emit(f"$ {self.command_line}")
        self.process.start()

    def cancel(self, wait_ms: int | None = None) -> bool:
        """Terminate the process, then kill it if it is still there after ``KILL_AFTER_MS`` (or ``wait_ms``,
        blocking: for closing the app). Returns False when nothing was running."""
        if not self.is_running():
            return False
        self._cancel_requested = True
        self.log.emit("cancelling...")
        self.process.terminate()
        if wait_ms is None:
            self._kill_timer.start(self.KILL_AFTER_MS)
            return True
        if not self.process.waitForFinished(wait_ms):
            self.process.kill()
            self.process.waitForFinished(5000)
        return True

    def wait(self, ms: int) -> bool:
        """Block until the process has ended (True) or ``ms`` passed."""
        return not self.is_running() or self.process.waitForFinished(ms)

    # --- output --------------------------------------------------------------------------------------
    def feed_stdout(self, data: bytes) -> None:
        """Bytes read from the child's stdout (public so the parsing can be tested without a process)."""
        for line in self._stdout.feed(data):
            self._stdout_line(line)

    def _read_stdout(self) -> None:
        self.feed_stdout(bytes(self.process.readAllStandardOutput()))

    def _read_stderr(self) -> None:
        for line in self._stderr.feed(bytes(self.process.readAllStandardError())):
            self._stderr_line(line)

    def _stdout_line(self, line: str) -> None:
        self.log.emit(line)

    def _stderr_line(self, line: str) -> None:
        bar = TQDM_LINE.match(line)
        if bar:
            self.progress.emit(int(bar["done"]), max(int(bar["total"]), 1), bar["label"].strip())
            key = (bar["label"], bar["done"], bar["total"])
            if int(bar["pct"]) < 100 or key == self._last_bar:  # only a bar's final state is logged, once
                return
            self._last_bar = key
        self._stderr_tail.append(line)
        self.log.emit(line)

    # --- the end -------------------------------------------------------------------------------------
    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._release()
        for line in self._stdout.flush():
            self._stdout_line(line)
        for line in self._stderr.flush():
            self._stderr_line(line)
        self.exit_code = exit_code
        if self.outcome != "running":
            return
        if self._cancel_requested:
            self.outcome = "cancelled"
            for note in self._after_cancel():
                self.log.emit(note)
            self.log.emit(f"{self.title}: cancelled")
            self.cancelled.emit()
        elif exit_status == QProcess.NormalExit and exit_code == 0 and self._succeeded():
            self.outcome = "finished"
            self.finished.emit(self.result)
        else:
            self._fail(self._failure_message(exit_code, exit_status))

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.FailedToStart and self.outcome == "running":  # no finished() follows
            self._release()
            self._fail(f"{self.title} could not start {sys.executable}: {self.process.errorString()}")

    def _fail(self, message: str) -> None:
        self.outcome = "failed"
        self.error = message
        self.failed.emit(message)

    def _succeeded(self) -> bool:
        return True

    def _release(self) -> None:
        """The process has ended (or never started): remove what was written only for it."""

    def _after_cancel(self) -> list[str]:
        return []

    def _failure_message(self, exit_code: int, exit_status: QProcess.ExitStatus) -> str:
        how = "crashed" if exit_status == QProcess.CrashExit else f"failed (exit code {exit_code})"
        tail = list(self._stderr_tail)
        errors = [i for i, line in enumerate(tail) if "error:" in line.lower()]
        detail = tail[errors[-1]:][:12] if errors else tail[-6:]  # the error line and what it lists below it
        return f"{self.title} {how}." + ("\n" + "\n".join(detail) if detail else " It printed nothing on stderr.")


class TrainingRun(CliRun):
    """``fashion train METHOD --workspace W --config RUN_JSON --name NAME --progress-json`` in a child process.

    ``values`` are option values of the method (``MethodSpec.options()``), validated here through
    ``spec.make_config`` (a ValueError with the registry's message, before anything starts); :meth:`start`
    writes the resolved options to ``<workspace>/checkpoints/.run-NAME.json`` and removes that file when the
    process has ended. ``event`` carries each JSON event plus ``position`` and ``total_epochs`` (where the
    run stands, in epochs over all stages, from the run's plan); with ``resume`` the command continues from the
    checkpoint folder's ``state.pt`` (the values must be those the state was saved with); ``progress`` is per
    mille of the whole run
    with a label naming the stage ("stage 2 of 2: memory-block manipulation"), the epoch and a time estimate;
    ``finished`` carries the checkpoint name. Text lines on stdout and stderr go to ``log``. See the module
    docstring for what a cancel leaves."""

    event = Signal(dict)

    def __init__(self, workspace: Workspace, method: str, values: Mapping[str, Any] | None = None,
                 name: str | None = None, resume: bool = False, parent: QObject | None = None) -> None:
        spec = get_method(method)
        config = spec.make_config(dict(values or {}))
        name = name or spec.default_checkpoint(config)
        config_path = workspace.checkpoints / f".run-{name}.json"
        args = ["train", method, "--workspace", str(workspace.root), "--config", str(config_path),
                "--name", name, "--progress-json", *(["--resume"] if resume else [])]
        super().__init__(args, f"Training {method}", result=name, parent=parent)
        offered = {o.name for o in spec.options()}
        self.spec, self.config, self.name, self.config_path = spec, config, name, config_path
        # what run.json holds: the resolved options; one left at none (None) is left out, so the command
        # takes its default
        self.values = {k: v for k, v in spec.config_dict(config).items() if k in offered and v is not None}
        self.workspace, self.method = workspace, method
        self.checkpoint_dir = workspace.checkpoints / self.name
        self.tracker = ProgressTracker(planned_stages(spec, self.config))
        self.done_event: dict | None = None
        self.error_event: dict | None = None
        self.leftover: list[str] = []  # after a cancel: what the checkpoint folder holds, in words
        self.remaining: float | None = None  # seconds, estimated from the progress so far
        self._existed = False
        self._before: dict[str, int] = {}
        self._rate = 0.0
        self._clock: tuple[float, float] | None = None  # (time, position) of the first progress event

    def start(self) -> None:
        if self.outcome != "idle":
            raise RuntimeError(f"{self.title} was already started; make a new run")
        self._existed = self.checkpoint_dir.is_dir()
        self._before = _mtimes(self.checkpoint_dir)
        try:
            atomic_write_json(self.config_path, self.values)
        except OSError as exc:
            self.outcome = "running"
            self._fail(f"{self.title} could not write its settings to {self.config_path}: {exc}")
            return
        super().start()

    def _release(self) -> None:
        self.config_path.unlink(missing_ok=True)

    def _stdout_line(self, line: str) -> None:
        event = parse_event(line)
        if event is None:
            self.log.emit(line)
            return
        position = self.tracker.update(event)
        event = {**event, "position": position, "total_epochs": self.tracker.total}
        kind = event["kind"]
        if kind == "done":
            self.done_event = event
        elif kind == "error":
            self.error_event = event
        if event.get("images_per_second"):
            self._rate = float(event["images_per_second"])
        if kind in ("step", "epoch"):
            self._estimate(position)
        self.event.emit(event)
        if kind in ("step", "epoch", "done"):
            self.progress.emit(round(PROGRESS_SCALE * position / self.tracker.total), PROGRESS_SCALE,
                               self._label(event))

    def _estimate(self, position: float) -> None:
        """The time left, from the pace since the first step (loading the data before it is not counted)."""
        now = time.monotonic()
        if self._clock is None:
            self._clock = (now, position)
            return
        t0, p0 = self._clock
        done = position - p0
        self.remaining = (now - t0) / done * (self.tracker.total - position) if done > 0 else None

    def _label(self, event: dict) -> str:
        if event["kind"] == "done":
            return f"done: checkpoint {self.name}"
        parts = [self.tracker.stage_label(), f"epoch {event.get('epoch', 0)}/{event.get('epochs', 0)}"]
        if event["kind"] == "step":
            parts.append(f"step {event.get('step', 0)}/{event.get('steps', 0)}")
        if self._rate:
            parts.append(f"{self._rate:.0f} img/s")
        if self.remaining is not None:
            parts.append(format_remaining(self.remaining))
        return " \u00b7 ".join(parts)

    def _succeeded(self) -> bool:
        return (self.checkpoint_dir / "weights.pt").is_file() and (self.checkpoint_dir / "config.json").is_file()

    def _failure_message(self, exit_code: int, exit_status: QProcess.ExitStatus) -> str:
        if self.error_event is not None and self.error_event.get("message"):
            return f"{self.title} failed: {self.error_event['message']}"
        if exit_code == 0 and exit_status == QProcess.NormalExit:
            return f"{self.title} ended without writing a checkpoint to {self.checkpoint_dir}."
        return super()._failure_message(exit_code, exit_status)

    def _after_cancel(self) -> list[str]:
        self.leftover = tidy_cancelled_checkpoint(self.checkpoint_dir, self._before, created=not self._existed)
        return self.leftover


CHECKPOINT_FILES = ("weights.pt", "config.json", "metrics.json", "state.pt")


def _mtimes(folder: Path) -> dict[str, int]:
    return {n: (folder / n).stat().st_mtime_ns for n in CHECKPOINT_FILES if (folder / n).is_file()}


def tidy_cancelled_checkpoint(folder: Path, before: dict[str, int], created: bool) -> list[str]:
    """After a cancelled run (process gone): remove what a kill left half-done; returns what is left, in words.

    ``before``: the checkpoint files' mtimes when the run started; ``created``: the run made the folder."""
    notes = []
    for staged in remove_stale_temps(folder.parent, label=folder.name):  # a final save cut short
        notes.append(f"removed {staged.name}, the checkpoint folder a cancelled save was writing")
    if not folder.is_dir():
        return notes + [f"{folder.name}: nothing was written"]
    for tmp in sorted(folder.glob(TMP_PREFIX + "*")):
        tmp.unlink(missing_ok=True)
        notes.append(f"removed {tmp.name}, a file the cancel cut short")
    now = _mtimes(folder)
    new = {n for n, t in now.items() if before.get(n) != t}
    if "weights.pt" in new and "config.json" not in new:
        (folder / "weights.pt").unlink(missing_ok=True)
        notes.append("removed weights.pt: the final save was cut before its config.json was written")
    elif {"weights.pt", "config.json"} <= new:
        notes.append(f"{folder.name}: the final checkpoint had been saved before the cancel took effect")
    if created and not any(folder.iterdir()):
        folder.rmdir()
        notes.append(f"removed the empty folder {folder}")
        return notes
    if "state.pt" in new and (folder / "state.pt").is_file():
        notes.append(f"kept {folder / 'state.pt'} (the last finished epoch): the same command with --resume "
                     "continues from it")
    if not created and "weights.pt" in before and "weights.pt" not in new:
        notes.append(f"the checkpoint {folder.name} from before this run is unchanged")
    return notes
