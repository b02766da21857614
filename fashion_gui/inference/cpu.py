"""CPU threads for training on a small machine (torch-free, so the app's start-up can read it)."""
from __future__ import annotations

import os
import time

SMALL_MACHINE_CORES = 2  # at most this many cores: how many torch threads to train with depends on the load
BUSY_CORES = 0.5         # others keep at least this many cores busy: the machine counts as busy


def busy_cores(window: float = 0.25, stat: str = "/proc/stat") -> float | None:
    """How many cores other programs keep busy now: (1 - idle share) x cores over ``window`` seconds, from
    the kernel's CPU counters (Linux); None where they cannot be read. Call it while this process is idle."""
    def read() -> tuple[int, int] | None:
        try:
            with open(stat, encoding="ascii") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        if len(fields) < 4:
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    first = read()
    if first is None:
        return None
    time.sleep(window)
    second = read()
    if second is None or second[0] <= first[0]:
        return None
    total, idle = second[0] - first[0], second[1] - first[1]
    return max(0.0, 1.0 - idle / total) * (os.cpu_count() or 1)


def training_threads(cpu_count: int | None, busy: float | None) -> int | None:
    """The torch threads a training should use on this machine, or None for torch's default.

    On a machine with at most two cores a second OpenMP thread gains when the other core is free and costs
    many times more as soon as another program runs there (its threads spin-wait for each other); measured by
    ``fashion bench threads`` (README, "First run"). So: two threads on an idle small machine, one when it is
    busy or its load cannot be read; larger machines keep torch's default."""
    if cpu_count is None or cpu_count > SMALL_MACHINE_CORES:
        return None
    if busy is None or busy >= BUSY_CORES:
        return 1
    return cpu_count
