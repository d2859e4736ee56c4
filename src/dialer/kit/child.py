"""Run untrusted-input parsing in a child process with a memory limit.

A reader given a crafted file (a sparse workbook, a decompression bomb the archive
checks missed) may try to allocate far more memory than the machine has. In the API
process that kills the server and its embedded worker; in a child with an address-space
limit (``RLIMIT_AS``) the allocation fails, the child ends, and the caller answers a
clear 4xx. The limit is the child's size at start (a fork shares the parent's mappings)
plus a budget.

``run`` runs one picklable function and returns its result; exceptions raised in the
child are re-raised in the caller; a child that dies (a native allocator aborting, a
signal) raises ``ChildFailed``. The ingestion reader streams chunks through its own
pipe and only uses ``limit_memory``/``prepare_child``/``context``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import anyio.to_thread

try:  # POSIX only; elsewhere the child runs without a limit
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

# Memory a parsing child may allocate beyond what it inherited.
DEFAULT_BUDGET_BYTES = 1536 << 20
T = TypeVar("T")
# The exit signals of a child that ran out of memory: a native allocator aborts
# (SIGABRT, e.g. Rust's "memory allocation of N bytes failed"), the kernel's OOM killer
# sends SIGKILL.
OUT_OF_MEMORY_SIGNALS = frozenset({signal.SIGABRT, signal.SIGKILL})


class ChildFailed(RuntimeError):
    """The child process ended without an answer."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        self.out_of_memory = exitcode is not None and -exitcode in OUT_OF_MEMORY_SIGNALS
        what = "ran out of memory" if self.out_of_memory else "stopped unexpectedly"
        super().__init__(f"the reader process {what} (exit code {exitcode})")

    def __reduce__(self) -> tuple[type[ChildFailed], tuple[int | None]]:
        return (ChildFailed, (self.exitcode,))  # pickled from the child with its code


def _address_space() -> int:
    """This process's current virtual size in bytes (0 when unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def limit_memory(budget_bytes: int) -> int | None:
    """Cap this process's address space at its current size plus ``budget_bytes``;
    returns the limit set (None where limits are unavailable)."""
    if resource is None:
        return None
    current = _address_space()
    if current == 0:
        return None
    limit = current + budget_bytes
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return limit


def prepare_child(budget_bytes: int) -> None:
    """What every parsing child does first: own signals, frozen heap, memory limit."""
    # A forked child inherits the server's signal handlers and the event loop's wakeup
    # fd: without this a terminate() would run the server's shutdown handler here (and
    # not end the child), and signals would wake the parent's loop.
    with contextlib.suppress(ValueError):  # only possible from the main thread
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the child
    # The inherited heap (the whole application) is never garbage here: without this,
    # every full collection walks all of it again.
    gc.freeze()
    # An allocation refused under the limit may abort a native reader: that is reported
    # by the parent (ChildFailed); a traceback dump of the child would only be noise.
    faulthandler.disable()
    limit_memory(budget_bytes)


def context() -> Any:
    """The multiprocessing context for parsing children.

    fork starts at once with every module already imported (a fresh interpreter costs
    ~0.3 s); the child runs only pure code. Python 3.12+ warns when forking a threaded
    process, so there (and off Linux) a forkserver/spawn start is used instead.
    """
    if sys.platform == "linux" and sys.version_info < (3, 12):
        return multiprocessing.get_context("fork")
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _main(sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...], budget: int) -> None:
    prepare_child(budget)
    try:
        result: Any = ("ok", fn(*args))
    except MemoryError:
        result = ("error", ChildFailed(-signal.SIGABRT))
    except BaseException as exc:  # re-raised in the parent
        result = ("error", exc)
    try:
        sender.send(result)
    except MemoryError:
        sender.send(("error", ChildFailed(-signal.SIGABRT)))
    finally:
        sender.close()


def _wait(proc: Any, receiver: Connection, timeout_s: float) -> Any:
    try:
        if not receiver.poll(timeout_s):
            proc.kill()
            raise TimeoutError(f"the reader process took more than {timeout_s:.0f} s")
        return receiver.recv()
    except EOFError:
        proc.join(5)
        raise ChildFailed(proc.exitcode) from None
    finally:
        receiver.close()
        proc.join(5)
        if proc.is_alive():  # pragma: no cover - the child never ignores SIGKILL
            proc.kill()
            proc.join()


async def run(
    fn: Callable[..., T],
    *args: Any,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
    timeout_s: float = 300.0,
) -> T:
    """``fn(*args)`` in a child process with a memory limit, off the event loop."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    try:
        proc = ctx.Process(target=_main, args=(sender, fn, args, budget_bytes), daemon=True)
        proc.start()
    finally:
        sender.close()
    status, value = await anyio.to_thread.run_sync(_wait, proc, receiver, timeout_s)
    if status == "error":
        raise value
    return value  # type: ignore[no-any-return]
