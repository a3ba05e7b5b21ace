"""Running a long call on a worker thread with something live on stderr, and clean Ctrl-C.

Two faces of one runner:

* :func:`run_with_progress` — a Rust call that releases the GIL and counts its work in a
  ``_core.Progress``: a bar redrawn a few times a second from ``progress.snapshot()``. Ctrl-C
  cancels the Rust side (it stops at its next line, batch or shard boundary, leaving nothing
  half-written), waits for it and re-raises ``KeyboardInterrupt``.
* :func:`run_with_status` — any call that reports nothing while it runs (NLTK's or our Punkt
  trainer, SentencePiece's trainer): a status line that says what is being done and for how
  long, so that a long stage is never silent. Ctrl-C re-raises at once (such a call cannot be
  stopped from outside; it holds no output under a final name).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, NamedTuple, Optional, TypeVar

from albert_fast import _core

__all__ = ["Bar", "run_with_progress", "run_with_status", "format_duration"]

T = TypeVar("T")


class Bar(NamedTuple):
    """What the bar shows for one snapshot: ``n`` of ``total`` bytes, a description, a postfix."""

    n: int
    total: int
    desc: str
    postfix: Optional[dict[str, Any]] = None


def format_duration(seconds: float) -> str:
    """``7s``, ``3m05s``, ``2h04m``: elapsed times and ETAs on status lines."""
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _run_on_thread(call: Callable[[], T], name: str, draw: Callable[[], None], interval: float,
                   on_interrupt: Callable[[threading.Thread], None]) -> T:
    """``call()`` on a daemon thread named ``name``; ``draw()`` every ``interval`` seconds on
    this one while it runs. Its exception is re-raised here; Ctrl-C, or an error of ``draw()``,
    runs ``on_interrupt`` (which stops the call where it can) and is raised."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = call()
        except BaseException as err:  # re-raised on the calling thread
            box["error"] = err

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(interval)
            draw()
    except BaseException:
        on_interrupt(thread)
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]


def run_with_progress(
    call: Callable[[_core.Progress], T],
    view: Callable[[dict[str, Any]], Bar],
    *,
    show: bool,
    name: str,
    interval: float = 0.25,
    check: Optional[Callable[[], None]] = None,
) -> T:
    """Returns ``call(progress)``, run on a worker thread named ``name``.

    With ``show``, every ``interval`` seconds ``view(progress.snapshot())`` says what the bar on
    stderr shows (tqdm). An exception raised by ``call`` is re-raised here. ``check()``, called
    as often, may raise to stop the call (e.g. a cluster started meanwhile that failed).
    """
    progress = _core.Progress()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, dynamic_ncols=True)

    def draw() -> None:
        if check is not None:
            check()
        if bar is None:
            return
        state = view(progress.snapshot())
        bar.total = state.total
        bar.n = min(state.n, state.total) if state.total else state.n
        bar.set_description(state.desc, refresh=False)
        if state.postfix:
            bar.set_postfix(state.postfix, refresh=False)
        bar.refresh()

    def cancel(thread: threading.Thread) -> None:
        progress.cancel()
        thread.join()

    try:
        return _run_on_thread(lambda: call(progress), name, draw, interval, cancel)
    finally:
        if bar is not None:
            bar.close()


def run_with_status(
    call: Callable[[], T],
    desc: str,
    *,
    show: bool,
    name: str,
    interval: float = 0.5,
    stream: Any = None,
) -> T:
    """Returns ``call()``, run on a worker thread named ``name``.

    With ``show``, a status line on stderr (``stream``) reads ``desc: 12s`` and is redrawn every
    ``interval`` seconds while the call runs (rewritten in place on a terminal, one line per
    minute elsewhere, so that logs stay short); when it ends the line says how long it took.
    """
    out = stream if stream is not None else sys.stderr
    tty = bool(getattr(out, "isatty", lambda: False)())
    start = time.monotonic()
    last_logged = [start]

    def line(state: str) -> str:
        return f"albert-fast: {desc}: {state}"

    def draw() -> None:
        if not show:
            return
        now = time.monotonic()
        if tty:
            out.write("\r\x1b[K" + line(format_duration(now - start)))
            out.flush()
        elif now - last_logged[0] >= 60:
            last_logged[0] = now
            out.write(line(f"{format_duration(now - start)} so far") + "\n")
            out.flush()

    def finish(state: str) -> None:
        if show:
            out.write(("\r\x1b[K" if tty else "") + line(state) + "\n")
            out.flush()

    if show and not tty:
        out.write(line("started") + "\n")
        out.flush()
    try:
        result = _run_on_thread(call, name, draw, interval, lambda thread: None)
    except KeyboardInterrupt:
        finish(f"interrupted after {format_duration(time.monotonic() - start)}")
        raise
    except BaseException:
        finish(f"failed after {format_duration(time.monotonic() - start)}")
        raise
    finish(f"done in {format_duration(time.monotonic() - start)}")
    return result
