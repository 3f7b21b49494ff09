"""Native solver output guard: what C/C++ libraries print goes to stderr, never into stdout (CLI `--json`).

HiGHS, as bundled with scipy, prints some debug lines with plain printf whatever its options say
(for example "HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();" on a few
integer programs). Such a line would come before a `--json` document and break every reader of it,
so every solver call runs inside `native_stdout_to_stderr()`: file descriptor 1 points at descriptor 2
for the duration, and C stdio buffers are flushed before it is restored. Nested and concurrent uses
share one redirection (the last to leave restores it).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_saved_fd: int | None = None


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle on this platform: nothing to flush
        pass


def _redirect() -> int | None:
    try:
        sys.stdout.flush()
        _flush_c_stdio()
        saved = os.dup(1)
        os.dup2(2, 1)
        return saved
    except (OSError, ValueError, AttributeError):  # no real descriptors (embedded, closed): leave them be
        return None


def _restore(saved: int) -> None:
    _flush_c_stdio()
    os.dup2(saved, 1)
    os.close(saved)


@contextmanager
def native_stdout_to_stderr() -> Iterator[None]:
    """Within the block, anything written to file descriptor 1 lands on descriptor 2."""
    global _depth, _saved_fd
    with _lock:
        if _depth == 0:
            _saved_fd = _redirect()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                _restore(_saved_fd)
                _saved_fd = None
