"""``fashion bench reliability``: the figures of the reliability checks, JSON out.

- images: the generated corpus of bad and awkward files through ``engine.encode`` (in a fresh process, for its
  memory) and ``fashion search --image``: tried / loaded / refused clearly / crashed / hung;
- crash injection: every crash point of checkpoint saves (folder exchange and the two-rename fallback), index
  builds, catalog imports and demo builds, plus real ``kill -9`` of ``fashion`` commands at random moments:
  tried / workspaces left whole / commands working afterwards / leftovers cleaned by the next run;
- CSV imports: tried / clear messages.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np


def register(bench: argparse._SubParsersAction) -> None:
    r = bench.add_parser("reliability", help="bad images, crash injection, random kills, bad CSVs: the figures")
    r.add_argument("--kills", type=int, default=4, help="random kill -9 trials per command (default 4)")
    r.add_argument("--seed", type=int, default=0, help="seed of the corpus and of the kill times")
    r.add_argument("--no-large", action="store_true", help="leave the ~79-megapixel image out of the corpus")
    r.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (default: a temp dir)")
    r.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    r.set_defaults(func=cmd_reliability)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def images_figures(base: Path, seed: int, large: bool) -> dict:
    from fashion_gui.reliability.corpus import make_corpus
    from fashion_gui.reliability.images_check import cli_pass, run_encode_child, summarize
    from fashion_gui.reliability.workspaces import tiny_workspace

    ws = tiny_workspace(base / "workspace")
    corpus = base / "corpus"
    cases = make_corpus(corpus, seed=seed, large=large)
    _say(f"images: {len(cases)} corpus files through engine.encode and fashion search --image")
    encode = run_encode_child(ws.root, corpus, cases)
    cli = cli_pass(ws.root, corpus, cases)
    kinds: dict[str, int] = {}
    for case in cases:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    failures = [asdict(o) for o in encode + cli if o.result not in ("loaded", "refused")]
    return {"corpus_files": len(cases), "kinds": kinds, "engine.encode": summarize(encode),
            "fashion search --image": summarize(cli, memory=False), "failures": failures}


def crash_figures(base: Path, kills: int, seed: int) -> dict:
    from fashion_gui.reliability.crash import kill_trials, run_scenario
    from fashion_gui.reliability.scenarios import crash_scenarios, fresh, train_scenario

    rng = np.random.default_rng(seed)
    scenarios, trials, points = {}, [], 0
    for scenario in crash_scenarios():
        _say(f"crash injection: {scenario.name}")
        folder = fresh(base / scenario.name.replace(" ", "-").replace("(", "").replace(")", ""))
        result = run_scenario(scenario, folder)
        points += len(result.points)
        trials += result.trials
        scenarios[scenario.name] = {"points": result.points, "whole": sum(t.whole for t in result.trials),
                                    "commands_ok": sum(t.commands_ok for t in result.trials)}
        if kills and scenario.argv is not None and scenario.child_setup is None:
            _say(f"random kills: {scenario.name}")
            trials += kill_trials(scenario, folder, list(rng.uniform(0.05, 1.0, kills)))[1]
    if kills:
        train = train_scenario()
        _say(f"random kills: {train.name}")
        folder = fresh(base / "train")
        train.prepare(folder / "old")
        trials += kill_trials(train, folder, list(rng.uniform(0.05, 1.0, kills)))[1]
    injected = [t for t in trials if not t.point.startswith("random")]
    random = [t for t in trials if t.point.startswith("random")]

    def figures(group: list) -> dict:
        out = {"tried": len(group), "killed": sum(t.outcome == "killed" for t in group),
               "workspaces_whole": sum(t.whole for t in group),
               "commands_work_after": sum(t.commands_ok for t in group)}
        rerun = [t for t in group if t.cleaned_by_next_run is not None]
        if rerun:
            out["leftovers_cleaned_by_next_run"] = sum(t.cleaned_by_next_run for t in rerun)
        return out

    return {"crash_points": points, "injected": figures(injected), "random_kills": figures(random),
            "by_scenario": scenarios,
            "failures": [asdict(t) for t in trials
                         if not (t.whole and t.commands_ok and t.cleaned_by_next_run is not False)]}


def csv_figures(base: Path) -> dict:
    from fashion_gui.reliability.csv_cases import run_cases

    _say("CSV imports")
    outcomes = run_cases(base / "csv")
    refuse = [o for o in outcomes if o.expect == "refuse"]
    return {"tried": len(outcomes), "must_import": len(outcomes) - len(refuse),
            "imported": sum(o.result == "imported" for o in outcomes), "must_refuse": len(refuse),
            "clear_messages": sum(o.result == "clear" for o in refuse),
            "failures": [asdict(o) for o in outcomes if o.result not in ("imported", "clear")]}


def cmd_reliability(args: argparse.Namespace) -> int:
    import torch

    if not hasattr(os, "fork"):
        raise ValueError("fashion bench reliability needs os.fork (Linux or macOS)")
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fashion-reliability-") as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        result = {
            "images": images_figures(base / "images", args.seed, not args.no_large),
            "crash_injection": crash_figures(base / "crash", args.kills, args.seed),
            "csv": csv_figures(base),
        }
    result["environment"] = {"python": platform.python_version(), "torch": torch.__version__,
                             "cpus": os.cpu_count(), "platform": platform.platform(), "seed": args.seed,
                             "seconds": round(time.perf_counter() - start, 1)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0
