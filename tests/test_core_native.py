"""The native-output guard: what C code prints inside it reaches stderr, and stdout is whole again after."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import ctypes, sys
    from costplane.core.native import native_stdout_to_stderr
    libc = ctypes.CDLL(None)
    print("before", flush=True)
    with native_stdout_to_stderr():
        libc.printf(b"native one\\n")
        with native_stdout_to_stderr():  # nested: one redirection, restored by the outer block
            libc.printf(b"native two\\n")
        libc.printf(b"native three\\n")
    print("after", flush=True)
    libc.printf(b"native after\\n")
    libc.fflush(None)
""")


def test_native_prints_inside_the_guard_go_to_stderr_and_stdout_is_restored():
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["before", "after", "native after"]
    assert p.stderr.splitlines() == ["native one", "native two", "native three"]
