"""train-tokenizer: a SentencePiece unigram model with ALBERT's ids (docs/tokenizer-training.md).

The Rust core streams the corpus once and keeps only a deterministic sample, normalized exactly
as create-data will normalize it (Q1); that sample alone goes to SentencePiece's trainer, so
memory is bounded by the sample. Writes ``spiece.model``, ``spiece.vocab`` (``vocab_size``
counts the specials, Q5) and ``tokenizer_config.json``."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple

from albert_fast import _core, storage
from albert_fast.cluster import open_executor, parse_cluster, run_tasks
from albert_fast.config import Config, as_config
from albert_fast.errors import ConfigError, ModelError
from albert_fast.io_utils import (STDIN, atomic_path, atomic_write_json, atomic_write_text,
                                  ensure_output_dir, stdin_spooled)
from albert_fast.progress import Bar, run_with_progress, run_with_status
from albert_fast.tokenizer import ALBERT_SPECIAL_TOKENS, MODEL_FILE, TOKENIZER_CONFIG

log = logging.getLogger("albert_fast")

#: SentencePiece's control symbols: the specials after pad and unk, in id order.
CONTROL_SYMBOLS = [ALBERT_SPECIAL_TOKENS[k] for k in ("cls", "sep", "mask")]
#: The vocabulary listing SentencePiece writes next to the model.
VOCAB_FILE = "spiece.vocab"

#: SentencePiece's unigram trainer splits its E-step over ``num_threads`` and sums the partial
#: results in thread order, so the model's bytes depend on the thread count (measured: a few
#: pieces and scores differ between 2 and 16 threads). A fixed count makes the output identical
#: on every machine; the threads share the cores there are (up to 16 are used).
SPM_NUM_THREADS = 16
#: SentencePiece's own default ``max_sentence_length`` (bytes): it skips longer sentences; we drop
#: them while sampling instead, so the sample has exactly the size asked for.
MAX_SENTENCE_BYTES = 4192


def train_tokenizer(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    output_dir: str | os.PathLike,
    config: Config | str | os.PathLike | Mapping[str, Any] | None = None,
    vocab_size: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    cluster: Any = None,
) -> dict[str, Any]:
    """Trains ``spiece.model``/``spiece.vocab`` on ``inputs`` and writes them, with
    ``tokenizer_config.json``, to ``output_dir``.

    Args:
        inputs: files, directories (read recursively) or glob patterns; ``.gz``/``.zst``/``.bz2``
            are decompressed.
        output_dir: created if missing; existing tokenizer files there are replaced atomically.
        config: a :class:`~albert_fast.config.Config`, a YAML/JSON path, a dict, or ``None`` for
            the defaults. Uses its ``text`` and ``tokenizer`` sections, ``data.random_seed``
            (the sampling seed) and ``data.reference_compat`` (Q3 quote replacement).
        vocab_size: total pieces including the five specials; overrides the config
            (``tokenizer.vocab_size``, else ``model.vocab_size``).
        threads: threads for reading and normalizing (default: all cores). The output does not
            depend on it.
        progress: show a progress bar on stderr while the corpus is read.
        cluster: draw the sample with tasks per input file on Dask (``"local"``, ``"local:N"``,
            a scheduler address or a ``distributed.Client``; default: the config's
            ``cluster.address``): the same sample (docs/cluster.md). SentencePiece itself
            trains here. ``inputs`` and ``output_dir`` may be URLs (``gs://``, ``s3://``).

    Returns:
        A summary: paths written, vocabulary size, sample size and input statistics.

    Raises:
        FileNotFoundError: an input path does not exist.
        InputError: no usable text, a binary or corrupt file.
        ConfigError: a bad setting, or a vocabulary too large for the corpus.
    """
    started = time.monotonic()
    cfg = as_config(config)
    tok = cfg.tokenizer
    size = resolve_vocab_size(cfg, vocab_size)
    threads = _check_threads(threads)
    lowercase, strip_accents = cfg.text.lowercase, cfg.text.strip_accents
    replace_quotes = not cfg.data.reference_compat  # Q3: the data pipeline's setting
    if size != cfg.model.vocab_size:
        log.warning("albert-fast: note: training a vocabulary of %d pieces but model.vocab_size is "
                    "%d; set model.vocab_size to %d before pretraining (Q5: the embedding table and "
                    "the tokenizer must agree)", size, cfg.model.vocab_size, size)
    if tok.model_type != "unigram":
        log.warning("albert-fast: warning: tokenizer.model_type = %r: ALBERT uses unigram, and "
                    "albert_fast's encoder (create-data, albert_fast.Tokenizer) reads unigram models "
                    "only; the model will load in sentencepiece but not in the later stages",
                    tok.model_type)
    symbols = check_user_defined_symbols(tok.user_defined_symbols, lowercase, strip_accents, replace_quotes)
    min_size = len(ALBERT_SPECIAL_TOKENS) + len(symbols) + 1
    if size < min_size:
        raise ConfigError(
            f"vocab_size = {size} is too small: the {len(ALBERT_SPECIAL_TOKENS)} special pieces and "
            f"{len(symbols)} user_defined_symbols alone take {min_size - 1}")

    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    paths = [os.fspath(p) for p in paths]
    if STDIN not in paths:  # a missing input fails before the output directory is made
        _expand(paths)
    sampling = _Sampling(cfg.cluster.address if cluster is None else cluster,
                         cfg.cluster.connect_timeout, os.fspath(output_dir))
    if storage.is_url(output_dir):
        url = storage.ensure_output(output_dir)
        with storage.temp_dir() as tmp:
            with stdin_spooled(paths, Path(tmp)) as local:
                files, skipped_hidden = _expand(local)
                summary = _train(files, skipped_hidden, Path(tmp), cfg, size, symbols, threads,
                                 progress, replace_quotes, started, sampling)
            storage.upload_dir(tmp, url, last=[TOKENIZER_CONFIG])
        return dict(summary, output_dir=url, model_file=storage.join(url, MODEL_FILE),
                    vocab_file=storage.join(url, VOCAB_FILE), config_file=storage.join(url, TOKENIZER_CONFIG))
    created = not Path(output_dir).exists()
    out = ensure_output_dir(output_dir)
    try:
        with stdin_spooled(paths, out) as paths:
            files, skipped_hidden = _expand(paths)
            return _train(files, skipped_hidden, out, cfg, size, symbols, threads, progress,
                          replace_quotes, started, sampling)
    except BaseException:
        if created:  # leave nothing behind for a run that failed
            shutil.rmtree(out, ignore_errors=True)
        raise


def _expand(paths: list[str]) -> tuple[list, int]:
    """The input files of ``paths`` (local and URL specs) and how many hidden files were skipped."""
    specs, url_hidden = storage.expand_inputs(paths)
    files, skipped_hidden = _core.expand_inputs(specs)
    return files, skipped_hidden + url_hidden


def _train(files: list, skipped_hidden: int, out: Path, cfg: Config, size: int, symbols: list[str],
           threads: int, progress: bool, replace_quotes: bool, started: float,
           sampling: "_Sampling") -> dict[str, Any]:
    tok = cfg.tokenizer
    lowercase, strip_accents = cfg.text.lowercase, cfg.text.strip_accents
    sample, stats = _draw_sample(
        files, sampling, progress=progress, lowercase=lowercase, strip_accents=strip_accents,
        replace_quotes=replace_quotes, max_sentences=tok.input_sentence_size, shuffle=tok.shuffle,
        seed=cfg.data.random_seed, max_sentence_bytes=MAX_SENTENCE_BYTES, threads=threads)
    stats["skipped_files"] = skipped_hidden
    _warn_about_input(stats)
    sentences = stats["sampled"]
    estimate = estimate_training(sampled_bytes(stats), size)
    _warn_about_memory(estimate)
    # SentencePiece reports nothing while it trains (its log is off): a status line says what
    # is going on, what it should cost, and for how long it has run.
    model_bytes = run_with_status(
        lambda: _run_trainer(sample, size, tok.model_type, tok.character_coverage, symbols, sentences),
        f"training SentencePiece {tok.model_type} model, vocab_size {size}, on {sentences:,} "
        f"sentences; {estimate.describe()}",
        show=progress, name="albert-fast-spm-train")
    sp = check_albert_specials(model_bytes, size, symbols, where=str(out / MODEL_FILE))
    sha = hashlib.sha256(model_bytes).hexdigest()
    with atomic_path(out / MODEL_FILE) as tmp:
        tmp.write_bytes(model_bytes)
    atomic_write_text(out / VOCAB_FILE, vocab_text(sp))
    tokenizer_config = {
        "lowercase": lowercase,
        "strip_accents": strip_accents,
        "vocab_size": size,
        "model_type": tok.model_type,
        "model_file": MODEL_FILE,
        "special_tokens": dict(ALBERT_SPECIAL_TOKENS),
        "user_defined_symbols": list(symbols),
        "spiece_sha256": sha,
        "albert_fast_version": _core.__version__,
    }
    atomic_write_json(out / TOKENIZER_CONFIG, tokenizer_config)

    return {
        "output_dir": str(out),
        "model_file": str(out / MODEL_FILE),
        "vocab_file": str(out / VOCAB_FILE),
        "config_file": str(out / TOKENIZER_CONFIG),
        "vocab_size": size,
        "model_type": tok.model_type,
        "spiece_sha256": sha,
        "sentences": sentences,
        "input": stats,
        "seconds": round(time.monotonic() - started, 3),
    }


# ------------------------------------------------------------------------------------------
# Settings


def resolve_vocab_size(cfg: Config, vocab_size: int | None) -> int:
    """The vocabulary size to train: the argument, else ``tokenizer.vocab_size``, else
    ``model.vocab_size`` — always the *total*, specials included (Q5)."""
    size = vocab_size if vocab_size is not None else cfg.tokenizer.vocab_size
    if size is None:
        size = cfg.model.vocab_size
    if isinstance(size, bool) or not isinstance(size, int):
        raise ConfigError(f"vocab_size must be an integer, not {size!r}")
    return size


def _check_threads(threads: int | None) -> int:
    if threads is None:
        return 0  # all cores
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive integer, not {threads!r}")
    return threads


def check_user_defined_symbols(symbols: Iterable[str], lowercase: bool, strip_accents: bool,
                               replace_quotes: bool) -> list[str]:
    """Refuses symbols SentencePiece cannot use or the normalization would make unreachable
    (e.g. an upper-case symbol with ``lowercase``: the text it should match never reaches the
    tokenizer), duplicates, and the special pieces."""
    out: list[str] = []
    for sym in symbols:
        if not isinstance(sym, str) or not sym:
            raise ConfigError(f"tokenizer.user_defined_symbols: {sym!r} is not a non-empty string")
        if any(c.isspace() for c in sym):
            raise ConfigError(f"tokenizer.user_defined_symbols: {sym!r} contains whitespace")
        if sym in ALBERT_SPECIAL_TOKENS.values():
            raise ConfigError(f"tokenizer.user_defined_symbols: {sym!r} is one of ALBERT's "
                              f"special tokens, which are added anyway")
        if sym in out:
            raise ConfigError(f"tokenizer.user_defined_symbols: {sym!r} is listed twice")
        normalized = _core.normalize_text(sym, lowercase=lowercase, strip_accents=strip_accents,
                                          replace_quotes=replace_quotes)
        if normalized != sym:
            raise ConfigError(
                f"tokenizer.user_defined_symbols: {sym!r} can never occur in the normalized text "
                f"(text.lowercase={lowercase}, text.strip_accents={strip_accents} turn it into "
                f"{normalized!r}); use {normalized!r} instead")
        out.append(sym)
    return out


# ------------------------------------------------------------------------------------------
# Sampling with a progress bar


class _Sampling:
    """Where the sample is drawn: ``cluster`` (see :mod:`albert_fast.cluster`), its tasks'
    files under ``output`` (a local directory the workers see, or a URL)."""

    def __init__(self, cluster: Any, connect_timeout: float, output: str) -> None:
        self.cluster, self.connect_timeout, self.output = cluster, connect_timeout, output


def _draw_sample(files: list, sampling: _Sampling, *, progress: bool, **options: Any):
    """The Rust sampler's sample and statistics, with a progress bar over the bytes read; on a
    cluster, the same sample drawn in steps (random samples only: the first-N mode reads a
    prefix, which is this machine's work)."""
    paths = [os.fspath(f) for f in files]
    if parse_cluster(sampling.cluster) is not None and options.get("shuffle", True):
        return _draw_sample_planned(paths, sampling, progress, options)

    def bar(s: dict[str, Any]) -> Bar:
        n = s["files_total"]
        return Bar(s["bytes_read"], s["bytes_total"], f"reading {n} file{'s' if n != 1 else ''}",
                   dict(files=f"{s['files_done']}/{n}", lines=f"{s['lines']:,}"))

    return run_with_progress(lambda p: _core.sample_sentences(paths, progress=p, **options), bar,
                             show=progress, name="albert-fast-sampler")


def _warn_about_input(stats: Mapping[str, int]) -> None:
    if stats["invalid_utf8"]:
        log.warning("albert-fast: warning: %d invalid UTF-8 sequence(s) in the input were replaced "
                    "by U+FFFD", stats["invalid_utf8"])
    if stats["split_lines"]:
        log.warning("albert-fast: warning: %d line(s) longer than 16 MiB were split",
                    stats["split_lines"])
    candidates = stats["lines"] - stats["blank_lines"]
    if stats["too_long"] and stats["too_long"] * 10 >= candidates:
        log.warning("albert-fast: warning: %d of %d lines are longer than %d bytes and were skipped, "
                    "as SentencePiece skips them; is the input split into sentences (one per line)? "
                    "See `albert-fast prepare-corpus`.", stats["too_long"], candidates, MAX_SENTENCE_BYTES)


# ------------------------------------------------------------------------------------------
# What the training will cost

#: SentencePiece's unigram training cost as a function of the sample (benches/RESULTS.md, runs of
#: benches/bench_spm_sample_size.py, unique technical sentences, 30000 pieces, 2 shared cores):
#:   CPU-seconds = CPU_S_AT_1MB * (sample MB) ** CPU_EXPONENT * (vocab / 30000) ** VOCAB_EXPONENT
#:   peak RSS    = MEM_BASE_MIB + MEM_MIB_PER_MB * sample MB  (MiB)
#: The CPU constants are fitted on "to 10M distinct sentences" (0.5M-10M sentences of 76 bytes in
#: ~30 languages; within 6% of every run), the memory ones on the first such entry
#: (62.5k-1M sentences); on the 10M entry's text they are within 3% from 0.5M to 5M
#: sentences and 65% high at 10M (SentencePiece's memory per MB fell there: a warning comes early,
#: never late). VOCAB_EXPONENT comes from a 7500-piece probe (fewer pieces, more pruning rounds:
#: slower). SERIAL_SHARE is the main thread's share of the CPU time in its calibration run (the
#: rest runs on SPM_NUM_THREADS threads); wall time on C free CPUs = CPU-seconds * (SERIAL_SHARE +
#: (1 - SERIAL_SHARE) / min(C, SPM_NUM_THREADS)) (Amdahl's law). Text with many repeated
#: sentences costs less than this (SentencePiece counts distinct words), and text with fewer
#: distinct words per MB than these 30 languages less too (the 1.07M-sentence English corpus:
#: about half the CPU time).
CPU_S_AT_1MB = 5.074
CPU_EXPONENT = 0.939
VOCAB_EXPONENT = -0.231
SERIAL_SHARE = 0.185
MEM_BASE_MIB = 55.8
MEM_MIB_PER_MB = 20.73
_FIT_VOCAB = 30000


class TrainingEstimate(NamedTuple):
    """What SentencePiece's trainer is expected to take for a sample (see estimate_training)."""

    seconds: float
    peak_bytes: int
    sample_bytes: int
    cpus: int

    def describe(self) -> str:
        return (f"estimated {_duration(self.seconds)} and {self.peak_bytes / 2**30:.1f} GiB peak "
                f"memory on {self.cpus} CPU{'s' if self.cpus != 1 else ''} for "
                f"{_megabytes(self.sample_bytes)} MB of sample")


def estimate_training(sample_bytes: int, vocab_size: int,
                      cpus: int | None = None) -> TrainingEstimate:
    """The expected wall time and peak memory of SentencePiece's unigram trainer on a sample of
    ``sample_bytes`` bytes on ``cpus`` CPUs (default: those this process may use): the fitted
    model above, measured on one machine and on distinct text, so a guide to the order of
    magnitude (a faster CPU or repetitive text takes less). The sentence count does not enter:
    the bench's sentences all had about the same length, so bytes alone were fitted."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    mb = sample_bytes / 1e6
    cpu_seconds = CPU_S_AT_1MB * mb ** CPU_EXPONENT * (vocab_size / _FIT_VOCAB) ** VOCAB_EXPONENT
    seconds = cpu_seconds * (SERIAL_SHARE + (1 - SERIAL_SHARE) / min(cpus, SPM_NUM_THREADS))
    peak = (MEM_BASE_MIB + MEM_MIB_PER_MB * mb) * 2**20
    return TrainingEstimate(seconds, int(peak), int(sample_bytes), cpus)


def sampled_bytes(stats: Mapping[str, int]) -> int:
    """The sample's size in bytes, from the sampler's statistics: the sampled sentences times the
    mean length of the non-blank lines read."""
    usable = stats["lines"] - stats["blank_lines"]
    return round(stats["bytes"] / usable * stats["sampled"]) if usable else 0


def available_memory_bytes() -> int | None:
    """Memory available to a new allocation now (``MemAvailable`` in /proc/meminfo, else psutil
    if installed); ``None`` when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def _warn_about_memory(estimate: TrainingEstimate) -> None:
    available = available_memory_bytes()
    if available is not None and estimate.peak_bytes > available:
        log.warning("albert-fast: warning: SentencePiece is estimated to need %.1f GiB but only %.1f "
                    "GiB of memory is available; it may be killed or swap. Lower "
                    "tokenizer.input_sentence_size (--set tokenizer.input_sentence_size=N; see "
                    "docs/tokenizer-training.md for the quality each size gives)",
                    estimate.peak_bytes / 2**30, available / 2**30)


def _megabytes(n: int) -> str:
    mb = n / 1e6
    return f"{mb:,.0f}" if mb >= 10 else f"{mb:.1f}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ------------------------------------------------------------------------------------------
# SentencePiece


def _run_trainer(sample, vocab_size: int, model_type: str, character_coverage: float,
                 symbols: list[str], sentences: int) -> bytes:
    """Runs SentencePiece's trainer on the sample and returns the serialized model. The model
    is received in memory (``model_writer``) rather than through ``model_prefix``: the prefix
    would be recorded in the model's trainer_spec, and a temporary path there would make the
    bytes differ from run to run."""
    import io

    import sentencepiece as spm

    buffer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sample),
            model_writer=buffer,
            model_type=model_type,
            vocab_size=vocab_size,
            pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
            control_symbols=CONTROL_SYMBOLS,
            user_defined_symbols=symbols,
            character_coverage=character_coverage,
            # The sample is already drawn (and shuffled or not) by our sampler: take all of it.
            input_sentence_size=0,
            shuffle_input_sentence=False,
            max_sentence_length=MAX_SENTENCE_BYTES,
            num_threads=SPM_NUM_THREADS,
            minloglevel=2,
        )
    except RuntimeError as err:
        raise _trainer_error(err, vocab_size, sentences) from None
    return buffer.getvalue()


