"""`albert_fast.cancellable.run_cancellable`: the worker-thread runner every corpus stage uses."""

from __future__ import annotations

import threading

import pytest

from albert_fast.cancellable import run_cancellable


def test_returns_the_result_and_polls_while_running():
    release = threading.Event()
    polls = []

    def poll() -> None:
        polls.append(1)
        if len(polls) == 3:
            release.set()

    assert run_cancellable(lambda: release.wait(30) and 42, lambda: None, poll, name="t", interval=0.01) == 42
    assert len(polls) >= 3


def test_reraises_the_workers_exception_on_the_caller():
    def fail() -> None:
        raise ValueError("bad input line 7")

    with pytest.raises(ValueError, match="line 7"):
        run_cancellable(fail, lambda: None, name="t", interval=0.01)


def test_ctrl_c_cancels_and_waits_for_the_worker():
    cancelled = threading.Event()
    finished = threading.Event()

    def work() -> None:
        cancelled.wait(30)  # the Rust side stops at its next check
        finished.set()

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_cancellable(work, cancelled.set, ctrl_c, name="t", interval=0.01)
    assert cancelled.is_set() and finished.is_set(), "the worker is joined before the interrupt propagates"
