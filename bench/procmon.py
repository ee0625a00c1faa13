"""CPU seconds and peak memory of the processes a bench run involves, sampled from /proc.

A queued import spends its CPU in several processes that no single ``time`` sees: the
``fapiao worker`` processes, their sandbox parsers (forked by a forkserver and reaped by it),
the PostgreSQL backends that serve the workers' connections (children of the postmaster, gone
when a connection closes) and the S3 server. ``Monitor`` samples every process of interest
every ``interval`` seconds and keeps, per pid, the highest CPU time and VmHWM seen, so that a
process which exits between two samples loses at most one interval of CPU.

Standalone, it measures one command (and the processes matching ``--match``):

    .venv/bin/python bench/procmon.py --match 'postgres: postgres mydb' --match 'moto_server -H 127.0.0.1 -p 54341' \
        -- .venv/bin/python -c 'from api.cli import run; run()' worker --once
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """The process and all its descendants (from /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def matching(pattern: str) -> list[int]:
    """Every pid whose command line contains ``pattern``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and pattern in cmdline(int(entry)):
            out.append(int(entry))
    return out


def cpu_and_hwm(pid: int) -> tuple[float, float] | None:
    """(own user + system CPU seconds, VmHWM in MB) of a live process.

    Own CPU only: a reaped child's time would otherwise be counted twice (once while it
    lived, sampled under its own pid, and again in its parent's ``cutime``).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    hwm = 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return (int(fields[11]) + int(fields[12])) / TICK, hwm


@dataclass
class Seen:
    role: str
    cpu: float = 0.0
    hwm_mb: float = 0.0
    cpu_at_start: float | None = None  # processes that were already running when sampling began


@dataclass
class Monitor:
    """Samples the roles' processes in a thread; ``roots`` give trees, ``patterns`` give matches.

    ``classify`` names the role of a process found under a root (e.g. worker vs sandbox).
    """

    roots: dict[str, Callable[[], list[int]]] = field(default_factory=dict)
    patterns: dict[str, str] = field(default_factory=dict)
    classify: Callable[[str, str], str] = lambda role, _cmd: role
    interval: float = 0.5
    seen: dict[int, Seen] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def sample(self, first: bool = False) -> None:
        pids: dict[int, str] = {}
        for role, pattern in self.patterns.items():
            for pid in matching(pattern):
                pids[pid] = role
        for role, fn in self.roots.items():
            for root in fn():
                for pid in tree(root):
                    pids[pid] = self.classify(role, cmdline(pid))
        with self._lock:
            for pid, role in pids.items():
                got = cpu_and_hwm(pid)
                if got is None:
                    continue
                s = self.seen.get(pid)
                if s is None:
                    s = self.seen[pid] = Seen(role, cpu_at_start=got[0] if first else None)
                s.cpu, s.hwm_mb = max(s.cpu, got[0]), max(s.hwm_mb, got[1])
            self.load.append(os.getloadavg()[0])

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> Monitor:
        self.sample(first=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Per role: CPU seconds used since ``start`` (summed), peak RSS of one process, count."""
        out: dict[str, dict[str, float]] = {}
        with self._lock:
            for s in self.seen.values():
                r = out.setdefault(s.role, {"cpu_s": 0.0, "peak_mb": 0.0, "processes": 0})
                r["cpu_s"] += s.cpu - (s.cpu_at_start or 0.0)
                r["peak_mb"] = max(r["peak_mb"], s.hwm_mb)
                r["processes"] += 1
        return {k: {"cpu_s": round(v["cpu_s"], 2), "peak_mb": round(v["peak_mb"], 1),
                    "processes": int(v["processes"])} for k, v in out.items()}

    def cpu_total(self, roles: list[str] | None = None) -> float:
        snap = self.snapshot()
        return sum(v["cpu_s"] for k, v in snap.items() if roles is None or k in roles)


def worker_role(role: str, cmd: str) -> str:
    """A ``fapiao worker`` process, or one of the sandbox processes under it."""
    if role != "worker":
        return role
    return "worker" if " worker" in cmd and "forkserver" not in cmd else "sandbox"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--match", action="append", default=[], metavar="PATTERN",
                    help="also sample processes whose command line contains PATTERN")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    mon = Monitor(roots={"worker": lambda: [proc.pid]}, patterns={p: p for p in args.match},
                  classify=worker_role).start()
    rc = proc.wait()
    mon.stop()
    print(json.dumps({"rc": rc, "wall_s": round(time.perf_counter() - t0, 2), "roles": mon.snapshot(),
                      "load_max": max(mon.load)}, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
