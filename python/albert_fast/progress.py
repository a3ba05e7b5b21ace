"""Running a long Rust call (one that releases the GIL) with a progress bar and clean Ctrl-C.

The call runs on a worker thread with a ``_core.Progress``; this thread wakes a few times a
second to redraw the bar from ``progress.snapshot()``. Ctrl-C here cancels the Rust side (it
stops at its next line, batch or shard boundary, leaving nothing half-written), waits for it and
re-raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, NamedTuple, Optional, TypeVar

from albert_fast import _core

__all__ = ["Bar", "run_with_progress"]

T = TypeVar("T")


class Bar(NamedTuple):
    """What the bar shows for one snapshot: ``n`` of ``total`` bytes, a description, a postfix."""

    n: int
    total: int
    desc: str
    postfix: Optional[dict[str, Any]] = None


def run_with_progress(
    call: Callable[[_core.Progress], T],
    view: Callable[[dict[str, Any]], Bar],
    *,
    show: bool,
    name: str,
    interval: float = 0.25,
) -> T:
    """Returns ``call(progress)``, run on a worker thread named ``name``.

    With ``show``, every ``interval`` seconds ``view(progress.snapshot())`` says what the bar on
    stderr shows (tqdm). An exception raised by ``call`` is re-raised here.
    """
    progress = _core.Progress()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = call(progress)
        except BaseException as err:  # re-raised on the calling thread
            box["error"] = err

    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, dynamic_ncols=True)

    def draw() -> None:
        if not show:
            return
        state = view(progress.snapshot())
        if bar is not None:
            bar.total = state.total
            bar.n = min(state.n, state.total) if state.total else state.n
            bar.set_description(state.desc, refresh=False)
            if state.postfix:
                bar.set_postfix(state.postfix, refresh=False)
            bar.refresh()

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(interval)
            draw()
    except KeyboardInterrupt:
        progress.cancel()
        thread.join()
        raise
    finally:
        if bar is not None:
            bar.close()
    if "error" in box:
        raise box["error"]
    return box["result"]
