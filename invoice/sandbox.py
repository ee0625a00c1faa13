"""The sandbox: untrusted files are parsed and verified in worker processes with hard limits.

A file is data from outside. Parsers are written to be linear and capped, but a file built to
exhaust them (a compression bomb, 100,000 page objects, 400 references to one big member)
must still not take the service with it. So parsing and verification of an uploaded or
imported file run in a worker process that the kernel bounds, whatever the parser does:

* **CPU time** (``RLIMIT_CPU``, ``FAPIAO_SANDBOX_CPU_SECONDS``, default 8): re-armed before
  every task from the worker's own usage; past it the kernel ends the worker with SIGXCPU.
* **Address space** (``RLIMIT_AS``, ``FAPIAO_SANDBOX_MEMORY_MB``, default 450): the whole
  worker, libraries included; an allocation past it fails (``MemoryError`` in Python, a crash
  in C code) instead of growing the server.
* **Wall clock** (``FAPIAO_SANDBOX_WALL_SECONDS``, default 9): the caller kills a worker
  that has not answered by then (a worker that sleeps or waits uses no CPU).

A task over a limit raises :class:`TooComplex` naming the limit (code ``too_complex``); the
worker that hit it is killed and replaced, never reused.

Cost stays low because workers are warm: a pool keeps ``FAPIAO_SANDBOX_WORKERS`` (default
2) processes with the parsers imported, forked from a ``forkserver`` that preloaded them (a
new worker costs milliseconds, not an interpreter start). Responsiveness: when every worker
is busy the pool grows on demand up to ``FAPIAO_SANDBOX_MAX_WORKERS`` (default 6); a task
still running after one second while other tasks run is re-niced (``nice`` 10) so that a
normal file started beside it gets the CPU first, and that worker is retired afterwards. Workers also retire
after ``RECYCLE_TASKS`` tasks or when their resident memory has grown past
``RECYCLE_RSS_MB``, so that one big file does not keep the memory it needed.

What crosses the process boundary is plain data: the arguments (bytes, a path, settings)
and the result (``Invoice``, ``VerificationReport`` dataclasses), pickled. The current
settings travel with each task, so a worker reads the same limits and organisation as its
caller. ``invoice.parse`` and ``invoice.verify.verify`` stay callable in-process for code
that already trusts its input (the parsers' own tests, benchmarks).

Thread-safe: the API calls :func:`run` from its request threads (uvicorn's thread pool),
the import from a few feeder threads. A process that forks keeps no workers of its parent.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import spawn
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from core import messages
from core.settings import Settings, get_settings
from invoice.errors import InvoiceError

log = logging.getLogger(__name__)

T = TypeVar("T")

RECYCLE_TASKS = 500  # a worker serves this many tasks, then a fresh one takes over
RECYCLE_RSS_MB = 200  # a worker whose resident memory grew past this is retired after its task
RENICE_AFTER_SECONDS = 1.0  # a task still running then yields the CPU to newer ones
NICE_LONG_TASK = 10
# What the forkserver imports once, so that every worker starts with the parsers loaded.
PRELOAD = ["invoice.sandbox", "invoice.sandbox_preload"]

LIMITS = ("cpu", "wall", "memory", "crash")


class TooComplex(Exception):
    """A file took more than a sandbox limit to read; it was not evaluated.

    ``limit`` is ``cpu`` (seconds of CPU time), ``wall`` (seconds of waiting), ``memory``
    (megabytes of address space) or ``crash`` (the reader died on the file, most often an
    unchecked allocation failure under the memory limit); ``value`` is the limit's setting
    (the memory limit for a crash).
    """

    code = "too_complex"

    def __init__(self, limit: str, value: float | None, file: str | None = None,
                 detail: str = "") -> None:
        self.limit = limit
        self.value = value
        self.file = file
        self.detail = detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return messages.text(f"too_complex.{self.limit}", file=self.file or "文件", value=_fmt(self.value),
                             detail=self.detail)

    def details(self) -> dict[str, Any]:
        return {"limit": self.limit, "value": self.value, "file": self.file}

    def to_dict(self) -> dict[str, Any]:
        """The rejected entry's ``error``: code, Chinese message, and which limit."""
        return {"code": self.code, "message": self.message, "limit": self.limit, "value": self.value}


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Limits:
    """The bounds of one task (from the settings unless given)."""

    cpu_seconds: float
    wall_seconds: float
    memory_mb: int

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> Limits:
        s = s or get_settings()
        return cls(float(s.sandbox_cpu_seconds), float(s.sandbox_wall_seconds), int(s.sandbox_memory_mb))


