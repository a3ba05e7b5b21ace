"""Running a long Rust call (one that releases the GIL) so that Ctrl-C stops it cleanly.

Every stage that reads a corpus works the same way: the call runs on a worker thread, the
calling thread wakes up a few times a second to draw its progress bar, and a Ctrl-C there asks
the Rust side to cancel (it stops at the next line or shard boundary, leaving nothing
half-written) and waits for it before re-raising ``KeyboardInterrupt``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional, TypeVar

__all__ = ["run_cancellable"]

T = TypeVar("T")


def run_cancellable(
    fn: Callable[[], T],
    cancel: Callable[[], Any],
    poll: Optional[Callable[[], Any]] = None,
    *,
    name: str,
    interval: float = 0.2,
) -> T:
    """Returns ``fn()``, run on a worker thread named ``name``.

    ``poll`` (progress drawing) is called on this thread every ``interval`` seconds while ``fn``
    runs. On ``KeyboardInterrupt`` ``cancel()`` is called and the worker joined before the
    interrupt propagates. An exception raised by ``fn`` is re-raised here.
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = fn()
        except BaseException as err:  # re-raised on the calling thread
            box["error"] = err

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(interval)
            if poll is not None:
                poll()
    except KeyboardInterrupt:
        cancel()
        thread.join()
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]
