"""Text output that never blocks the agent: a bounded queue drained by a daemon thread.

The tree view and the SLI table go to stderr by default. When stderr is a pipe
nobody reads, a plain ``write`` blocks as soon as the pipe is full (64 KiB on
Linux), and with it every tool call. Here the caller only appends to a
bounded queue; a daemon thread does the writing, and when the queue is full
the text is dropped and its lines counted.

For the default stream (``sys.stderr``) the thread writes with ``os.write`` on
its file descriptor: a daemon thread blocked inside ``sys.stderr.write`` would
hold the stream's lock, and the interpreter aborts at exit when it cannot take
that lock to flush stderr. In-memory streams (no file descriptor) never block,
so they are written at once, in the caller's thread.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from typing import IO, Final

_logger = logging.getLogger(__name__)

MAX_QUEUED_CHARS: Final = 1 << 20
MAX_QUEUED_TEXTS: Final = 1_024


def _line_count(text: str) -> int:
    return text.count("\n") + 1


class Sink:
    """Writes whole texts (each gets a newline) to ``out``, or to ``sys.stderr`` at write time."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self._out = out
        self.dropped_lines = 0
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[str] = deque()
        self._chars = 0
        self._busy = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def write(self, text: str) -> None:
        """Queue ``text`` (or write it now to an in-memory stream); never blocks on the sink."""
        stream = self._out if self._out is not None else sys.stderr
        if stream is None:
            return
        if not _has_fd(stream):
            self._write_now(stream, text)
            return
        self._check_fork()
        with self._cond:
            if len(self._queue) >= MAX_QUEUED_TEXTS or self._chars + len(text) > MAX_QUEUED_CHARS:
                self.dropped_lines += _line_count(text)
                return
            if self._thread is None and not self._start_thread():
                inline = True  # no thread can start now: written here, below
            else:
                inline = False
                self._queue.append(text)
                self._chars += len(text)
                self._cond.notify()
        if inline:
            try:
                self._write_fd(text)
            except Exception:
                _logger.debug("the sink could not write", exc_info=True)

    def _start_thread(self) -> bool:
        """Start the writer thread (under the lock); False when the interpreter is shutting
        down (Python 3.12+ refuses new threads in exit hooks)."""
        thread = threading.Thread(target=self._drain, name="instrumentors-sink", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            return False
        self._thread = thread
        return True

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queue to be written; what is left is dropped."""
        deadline = time.monotonic() + max(timeout, 0.0)
        self._check_fork()
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.dropped_lines += sum(_line_count(t) for t in self._queue)
                    self._queue.clear()
                    self._chars = 0
                    return False
                self._cond.wait(remaining)
        return True

    def _check_fork(self) -> None:
        # A forked child: the parent's queue is the parent's to write, its thread
        # does not exist here, and its lock may have been held at the fork.
        if self._pid != os.getpid():
            self._reset()

    def _drain(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                text = self._queue.popleft()
                self._chars -= len(text)
                self._busy = True
            try:
                self._write_fd(text)
            except Exception:
                _logger.debug("the sink could not write", exc_info=True)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_fd(self, text: str) -> None:
        stream = self._out if self._out is not None else sys.stderr
        if stream is None:
            return
        if not _is_stderr(stream):
            self._write_now(stream, text)  # keep the stream's own buffering and order
            return
        fd = stream.fileno()
        stream_encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            data = (text + "\n").encode(stream_encoding, "backslashreplace")
        except LookupError:
            data = (text + "\n").encode("utf-8", "backslashreplace")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def _write_now(self, stream: IO[str], text: str) -> None:
        try:
            stream.write(text + "\n")
            stream.flush()
        except Exception:
            _logger.debug("the sink could not write", exc_info=True)


def _has_fd(stream: IO[str]) -> bool:
    try:
        stream.fileno()
    except Exception:  # noqa: BLE001 - io.UnsupportedOperation, or no such method
        return False
    return True


def _is_stderr(stream: IO[str]) -> bool:
    return stream is sys.stderr or stream is sys.__stderr__