# --- the worker side ---------------------------------------------------------------------------

def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _cpu_used() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _worker_main(conn: Connection, memory_mb: int, nice: int = 0) -> None:
    """The worker loop: one task at a time, each under a freshly armed CPU limit.

    The default action of SIGXCPU ends the process at the CPU limit even inside C code; a
    ``MemoryError`` is answered as the memory limit and the worker then exits, because a heap
    that failed an allocation half-way is not trusted for the next file.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the caller decides
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nice > 0:  # parsing is batch work: request threads and the database get the CPU first
        os.nice(nice)
    try:
        _serve(conn)
    except BaseException:
        os._exit(1)  # quietly: the caller reports the end of the worker as what it was
    os._exit(0)


def _serve(conn: Connection) -> None:
    from core.settings import override_settings

    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        try:
            fn, args, kwargs, settings, cpu_seconds = conn.recv()
        except (EOFError, OSError):
            return
        override_settings(settings)
        soft = math.ceil(_cpu_used() + cpu_seconds)
        if cpu_hard != resource.RLIM_INFINITY:
            soft = min(soft, cpu_hard)  # an outer hard limit still ends the worker (SIGKILL)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        fatal = False
        reply: tuple[Any, ...]
        try:
            reply = ("ok", fn(*args, **kwargs))
        except MemoryError:
            reply, fatal = ("limit", "memory"), True
        except InvoiceError as exc:
            reply = ("invoice_error", exc)  # whole: its place, limit and the text's params
        except Exception as exc:  # sent back as plain text; the caller decides what it means
            reply = ("error", type(exc).__name__, str(exc))
        try:
            conn.send((*reply, _rss_mb()))
        except MemoryError:
            conn.send(("limit", "memory", 0.0))
            fatal = True
        if fatal:
            os._exit(0)


# --- the caller side ---------------------------------------------------------------------------

class _Worker:
    """One worker process and the caller's end of its pipe."""

    def __init__(self, ctx: Any, memory_mb: int) -> None:
        parent, child = ctx.Pipe(duplex=True)
        from core.settings import get_settings

        self.proc = ctx.Process(target=_worker_main, args=(child, memory_mb, get_settings().sandbox_nice), daemon=True,
                                name=WORKER_NAME)
        self.proc.start()
        child.close()
        self.conn: Connection = parent
        self.memory_mb = memory_mb
        self.tasks = 0
        self.reniced = False
        self.rss_mb = 0.0

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.join(2)
        with contextlib.suppress(Exception):
            self.conn.close()

    def stop(self) -> None:
        """A polite end for an idle worker: closing its pipe ends its loop."""
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.proc.join(0.5)
        if self.proc.is_alive():
            self.kill()


