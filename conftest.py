"""Repository-wide test safety net: a test stuck in native code ends the run with every thread's stack.

pytest-timeout (``timeout_method = "thread"`` in pyproject.toml) fails a test that runs past 600 s while the GIL is
free. A deadlock that holds the GIL inside native code (a Rust or C extension) stops every Python thread, including
pytest-timeout's, so a C-level watchdog (:func:`faulthandler.dump_traceback_later`) dumps all stacks and exits a
little later. Without it, such a hang would run until CI's own limit and print nothing.
"""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Iterator

import pytest

WATCHDOG_SECONDS = 720


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Arm the C-level watchdog for the duration of one test (setup, call and teardown)."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