def vocab_text(sp) -> str:
    """The ``.vocab`` file SentencePiece itself writes: ``piece<TAB>score`` per id, the score
    printed with 6 significant digits."""
    return "".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n" for i in range(sp.get_piece_size()))


def _trainer_error(err: RuntimeError, vocab_size: int, sentences: int) -> Exception:
    """Turns SentencePiece's internal error text into advice."""
    msg = str(err)
    m = re.search(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)", msg)
    if m:
        return ConfigError(
            f"vocab_size = {vocab_size} is too large for this corpus ({sentences:,} sentences): "
            f"SentencePiece can learn at most {m.group(2)} pieces from it. Use a smaller "
            f"--vocab-size (at most {m.group(2)}) or more text")
    m = re.search(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)", msg)
    if m:
        return ConfigError(
            f"vocab_size = {vocab_size} is too small: the corpus needs {m.group(2)} pieces just "
            f"for its characters and the special symbols (at character_coverage). Use a larger "
            f"--vocab-size or a lower tokenizer.character_coverage")
    detail = re.sub(r"^\w+: src/\S+ \[.*?\] ", "", msg)
    return ModelError(f"SentencePiece training failed: {detail}")


def check_albert_specials(model: bytes, vocab_size: int, symbols: list[str], where: str):
    """Checks that a trained model has ALBERT's layout: the five specials at ids 0–4 with the
    right types, then the user-defined symbols, and exactly ``vocab_size`` pieces; returns the
    loaded ``SentencePieceProcessor``."""
    import sentencepiece as spm

    try:
        sp = spm.SentencePieceProcessor(model_proto=model)
    except Exception as err:  # noqa: BLE001 - sentencepiece raises several types
        raise ModelError(f"{where}: the trained model cannot be loaded: {err}") from None
    problems = []
    if sp.get_piece_size() != vocab_size:
        problems.append(f"{sp.get_piece_size()} pieces instead of {vocab_size}")
    for i, piece in enumerate(ALBERT_SPECIAL_TOKENS.values()):
        if i < sp.get_piece_size() and sp.id_to_piece(i) != piece:
            problems.append(f"id {i} is {sp.id_to_piece(i)!r}, expected {piece!r}")
    if sp.pad_id() != 0 or sp.unk_id() != 1 or sp.bos_id() != -1 or sp.eos_id() != -1:
        problems.append(f"pad/unk/bos/eos ids are {sp.pad_id()}/{sp.unk_id()}/{sp.bos_id()}/{sp.eos_id()}")
    if not all(sp.is_control(i) for i in (2, 3, 4) if i < sp.get_piece_size()):
        problems.append("[CLS]/[SEP]/[MASK] are not control symbols")
    for j, sym in enumerate(symbols):
        i = len(ALBERT_SPECIAL_TOKENS) + j
        if i >= sp.get_piece_size() or sp.id_to_piece(i) != sym:
            problems.append(f"user-defined symbol {sym!r} is not at id {i}")
    if problems:
        raise ModelError(f"{where}: the trained model does not have ALBERT's layout: " + "; ".join(problems))
    return sp