class Pool:
    """Warm workers, grown on demand up to a cap; see the module docstring."""

    def __init__(self, warm: int, cap: int) -> None:
        self.warm = max(1, warm)
        self.cap = max(self.warm, cap)
        self._idle: list[_Worker] = []
        self._busy = 0
        self._starting = 0
        self._cond = threading.Condition()
        self._pid = os.getpid()
        self._closed = False
        self._ctx = _context()

    # -- bookkeeping --

    def _take(self, memory_mb: int) -> _Worker:
        with self._cond:
            while True:
                while self._idle:
                    w = self._idle.pop()
                    if w.memory_mb == memory_mb and w.proc.is_alive():
                        self._busy += 1
                        return w
                    w.stop()
                if self._busy < self.cap:
                    self._busy += 1
                    break
                self._cond.wait()
        try:
            return _Worker(self._ctx, memory_mb)
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise

    def _give_back(self, w: _Worker | None, memory_mb: int) -> None:
        """Return a healthy worker to the idle list (up to ``warm`` of them); else end it and,
        when fewer than ``warm`` are left, start a replacement in the background."""
        keep = (w is not None and not w.reniced and w.tasks < RECYCLE_TASKS
                and w.rss_mb < RECYCLE_RSS_MB and not self._closed)
        with self._cond:
            self._busy -= 1
            if keep and w is not None and len(self._idle) < self.warm:
                self._idle.append(w)
                w = None
            self._cond.notify()
        if w is not None:
            w.stop() if w.proc.is_alive() else w.kill()
        self._replenish(memory_mb)

    def _replenish(self, memory_mb: int) -> None:
        if self._ctx.get_start_method() == "fork":
            return  # a one-shot command: the next task starts its own worker, in this thread
        with self._cond:
            if self._closed or len(self._idle) + self._busy + self._starting >= self.warm:
                return
            self._starting += 1
        threading.Thread(target=self._start_spare, args=(memory_mb,), daemon=True,
                         name="fapiao-sandbox-spare").start()

    def _start_spare(self, memory_mb: int) -> None:
        w: _Worker | None = None
        try:
            w = _Worker(self._ctx, memory_mb)
        except Exception:  # the next task starts its own worker; nothing is lost
            log.exception("could not start a spare sandbox worker")
        with self._cond:
            self._starting -= 1
            if w is not None and not self._closed and len(self._idle) < self.warm:
                self._idle.append(w)
                w = None
                self._cond.notify()
        if w is not None:
            w.stop()

    def reserve(self, n: int) -> None:
        """Keep up to ``n`` workers warm (a folder import running ``n`` files at a time)."""
        with self._cond:
            self.warm = max(self.warm, min(n, self.cap))
            self.cap = max(self.cap, self.warm)

    def prewarm(self, memory_mb: int | None = None) -> None:
        """Start the warm workers now (the server does it at start-up, in the background)."""
        mb = memory_mb or Limits.from_settings().memory_mb
        started = [self._take(mb) for _ in range(self.warm)]
        for w in started:
            self._give_back(w, mb)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.stop()

    @property
    def size(self) -> int:
        """Workers alive now (idle and busy)."""
        with self._cond:
            return len(self._idle) + self._busy

    # -- one task --

    def run(self, fn: Callable[..., T], *args: Any, limits: Limits | None = None, name: str | None = None,
            **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker under ``limits``; its result, or its exception.

        ``fn`` must be a module-level function (it travels by name). Raises ``TooComplex``
        when a limit was hit, the ``InvoiceError`` the worker raised (rebuilt here), or
        ``SandboxError`` for any other exception in the worker. ``name`` (the file's name)
        is what a ``TooComplex`` message names.
        """
        file = name
        settings = get_settings()
        lim = limits or Limits.from_settings(settings)
        w = self._take(lim.memory_mb)
        healthy = False
        try:
            w.tasks += 1
            try:
                w.conn.send((fn, args, kwargs, settings, lim.cpu_seconds))
            except (OSError, EOFError):
                raise self._died(w, lim, file) from None
            start = time.monotonic()
            deadline = start + lim.wall_seconds
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    w.kill()
                    raise TooComplex("wall", lim.wall_seconds, file)
                step = remaining if w.reniced else min(remaining, RENICE_AFTER_SECONDS)
                if w.conn.poll(step):
                    break
                if not w.reniced and self._busy > 1:  # only yield to other files, not to nothing
                    w.reniced = True  # retired after this task: its priority cannot come back
                    with contextlib.suppress(OSError):
                        os.setpriority(os.PRIO_PROCESS, w.proc.pid or 0, NICE_LONG_TASK)
            try:
                reply = w.conn.recv()
            except (EOFError, OSError):
                raise self._died(w, lim, file) from None
            w.rss_mb = float(reply[-1])
            kind = reply[0]
            if kind == "limit":
                w.kill()
                raise TooComplex("memory", lim.memory_mb, file)
            healthy = True
            if kind == "ok":
                return reply[1]  # type: ignore[no-any-return]
            if kind == "invoice_error":
                err = reply[1]
                if not isinstance(err, InvoiceError):  # a reply of another shape: a sandbox bug
                    raise SandboxError("reply", repr(err))
                raise err
            raise SandboxError(reply[1], reply[2])
        finally:
            if not healthy:
                w.kill()
            self._give_back(w if healthy else None, lim.memory_mb)

    def _died(self, w: _Worker, lim: Limits, file: str | None) -> TooComplex:
        """Why a worker ended in the middle of a task, as the limit it hit."""
        w.proc.join(2)
        code = w.proc.exitcode
        w.kill()
        if code == -signal.SIGXCPU:
            return TooComplex("cpu", lim.cpu_seconds, file)
        if code == -signal.SIGKILL:  # not ours (we raise "wall" ourselves): the kernel's OOM killer
            return TooComplex("memory", lim.memory_mb, file)
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            log.warning("sandbox worker died of %s on %s", name, file)
            # Under RLIMIT_AS a C library that fails an allocation without checking crashes
            # (SIGSEGV, SIGABRT): the message names the memory limit as the likely cause.
            return TooComplex("crash", lim.memory_mb, file, detail=name)
        log.warning("sandbox worker exited with status %s on %s", code, file)
        return TooComplex("crash", lim.memory_mb, file, detail=f"exit {code}")


class SandboxError(Exception):
    """The task raised an unexpected exception in the worker (a reader bug, not a limit)."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text
        super().__init__(f"{type_name}: {text}")


WORKER_NAME = "fapiao-sandbox"
_stdlib_preparation_data = spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """The stdlib's start-up data for a new process, minus the main module for our workers.

    multiprocessing re-imports the caller's ``__main__`` in every child it starts (for
    functions defined there). A worker runs only importable tasks, and re-running a script,
    uvicorn's entry point or pytest's in every worker would be slow at best, so the sandbox's
    processes are started without it.
    """
    data = _stdlib_preparation_data(name)
    if name == WORKER_NAME:
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


# How workers start: from a forkserver (the default: a server's threads never fork, and the
# parsers are preloaded once for the many files a server reads), or forked straight from a
# one-shot command line process (``for_command_line``).
_start_method = "forkserver"


def for_command_line() -> None:
    """Start this process's workers by forking it directly, without the forkserver.

    For ``fapiao parse`` and ``fapiao verify``: a short-lived, single-threaded process that
    reads a few files. A forkserver would start a second interpreter and preload every reader
    (pyhanko, pdfplumber, zxing: most of a second) for one file; a fork of the command itself
    costs milliseconds and the worker imports only the reader its file needs. The limits are
    the same (the worker arms them itself); the pool keeps one worker and never forks from a
    helper thread. Call it before the first ``run``.
    """
    global _start_method
    _start_method = "fork"


def _context() -> Any:
    """The forkserver context, with the parsers preloaded into the server once."""
    if _start_method == "fork":
        return multiprocessing.get_context("fork")
    if spawn.get_preparation_data is not _preparation_data:
        spawn.get_preparation_data = _preparation_data
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


_pool: Pool | None = None
_pool_lock = threading.Lock()


def get_pool() -> Pool:
    """This process's pool (a forked child makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._pid != os.getpid():
            s = get_settings()
            _pool = (Pool(1, 1) if _start_method == "fork"
                     else Pool(s.sandbox_workers, s.sandbox_max_workers))
        return _pool


def shutdown() -> None:
    """End the idle workers (at server shutdown and in tests)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None and pool._pid == os.getpid():
        pool.close()


def run(fn: Callable[..., T], *args: Any, limits: Limits | None = None, name: str | None = None,
        **kwargs: Any) -> T:
    """Run ``fn`` in this process's sandbox pool (see :meth:`Pool.run`)."""
    return get_pool().run(fn, *args, limits=limits, name=name, **kwargs)
