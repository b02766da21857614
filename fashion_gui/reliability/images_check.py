"""Every corpus file through the query paths: each must load, or be refused with the project's own one-line
error naming the file, within a few seconds and ~1 GB.

- ``encode_pass``: ``RetrievalEngine.encode(path)`` (what the app's open, drop and paste call on the worker);
- ``cli_pass``: ``fashion search --image FILE`` through the command line's error boundary (in-process);
- ``run_encode_child``: ``encode_pass`` in a fresh process, so its peak memory is the loader's, not the
  corpus generator's (``python -m fashion_gui.reliability.images_check``).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fashion_gui.reliability.corpus import LOAD, REFUSE, Case

SECONDS_PER_IMAGE = 5.0  # "a few seconds": slower counts as a hang
MEMORY_LIMIT_MB = 1024.0


@dataclass
class Outcome:
    name: str
    kind: str
    expect: str
    result: str  # loaded | refused | crashed | hung | wrong (loaded what must be refused, or the reverse)
    seconds: float
    message: str = ""
    peak_mb: float = 0.0  # growth of the process's peak memory (encode_pass only)


def names_file(message: str, path: Path) -> bool:
    """True when ``message`` names ``path`` (its full path or at least its file name)."""
    return str(path) in message or path.name in message or repr(str(path)) in message


def judge(case: Case, path: Path, loaded: bool, message: str, own_error: bool, seconds: float) -> str:
    if seconds > SECONDS_PER_IMAGE:
        return "hung"
    if loaded:
        return "wrong" if case.expect == REFUSE else "loaded"
    if not own_error or "\n" in message.strip() or not names_file(message, path) or "Traceback" in message:
        return "crashed"
    return "wrong" if case.expect == LOAD else "refused"


def _peak_mb() -> float:
    """The process's peak resident memory in MB (0 where the system does not say). On Linux VmHWM: unlike
    ru_maxrss it does not carry over the peak of the parent that started this process."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def encode_pass(engine, folder: Path, cases: list[Case]) -> list[Outcome]:
    """``engine.encode`` on every case; memory is the growth of the process's peak over its value before."""
    from fashion_gui.errors import project_errors

    base = _peak_mb()
    out = []
    for case in cases:
        path = case.path(folder)
        start = time.perf_counter()
        loaded, message, own = False, "", False
        try:
            engine.encode(path)
            loaded = True
        except project_errors() as exc:
            message, own = str(exc), True
        except Exception as exc:  # a crash of the loader: recorded, the pass goes on
            message = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        out.append(Outcome(case.name, case.kind, case.expect, judge(case, path, loaded, message, own, seconds),
                           round(seconds, 4), message[:300], round(_peak_mb() - base, 1)))
    return out


def cli_pass(workspace: Path, folder: Path, cases: list[Case]) -> list[Outcome]:
    """``fashion search --image FILE`` for every case, in-process (same parser and error boundary)."""
    from fashion_gui.cli.main import main

    out = []
    for case in cases:
        path = case.path(folder)
        stdout, stderr = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                rc = main(["search", "--workspace", str(workspace), "--image", str(path), "--k", "3",
                           "--device", "cpu", "--json"])
            except Exception as exc:  # the boundary let it through: a traceback for the user
                rc, stderr = -1, io.StringIO(f"Traceback: {type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - start
        err = stderr.getvalue().strip()
        own = rc == 2 and err.startswith("fashion search: error: ") and len(err.splitlines()) == 1
        out.append(Outcome(case.name, case.kind, case.expect, judge(case, path, rc == 0, err, own, seconds),
                           round(seconds, 4), err[:300]))
    return out


def run_encode_child(workspace: Path, folder: Path, cases: list[Case], timeout: float = 300.0) -> list[Outcome]:
    """``encode_pass`` in a fresh process (its memory figures are the loader's own)."""
    spec = Path(folder) / ".cases.json"
    spec.write_text(json.dumps([asdict(c) for c in cases]))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "fashion_gui.reliability.images_check", str(workspace), str(folder),
                           str(spec)], capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"the encode pass failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return [Outcome(**o) for o in json.loads(proc.stdout)]


def summarize(outcomes: list[Outcome], memory: bool = True) -> dict:
    """tried / loaded / refused (clearly) / crashed / hung / wrong, the slowest file and (``memory``: measured
    by this pass) the largest growth of the process's peak memory."""
    counts = {key: sum(o.result == key for o in outcomes) for key in ("loaded", "refused", "crashed", "hung", "wrong")}
    out = {"tried": len(outcomes), **counts, "slowest_seconds": max((o.seconds for o in outcomes), default=0.0)}
    if memory:
        out["peak_memory_growth_mb"] = max((o.peak_mb for o in outcomes), default=0.0)
    return out


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("folder", type=Path)
    parser.add_argument("cases", type=Path, help="JSON list of the cases (name, kind, expect)")
    args = parser.parse_args()
    import torch

    from fashion_gui.engine import RetrievalEngine

    torch.set_num_threads(1)
    cases = [Case(**c) for c in json.loads(args.cases.read_text())]
    with RetrievalEngine.open(args.workspace, device="cpu") as engine:
        valid = next((c for c in cases if c.expect == LOAD), None)
        if valid is not None:
            engine.encode(valid.path(args.folder))  # warm-up: first-call allocations are not the corpus's
        outcomes = encode_pass(engine, args.folder, cases)
    json.dump([asdict(o) for o in outcomes], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
