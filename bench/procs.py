"""CPU seconds used by the stack's process tree (functions, each emulator) and by this benchmark process.

Read from /proc (utime + stime of live processes), so a storm's CPU can be split by who spent it:
on a 2-core machine this shows which part is the bottleneck.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, cpu seconds) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "functions (stack process)"
    cmd = _cmdline(pid)
    for key, role in (("firestore", "firestore emulator"), ("pubsub", "pubsub emulator"),
                      ("tasks-emulator", "tasks emulator"), ("alertmanager", "alertmanager")):
        if key in cmd:
            return role
    return "other children"


def cpu_by_role(root: int, extra: dict[str, int] | None = None) -> dict[str, float]:
    """CPU seconds so far of `root` and all its descendants by role, `extra` pids, and this process."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                parents[int(entry.name)], cpu[int(entry.name)] = stat
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    out: dict[str, float] = defaultdict(float)
    for pid in tree:
        if pid in cpu:
            out[_role(pid, root)] += cpu[pid]
    for role, pid in (extra or {}).items():
        if pid in cpu:
            out[role] += cpu[pid]
    out["benchmark client (this process)"] = time.process_time()
    return dict(out)


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine spent busy (not idle or waiting for I/O), from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / TICKS


class CpuMeter:
    """CPU seconds spent per role between start() and stop(), and the share of one core it means."""

    def __init__(self, root: int, extra: dict[str, int] | None = None):
        self.root, self.extra = root, extra
        self.before: dict[str, float] = {}
        self.started = 0.0

    def start(self) -> CpuMeter:
        self.before, self.started = cpu_by_role(self.root, self.extra), time.monotonic()
        self.machine_before = machine_busy_seconds()
        return self

    def stop(self) -> dict:
        after, wall = cpu_by_role(self.root, self.extra), time.monotonic() - self.started
        used = {role: after[role] - self.before.get(role, 0.0) for role in after}
        machine = machine_busy_seconds() - self.machine_before
        return {"wall_s": wall,
                "cpu_s": {k: round(v, 2) for k, v in sorted(used.items(), key=lambda kv: -kv[1])},
                "cores_busy": round(sum(used.values()) / wall, 2) if wall else None,
                "machine_cores_busy": round(machine / wall, 2) if wall else None,
                "cores": os.cpu_count()}