# ------------------------------------------------------------------------------------------
# The sample drawn in steps (albert_fast_core::train_tokenizer::planned, docs/cluster.md)

def _draw_sample_planned(paths: list[str], sampling: _Sampling, progress: bool,
                         options: dict[str, Any]):
    """Census and candidates per file as tasks writing files under the output; the driver sums
    the censuses and picks the sample from the candidates. Sentences never pass through the
    scheduler."""
    work = storage.join(sampling.output, f".sample-{uuid.uuid4().hex[:12]}")
    task_options = dict(options, threads=1)
    weights = [max(1, storage.size(p)) for p in paths]
    try:
        with open_executor(sampling.cluster, options.get("threads") or 0, sampling.connect_timeout) as ex:
            censuses = [storage.join(work, f"census-{i:05d}") for i in range(len(paths))]
            run_tasks(ex, _census_task, [(i, p, censuses[i], task_options) for i, p in enumerate(paths)],
                      key="sample-census", weights=weights, desc="reading (census)", show=progress)
            draw = _core.SampleDraw(censuses, paths, options["max_sentences"])
            for round_ in range(1 << 16):
                first_last = draw.next_range()
                if first_last is None:
                    break
                parts = [storage.join(work, f"candidates-{round_}-{i:05d}") for i in range(len(paths))]
                run_tasks(ex, _candidates_task,
                          [(i, p, first_last, parts[i], task_options) for i, p in enumerate(paths)],
                          key=f"sample-candidates-{round_}", weights=weights,
                          desc="reading (sample)", show=progress)
                if draw.add(parts, first_last):
                    break
            return draw.sample()
    finally:
        storage.remove_tree(work)


def _task_output(out: str):
    """A local path for a task's file: ``out`` itself, or a scratch file uploaded after."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        if not storage.is_url(out):
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            yield out
            return
        with storage.temp_dir() as tmp:
            local = os.path.join(tmp, "part")
            yield local
            storage.put_file(local, out)
    return cm()


def _census_task(i: int, path: str, out: str, options: dict[str, Any]) -> dict:
    with _task_output(out) as local:
        return _core.sample_census(i, path, local, **options)


def _candidates_task(i: int, path: str, first_last: tuple[int, int], out: str,
                     options: dict[str, Any]) -> int:
    with _task_output(out) as local:
        return _core.sample_candidates(i, path, first_last[0], first_last[1], local, **options)
