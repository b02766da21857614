"""The trainer base that owns the loop (minGPT's Trainer with callbacks; DESIGN.md, "Methods: one way in").

A method's trainer declares its stages (from its registry entry), builds its data and model, and implements
one optimisation ``step`` and a ``validate``; the base runs stages -> epochs -> steps and does the rest:

* seeds torch, numpy (``rng``) and a data-order ``generator`` from ``config.seed``, in that order;
* an optimizer per stage over parameter groups of the model *and of its losses* (a loss that owns
  parameters, e.g. proxies or cluster centres, trains with the model), each group with an ``lr_scale``;
* the learning rate set before every step from :meth:`learning_rate` (schedules live in the method);
* mixed precision on CUDA (GradScaler), torch's CPU thread count (``config.cpu_threads``);
* validation after every epoch and model selection on the validation split (never the test split):
  each stage ends with its best epoch restored;
* ``state.pt`` at every epoch end (modules, optimizer, RNGs, best-so-far), so ``resume=True`` continues
  an interrupted run at the next epoch, for every method;
* progress events (plan, start, step, epoch, done) to the callbacks;
* the checkpoint, saved atomically at the end.
"""
from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.checkpoint import CheckpointError, atomic_torch_save, save_checkpoint
from fashion_gui.inference.device import resolve_device
from fashion_gui.methods import get_method
from fashion_gui.methods.options import config_to_dict
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.workspace import Workspace

Batch = Any
StepResult = tuple[torch.Tensor, dict[str, float], int]  # (loss, logs for the progress bar, images seen)


