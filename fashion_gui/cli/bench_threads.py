"""``fashion bench threads``: training speed with one or more torch threads, on an idle machine and with other
programs keeping cores busy (issue 18: the first run on a shared 2-core machine).

For each method, each thread count and each load, the method's real trainer (its default options, the
workspace's catalog) runs its first stage for ``--steps`` optimisation steps after ``--warmup`` steps; the
time per step is the median over ``--repeats`` runs. A load of L starts L processes that each keep one core
busy (a pure-Python loop, like another program's work) for the whole measurement of that load.
The figures decide :func:`fashion_gui.inference.cpu.training_threads`, which the first run uses.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from fashion_gui.atomic import atomic_write_json
from fashion_gui.cli.bench_runs import config_record
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.inference.cpu import busy_cores
from fashion_gui.methods import get_method
from fashion_gui.training.events import TrainEvent
from fashion_gui.workspace import Workspace

FIRST_RUN_METHODS = ("adde", "uigr-tirg", "adde-o")


def register(bench_sub: argparse._SubParsersAction) -> None:
    b = bench_sub.add_parser("threads", help="training seconds per step with 1 or 2 torch threads, idle and busy")
    add_workspace_arg(b)
    b.add_argument("--methods", nargs="+", default=list(FIRST_RUN_METHODS), help="methods to time")
    b.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="torch thread counts to compare")
    b.add_argument("--loads", nargs="+", type=int, default=[0, 1], help="busy processes started beside training")
    b.add_argument("--steps", type=int, default=12, help="timed steps per run")
    b.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    b.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is reported)")
    b.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    b.set_defaults(func=cmd_threads)


def _burn(stop) -> None:  # pragma: no cover - runs in a child process
    """Keep one core busy until ``stop`` is set."""
    while not stop.is_set():
        for _ in range(100_000):
            pass


class _Enough(Exception):
    """Raised by the timing callback once the timed steps are done."""


def seconds_per_step(ws: Workspace, method: str, threads: int, steps: int, warmup: int) -> float:
    """Median seconds per optimisation step of ``method``'s first stage with ``threads`` torch threads."""
    spec = get_method(method)
    config = spec.make_config({"device": "cpu", "cpu_threads": threads})
    stamps: list[float] = []

    def on_event(event: TrainEvent) -> None:
        if event.kind == "step":
            stamps.append(time.perf_counter())
            if len(stamps) > warmup + steps:
                raise _Enough

    with tempfile.TemporaryDirectory(prefix="bench-threads-") as out:
        trainer = spec.create_trainer(ws, Path(out) / method, [on_event], config=config)
        try:
            trainer.run()
        except _Enough:
            pass
        finally:
            trainer.catalog.close()
    if len(stamps) <= warmup + 1:
        raise RuntimeError(f"{method}'s first epoch has only {len(stamps)} steps; lower --warmup/--steps")
    return float(np.median(np.diff(stamps[warmup:])))


def cmd_threads(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    idle = busy_cores(1.0)
    print(f"cores: {os.cpu_count()}; busy before the run (other programs): "
          f"{'unknown' if idle is None else f'{idle:.2f}'}", flush=True)
    figures: dict[str, dict] = {}
    ctx = mp.get_context("spawn")
    for load in args.loads:
        stop = ctx.Event()
        burners = [ctx.Process(target=_burn, args=(stop,), daemon=True) for _ in range(load)]
        for p in burners:
            p.start()
        try:
            time.sleep(0.5 if load else 0.0)
            for method in args.methods:
                for threads in args.threads:
                    runs = [seconds_per_step(ws, method, threads, args.steps, args.warmup) for _ in range(args.repeats)]
                    figure = {"seconds_per_step": round(float(np.median(runs)), 4),
                              "runs": [round(r, 4) for r in runs]}
                    figures.setdefault(method, {}).setdefault(f"load {load}", {})[f"{threads} threads"] = figure
                    print(f"{method}, {load} busy process(es), {threads} thread(s): "
                          f"{figure['seconds_per_step']:.3f} s/step (runs {figure['runs']})", flush=True)
        finally:
            stop.set()
            for p in burners:
                p.join(timeout=5)
                if p.is_alive():
                    p.terminate()
    ratios = {m: {load: round(f[load][f"{max(args.threads)} threads"]["seconds_per_step"]
                             / f[load][f"{min(args.threads)} threads"]["seconds_per_step"], 3) for load in f}
              for m, f in figures.items()} if len(args.threads) > 1 else {}
    for m, r in ratios.items():
        print(f"{m}: time with {max(args.threads)} threads / with {min(args.threads)}: "
              + ", ".join(f"{load} {v}" for load, v in r.items()))
    payload = {"benchmark": "threads", "config": config_record(args, ws), "cores": os.cpu_count(),
               "busy_before": idle, "figures": figures, "ratio_more_threads_over_fewer": ratios}
    if args.json:
        atomic_write_json(args.json, payload)
    print(json.dumps(ratios, indent=2))
    return 0
