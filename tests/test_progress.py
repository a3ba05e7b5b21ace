"""`albert_fast.progress`: the worker-thread runner every long stage uses (a bar for Rust calls
that count their work, a status line with elapsed time for calls that report nothing)."""

from __future__ import annotations

import importlib
import io
import threading
import time

import pytest

from albert_fast.progress import Bar, format_duration, run_with_progress, run_with_status


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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_shows_elapsed_time_while_a_silent_call_runs():
    """A call that reports nothing (a trainer) gets a live status line: redrawn in place with
    the elapsed time on a terminal, a start and an end line in a log."""
    release = threading.Event()
    term = _Terminal()

    def work() -> int:
        release.wait(30)
        return 7

    threading.Timer(0.35, release.set).start()
    assert run_with_status(work, "training Punkt on 1.0 MB", show=True, name="t", interval=0.05,
                           stream=term) == 7
    frames = term.getvalue().split("\r\x1b[K")
    assert len(frames) >= 4, frames  # redrawn while it ran
    assert all(f.startswith("albert-fast: training Punkt on 1.0 MB: ") for f in frames[1:])
    assert frames[-1].endswith(": done in 0s\n")
    log = io.StringIO()
    run_with_status(lambda: None, "training SentencePiece", show=True, name="t", stream=log)
    assert log.getvalue().splitlines() == ["albert-fast: training SentencePiece: started",
                                           "albert-fast: training SentencePiece: done in 0s"]
    quiet = io.StringIO()
    assert run_with_status(lambda: 3, "x", show=False, name="t", stream=quiet) == 3 and quiet.getvalue() == ""


def test_status_line_reports_a_failure_and_reraises_it():
    log = io.StringIO()

    def fail() -> None:
        raise ValueError("bad sample")

    with pytest.raises(ValueError, match="bad sample"):
        run_with_status(fail, "training Punkt", show=True, name="t", stream=log)
    assert log.getvalue().splitlines()[-1] == "albert-fast: training Punkt: failed after 0s"


def test_format_duration():
    assert [format_duration(s) for s in (0.4, 59, 61, 3599, 3600, 7441)] == [
        "0s", "59s", "1m01s", "59m59s", "1h00m", "2h04m"]


def test_punkt_and_sentencepiece_training_show_the_status_line(examples_dir, tmp_path, capfd):
    """The stages' silent trainers run under the status line (stderr is not a terminal here, so
    it is the log form: a start and an end line)."""
    import albert_fast

    albert_fast.prepare_corpus([examples_dir / "en-twain4.txt"], tmp_path / "corpus", punkt_sample_mb=0.05,
                               progress=True)
    err = capfd.readouterr().err
    assert "albert-fast: training Punkt on a 0.05 MB sample of the input: started" in err
    assert "albert-fast: training Punkt on a 0.05 MB sample of the input: done in" in err
    albert_fast.train_tokenizer([tmp_path / "corpus"], tmp_path / "tok", vocab_size=300, progress=True)
    err = capfd.readouterr().err
    assert "albert-fast: training SentencePiece unigram model, vocab_size 300, on " in err
    assert [line for line in err.splitlines() if "training SentencePiece" in line][-1].split(": ")[-1].startswith("done in")


def test_create_data_bar_shows_the_shard_count_once_it_is_known():
    # A run that reads its input once learns the shard count at the end: the bar counts up.
    cd = importlib.import_module("albert_fast.create_data")
    snap = dict(phase="building", bytes_read=9, bytes_done=5, bytes_total=10, documents=3, instances=7,
                shards_done=2, shards_total=0)
    assert cd._bar(snap).postfix["shards"] == "2"
    assert cd._bar({**snap, "shards_total": 8}).postfix["shards"] == "2/8"
    assert cd._bar({**snap, "phase": "planning"}).n == 9
