"""`albert_fast.progress.run_with_progress`: the worker-thread runner every corpus stage uses."""

from __future__ import annotations

import threading
import time

import pytest

from albert_fast.progress import Bar, run_with_progress


def test_returns_the_result_and_polls_while_running():
    release = threading.Event()
    polls = []

    def poll(snapshot: dict) -> Bar:
        polls.append(snapshot["phase"])
        if len(polls) == 3:
            release.set()
        return Bar(0, 0, "t")

    assert run_with_progress(lambda p: release.wait(30) and 42, poll, show=True, name="t", interval=0.01) == 42
    assert len(polls) >= 3


def test_reraises_the_workers_exception_on_the_caller():
    def fail(_progress) -> None:
        raise ValueError("bad input line 7")

    with pytest.raises(ValueError, match="line 7"):
        run_with_progress(fail, lambda s: Bar(0, 0, "t"), show=False, name="t", interval=0.01)


def test_ctrl_c_cancels_and_waits_for_the_worker():
    cancelled = threading.Event()
    finished = threading.Event()

    def work(progress) -> None:
        deadline = time.monotonic() + 30
        while not progress.cancelled and time.monotonic() < deadline:  # the Rust side stops at its next check
            time.sleep(0.005)
        if progress.cancelled:
            cancelled.set()
        finished.set()

    def ctrl_c(_snapshot: dict) -> Bar:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_with_progress(work, ctrl_c, show=True, name="t", interval=0.01)
    assert cancelled.is_set() and finished.is_set(), "the worker is joined before the interrupt propagates"