class Trainer(ABC):
    """Subclasses implement :meth:`setup`, :meth:`modules`, :meth:`param_groups`, :meth:`batches`,
    :meth:`step` and :meth:`validate`; optionally :meth:`begin_stage`, :meth:`begin_epoch`,
    :meth:`learning_rate`, :meth:`describe`, :meth:`checkpoint_config` and the extra resume state."""

    amp = False  # a subclass turns it on for CUDA

    def __init__(self, workspace: Workspace, config: Any, out_dir: Path, callbacks: list[Callback] | None = None,
                 method: str = "") -> None:
        self.workspace, self.config, self.out_dir = workspace, config, Path(out_dir)
        self.method = method
        self.spec = get_method(method)
        self.callbacks = callbacks or []
        self.device = resolve_device(config.device)
        self.cuda = self.device.type == "cuda"
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.catalog = Catalog.open(workspace.catalog_path)
        self.schema = self.catalog.schema
        self._best: tuple[float, dict | None, dict] = (-float("inf"), None, {})
        self._stage_index, self._stage_count = 0, 0
        self._finished: dict[str, dict] = {}  # stage -> its selected metrics, once the stage is done

    # --- what a method implements ------------------------------------------------------------------
    def setup(self) -> None:
        """Load the data a run needs (image banks, triplets); called once at the start of :meth:`run`."""

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """The trained modules by name: snapshotted for model selection, saved in ``weights.pt``."""

    @abstractmethod
    def param_groups(self, stage: str) -> list[dict[str, Any]]:
        """Optimizer groups of the stage: ``{"params": [...], "lr_scale": s}`` (and any Adam option),
        including the parameters of losses that own some."""

    def make_optimizer(self, stage: str) -> torch.optim.Optimizer:
        groups = [{**g, "lr_scale": g.get("lr_scale", 1.0)} for g in self.param_groups(stage)]
        return torch.optim.Adam(groups, lr=self.learning_rate(stage, 0, 0, 1),
                                weight_decay=getattr(self.config, "weight_decay", 0.0))

    def begin_stage(self, stage: str, fresh: bool) -> None:
        """Before the first epoch of a stage (``fresh``) or of its resumed remainder (not ``fresh``)."""

    def begin_epoch(self, stage: str, epoch: int) -> None:
        """Before each epoch (0-based): margin schedules and the like."""

    @abstractmethod
    def batches(self, stage: str, epoch: int) -> Iterable[Batch]:
        """One epoch's batches (drawn from ``self.rng`` / ``self.generator``)."""

    @abstractmethod
    def step(self, stage: str, batch: Batch) -> StepResult:
        """Forward one batch: (loss, logs, images seen); the base does backward and the optimizer step."""

    @abstractmethod
    def validate(self, stage: str, epoch: int) -> tuple[float, dict[str, float]]:
        """(selection score, metrics) on the validation split after an epoch; higher score is better."""

    def learning_rate(self, stage: str, epoch: int, step: int, steps: int) -> float:
        """The base learning rate for this step; groups multiply it by their ``lr_scale``."""
        return float(self.config.lr)

    def describe(self) -> str:
        return f"training {self.method} on {self.device} ({len(self.catalog)} catalog items)"

    def checkpoint_config(self) -> dict[str, Any]:
        """What ``config.json`` records besides the options: the architecture needed to rebuild the model."""
        return {}

    def finalize(self) -> None:
        """After the last stage (its best epoch restored), before the checkpoint is saved: statistics a
        method keeps with its weights (e.g. query prototypes from the training set)."""

    def extra_state(self) -> dict[str, Any]:
        """Method state to keep in ``state.pt`` (checked or restored by :meth:`load_extra_state`)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore (or check) :meth:`extra_state`; raise ValueError when it no longer fits."""

    # --- the loop ------------------------------------------------------------------------------------
    def emit(self, event: TrainEvent) -> None:
        if not event.stage_count:
            event.stage_index, event.stage_count = self._stage_index, self._stage_count
        for cb in self.callbacks:
            cb(event)

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16, enabled=self.amp)

    def run(self, resume: bool = False) -> Path:
        """Train every stage (or finish an interrupted run with ``resume``), save the checkpoint, return its folder."""
        threads = int(getattr(self.config, "cpu_threads", 0))
        with torch_threads(threads if self.device.type == "cpu" else 0):
            return self._run(resume)

    def _run(self, resume: bool) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        plan = self.spec.stage_epochs(self.config)
        self._stage_count = len(plan)
        self.emit(TrainEvent("plan", plan=[{"name": s.name, "title": s.title, "epochs": n} for s, n in plan]))
        self.emit(TrainEvent("start", message=self.describe()))
        self.setup()
        state = self._load_state() if resume else None
        self._finished = dict(state["finished"]) if state else {}
        metrics: dict[str, Any] = {}
        for index, (stage, epochs) in enumerate(plan, start=1):
            self._stage_index = index
            if stage.name in self._finished:  # completed before the interruption; its best is in the modules
                metrics.update(self._finished[stage.name])
                continue
            start, opt_state = 0, None
            if state is not None and state["stage"] == stage.name:
                start, opt_state = int(state["epoch"]), state["optimizer"]
                self.emit(TrainEvent("start", stage.name, message=f"resuming {stage.title} after epoch {start}"))
            stage_metrics = self._train_stage(stage.name, epochs, start, opt_state)
            self._finished[stage.name] = stage_metrics
            metrics.update(stage_metrics)
            self._save_state(stage.name, epochs, None)
        self.finalize()
        metrics = {**metrics, "train_seconds": round(time.perf_counter() - t0, 1), "device": str(self.device)}
        save_checkpoint(self.out_dir, method=self.method,
                        weights={name: m.state_dict() for name, m in self.modules().items()},
                        config={**config_to_dict(self.config), **self.checkpoint_config()},
                        schema=self.schema.to_dict(), catalog_version=self.catalog.version,
                        metrics={"validation": metrics})
        (self.out_dir / "state.pt").unlink(missing_ok=True)
        self.emit(TrainEvent("done", metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                             path=str(self.out_dir), message=f"saved {self.out_dir} ({metrics['train_seconds']} s)"))
        return self.out_dir

    def _train_stage(self, stage: str, epochs: int, start: int, opt_state: dict | None) -> dict[str, Any]:
        optimizer = self.make_optimizer(stage)
        if opt_state is not None:
            optimizer.load_state_dict(opt_state)
        else:
            self._best = (-float("inf"), None, {})
        scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.begin_stage(stage, fresh=start == 0)
        for epoch in range(start, epochs):
            self.begin_epoch(stage, epoch)
            self.set_train_mode(True)
            batches = list(self.batches(stage, epoch))
            steps = len(batches)
            t0, seen, done, running = time.perf_counter(), 0, 0, {}
            for s, batch in enumerate(batches):
                lr = self.learning_rate(stage, epoch, s, steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr * group["lr_scale"]
                loss, logs, n_images = self.step(stage, batch)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                seen, done = seen + n_images, done + 1
                running = {k: running.get(k, 0.0) + v for k, v in logs.items()}
                self.emit(TrainEvent("step", stage, epoch + 1, epochs, s + 1, steps,
                                     losses={k: v / done for k, v in running.items()}))
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            self.set_train_mode(False)
            score, metrics = self.validate(stage, epoch)
            if score > self._best[0] or self._best[1] is None:
                self._best = (score, self._snapshot(), {**metrics, f"{stage}_epoch": epoch + 1})
            self._save_state(stage, epoch + 1, optimizer)
            self.emit(TrainEvent("epoch", stage, epoch + 1, epochs,
                                 losses={k: v / max(done, 1) for k, v in running.items()},
                                 metrics=metrics, images_per_second=rate))
        return self._take_best()

    def set_train_mode(self, mode: bool) -> None:
        """Train (or eval) mode for the trained modules; a method with frozen parts keeps those in eval."""
        for m in self.modules().values():
            m.train(mode)

    # --- model selection and resume state -----------------------------------------------------------
    def _snapshot(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: {k: v.detach().clone() for k, v in m.state_dict().items()} for name, m in self.modules().items()}

    def _take_best(self) -> dict[str, Any]:
        """Restore the stage's best validation epoch (model selection on val, never test)."""
        _, state, metrics = self._best
        if state is not None:
            for name, m in self.modules().items():
                m.load_state_dict(state[name])
        self._best = (-float("inf"), None, {})
        return metrics

    def _save_state(self, stage: str, epoch: int, optimizer: torch.optim.Optimizer | None) -> None:
        """Epoch-end training state for ``resume`` (atomic), with the stages finished so far and their metrics."""
        atomic_torch_save(self.out_dir / "state.pt", {
            "method": self.method, "config": config_to_dict(self.config), "stage": stage, "epoch": epoch,
            "finished": self._finished,
            "modules": {name: m.state_dict() for name, m in self.modules().items()},
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "rng": self.rng.bit_generator.state, "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(), "best": self._best, "extra": self.extra_state(),
        })

    def _load_state(self) -> dict | None:
        path = self.out_dir / "state.pt"
        if not path.is_file():
            return None
        try:
            state = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as exc:  # a damaged or truncated file: unpickling fails in many ways
            raise CheckpointError(f"{path} is damaged ({type(exc).__name__}: {exc}); train without --resume to "
                                  "start over") from exc
        if not isinstance(state, dict) or state.get("method") != self.method or state.get("config") != config_to_dict(self.config):
            raise ValueError(f"{path} was saved by another method or with other options; train without --resume "
                             "or with the same options")
        self.load_extra_state(state["extra"])
        for name, m in self.modules().items():
            m.load_state_dict(state["modules"][name])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self._best = state["best"]
        return state


def chunked(rows: np.ndarray | torch.Tensor, size: int, min_size: int = 1) -> Iterator:
    """Consecutive slices of ``rows`` of ``size`` (the last may be shorter; shorter than ``min_size`` dropped)."""
    for s in range(0, len(rows), size):
        chunk = rows[s:s + size]
        if len(chunk) >= min_size:
            yield chunk


@contextlib.contextmanager
def torch_threads(n: int):
    """Use ``n`` torch threads inside the block (``n`` <= 0: leave the setting alone); restores it after."""
    previous = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
