"""Bound the time a PDF may take, in whatever thread the parse runs.

pdfminer (under pdfplumber) is pure Python and some crafted PDFs make it loop for minutes or
recurse without end. A signal alarm only works in the main thread, and a web worker is not
one, so the watchdog here is a timer thread that, at the deadline, raises ``_Expired`` inside
the parsing thread (``PyThreadState_SetAsyncExc``). The exception lands at the next Python
bytecode, so pure-Python loops stop promptly; a long C call (pdfium) finishes first and the
exception follows on its return. ``deadline`` turns it into ``ParseError(TIMEOUT)``.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from invoice.errors import ErrorCode, ParseError


class _Expired(BaseException):
    """Raised asynchronously in the parsing thread; a BaseException so that the libraries'
    own ``except Exception`` blocks cannot swallow it."""


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


@contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Run the body for at most ``seconds``; raise ParseError TIMEOUT naming ``what`` after."""
    thread_id = threading.get_ident()
    lock = threading.Lock()
    state = {"active": True, "fired": False}

    def expire() -> None:
        with lock:
            if state["active"]:
                state["fired"] = True
                _set_async_exc(thread_id, _Expired)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except _Expired:
        raise ParseError(ErrorCode.TIMEOUT, f"reading the PDF took longer than {seconds:g} s",
                         what) from None
    finally:
        with lock:
            state["active"] = False
            fired = state["fired"]
        timer.cancel()
        if fired:
            # If the body finished just as the timer fired, the exception may still be pending:
            # clear it so that it cannot surface in the caller's code.
            _set_async_exc(thread_id, None)
    if fired:
        raise ParseError(ErrorCode.TIMEOUT, f"reading the PDF took longer than {seconds:g} s", what)
