"""``albert-fast export-hf``: one of our checkpoints as a directory ``transformers`` loads with no
conversion step (``config.json``, ``model.safetensors``, ``spiece.model``, tokenizer files),
verified before it appears under its final name: HF's logits within ``1e-4`` of ours, HF's slow
and fast tokenizers give our ids, fill-mask runs (docs/export.md). The HF side runs in
:mod:`albert_fast.hf_worker`'s own process."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from albert_fast import storage
from albert_fast.checkpoints import load_model, run_tokenizer
from albert_fast.config import Config, as_config, check_vocab_size
from albert_fast.convert import hf_config_dict, hf_state_dict
from albert_fast.dataset import find_data_files, first_batch
from albert_fast.errors import ConfigError, InputError, ModelError
from albert_fast.hf_worker import DEFAULT_FILL_MASK_TEXT, LOGITS_TOLERANCE, run_hf_worker
from albert_fast.io_utils import atomic_dir
from albert_fast.records import feature_spec
from albert_fast.tokenizer import (ALBERT_SPECIAL_IDS, FIRST_ORDINARY_ID, TOKENIZER_CONFIG,
                                   Tokenizer, resolve_tokenizer_paths)

#: Texts that exercise every rule of the tokenizer pipeline (docs/tokenizer.md): case, accents,
#: Q3 quotes, the digit-comma rule, odd whitespace, special tokens, non-Latin scripts.
PROBE_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Bäume, Öl und Straße: Ça va? naïve café ÉCOLE",
    "``Quoted,'' he said -- in 1998, 2,000 men (and 3,5 kg) x19, y20.",
    "  lots   of\tspaces\u00a0and\u2003odd\x1cseparators\u3000 ",
    "[CLS] a [MASK] b [SEP] <unk> <pad>",
    "Ἀθῆναι, Москва, 東京, ﬁne ligatures ＡＢＣ ①",
)
_BATCH_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions")
#: The export's report, written last: its presence marks a complete export (in object storage
#: too, where the directory is uploaded file by file).
EXPORT_REPORT = "albert_fast_export.json"


@dataclass
class ExportReport:
    """What :func:`export_hf` wrote and measured."""

    output_dir: str
    source: str
    step: Optional[int]
    mlm_max_abs_diff: Optional[float] = None
    sop_max_abs_diff: Optional[float] = None
    batch_source: str = ""
    tokenizer_texts: int = 0
    tokenizer_ties: int = 0  # fast tokenizer: exact Viterbi ties broken the other way
    fill_mask: list = field(default_factory=list)
    fill_mask_text: str = ""
    verified: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def export_hf(source: str | os.PathLike, output_dir: str | os.PathLike, *,
              tokenizer: Optional[str | os.PathLike] = None,
              config: Config | str | os.PathLike | dict | None = None,
              data: Optional[str | os.PathLike] = None,
              texts: Optional[Iterable[str | os.PathLike]] = None,
              verify: bool = True, batch_size: int = 8,
              fill_mask_text: Optional[str] = None,
              emit: Callable[[str], None] = print) -> ExportReport:
    """Exports a checkpoint of ours (run directory, ``best``/import directory or checkpoint
    prefix) as a Hugging Face ``AlbertForPreTraining`` directory and verifies it.

    Args:
        tokenizer: the ``spiece.model`` (or its directory) the data was made with; default: the
            one recorded with the run (see :func:`albert_fast.checkpoints.run_tokenizer`).
        config: a Config, config file or dict; must agree with the run's recorded config
            (otherwise ConfigError).
        data: create-data output (directory or TFRecord files) whose first instances are the
            logits check's batch; without it a random batch of valid ids is used.
        texts: text files whose lines (up to 2 000) join :data:`PROBE_TEXTS` in the tokenizer
            parity check.
        verify: run the checks (needs torch); a mismatch raises ModelError and nothing is
            written under ``output_dir``.
    """
    from safetensors.numpy import save_file

    if verify:
        _require_hf("export-hf's verification")
    if storage.is_url(output_dir):
        url = storage.ensure_output(output_dir)
        with storage.temp_dir() as tmp:
            report = export_hf(_local_source(source), os.path.join(tmp, "hf"), tokenizer=tokenizer,
                               config=config, data=data, texts=texts, verify=verify,
                               batch_size=batch_size, fill_mask_text=fill_mask_text, emit=emit)
            # The report is the export's completion file: uploaded last, deleted first.
            storage.upload_dir(os.path.join(tmp, "hf"), url, last=[EXPORT_REPORT], delete_extra=True)
        report.output_dir = url
        return report
    model, ckpt = load_model(_local_source(source), None if config is None else as_config(config))
    cfg = ckpt.config
    tok_dir = tokenizer if tokenizer else run_tokenizer(ckpt.run_dir)
    if tok_dir is None:
        raise ModelError(f"{source}: no tokenizer recorded with this run (pretrain records the "
                         "one the data's manifest.json names; this data has none); give the "
                         "spiece.model the data was made with (--tokenizer)")
    model_file, recorded = resolve_tokenizer_paths(tok_dir)
    lowercase, strip_accents = _text_settings(model_file, recorded, cfg)
    tok = Tokenizer(model_file)
    special = _special_ids(tok)
    check_vocab_size(cfg, tok.vocab_size)
    report = ExportReport(str(output_dir), ckpt.prefix, ckpt.step)
    with atomic_dir(output_dir) as tmp:
        (tmp / "config.json").write_text(
            json.dumps(hf_config_dict(cfg.model, special), indent=2) + "\n", encoding="utf-8")
        save_file(hf_state_dict(model), str(tmp / "model.safetensors"),
                  metadata={"format": "pt"})
        task: dict[str, Any] = {"dir": str(tmp), "model_file": str(model_file),
                                "lowercase": lowercase, "strip_accents": strip_accents,
                                "max_length": cfg.model.max_position_embeddings,
                                "verify": verify}
        work = tmp / ".verify"
        if verify:
            import numpy as np

            batch, report.batch_source = _verification_batch(data, cfg, special, batch_size)
            ours = model({k: batch[k] for k in _BATCH_FEATURES}, training=False)
            work.mkdir()
            np.savez(work / "batch.npz", **{k: np.asarray(batch[k]) for k in _BATCH_FEATURES},
                     mlm_logits=np.asarray(ours["mlm_logits"]),
                     sop_logits=np.asarray(ours["sop_logits"]))
            probe = list(PROBE_TEXTS) + _text_lines(texts or [])
            encode = our_encoder(model_file, lowercase, strip_accents)
            task.update(batch=str(work / "batch.npz"), texts=probe,
                        ids=[list(encode(t)) for t in probe], fill_mask_text=fill_mask_text)
        result = run_hf_worker(task)
        shutil.rmtree(work, ignore_errors=True)
        if verify:
            report.mlm_max_abs_diff = result["mlm_max_abs_diff"]
            report.sop_max_abs_diff = result["sop_max_abs_diff"]
            report.tokenizer_texts = result["tokenizer_texts"]
            report.tokenizer_ties = result["tokenizer_ties"]
            report.fill_mask = result["fill_mask"]
            report.fill_mask_text = result["fill_mask_text"]
            report.verified = True
            emit(f"logits parity on {report.batch_source}: MLM max |diff| "
                 f"{report.mlm_max_abs_diff:.2e}, SOP {report.sop_max_abs_diff:.2e} "
                 f"(tolerance {LOGITS_TOLERANCE:g})")
            emit(f"tokenizer parity: AutoTokenizer (tokenizer.json) gives our ids on "
                 f"{report.tokenizer_texts} texts" + (
                     f" (fast: {report.tokenizer_ties} exact Viterbi tie(s) broken the other "
                     "way)" if report.tokenizer_ties else ""))
        (tmp / EXPORT_REPORT).write_text(
            json.dumps(report.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    emit(f"exported {ckpt.prefix} to {output_dir}")
    emit("use it with Hugging Face Transformers:\n  "
         + fill_mask_command(output_dir, report.fill_mask_text or DEFAULT_FILL_MASK_TEXT))
    return report


def _local_source(source: str | os.PathLike) -> str:
    """A run directory or checkpoint prefix in object storage, copied here (checkpoints are
    read by TensorFlow, config and tokenizer records by us)."""
    source = storage.local_path(source)
    if not storage.is_url(source):
        return source
    if storage.exists(source) and storage.listdir(source):
        return str(storage.fetch_dir(source))
    base, name = source.rstrip("/").rsplit("/", 1)  # a prefix such as RUN/ckpt-500
    return str(storage.fetch_dir(base) / name)


def fill_mask_command(hf_dir: str | os.PathLike, text: str = DEFAULT_FILL_MASK_TEXT) -> str:
    """The shell command printed at the end of an export: ``pipeline("fill-mask")`` on it.
    transformers 4.x imports TensorFlow whenever it is installed, and with TensorFlow's Keras 3
    it then asks for ``tf-keras`` (or aborts in LLVM next to torch), so there the command
    starts with ``USE_TF=0``; 5.x has no TensorFlow side."""
    import importlib.metadata
    import importlib.util
    import shlex

    code = (f"from transformers import pipeline; "
            f'print(pipeline("fill-mask", model={json.dumps(os.fspath(hf_dir))})({json.dumps(text)}))')
    command = f"python -c {shlex.quote(code)}"
    try:
        major = int(importlib.metadata.version("transformers").split(".", 1)[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        major = 5
    if major < 5 and importlib.util.find_spec("tensorflow") is not None:
        command = "USE_TF=0 " + command
    return command


def fill_mask_lines(preds: list, text: str) -> list[str]:
    """The fill-mask check's predictions as the CLI prints them."""
    return [f"fill-mask: {text}"] + [f"  {p['score']:.4f}  {p['token_str']}" for p in preds]


def our_encoder(model_file: Path, lowercase: bool, strip_accents: bool) -> Callable[[str], list]:
    """The ids HF's tokenizers must reproduce: our ``Tokenizer`` in its Hugging Face pipeline
    mode with the data's normalization."""
    return Tokenizer(model_file, lowercase=lowercase, strip_accents=strip_accents).encode


def _require_hf(what: str) -> None:
    """Raises a clear error when the ``hf`` extra (transformers, torch, safetensors) is
    missing."""
    import importlib.util

    # find_spec, not import: torch must not be loaded next to TensorFlow (see hf_worker).
    missing = [m for m in ("transformers", "safetensors", "torch", "sentencepiece")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(
            f"{what} needs {', '.join(missing)}: install the Hugging Face extra with "
            "`pip install 'albert-fast[hf]'` (see docs/export.md for the torch wheel choice)")


def _text_settings(model_file: Path, recorded: Optional[dict], cfg: Config) -> tuple[bool, bool]:
    """The normalization the data was made with: the run's ``text`` section, which must agree
    with what the tokenizer directory recorded at training time (Q1)."""
    lowercase, strip = cfg.text.lowercase, cfg.text.strip_accents
    for key, ours in (("lowercase", lowercase), ("strip_accents", strip)):
        if recorded and key in recorded and recorded[key] != ours:
            raise ConfigError(f"{model_file.parent / TOKENIZER_CONFIG}: {key} = {recorded[key]} "
                              f"but the run's config has text.{key} = {ours}; the tokenizer and "
                              "the data must use one normalization (Q1)")
    if cfg.data.reference_compat:
        raise ConfigError("data.reference_compat = true: the data was tokenized like the "
                          "original FullTokenizer (Q2, no Q3 quote replacement), which no "
                          "Hugging Face tokenizer reproduces; export would change the ids")
    return lowercase, strip


def _special_ids(tok: Tokenizer) -> dict[str, int]:
    """The ids of ALBERT's special symbols in the tokenizer; ModelError when one is missing."""
    ids = tok.special_ids()
    for piece in ALBERT_SPECIAL_IDS:
        if piece not in ids and piece != "<unk>":
            names = list(ALBERT_SPECIAL_IDS)
            raise ModelError(f"{tok.model_path}: has no {piece} piece; an ALBERT tokenizer "
                             f"needs {', '.join(names[:-1])} and {names[-1]}")
    ids.setdefault("<unk>", tok.unk_id)
    return ids


def _text_lines(paths: Iterable[str | os.PathLike], limit: int = 2000) -> list[str]:
    lines: list[str] = []
    for p in paths:
        if storage.is_url(p):
            base, name = os.fspath(p).rsplit("/", 1)
            p = storage.fetch_dir(base, [name]) / name
        with open(p, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    lines.append(line.rstrip("\n"))
                if len(lines) >= limit:
                    return lines
    return lines


def _verification_batch(data: Optional[str | os.PathLike], cfg: Config, special: dict,
                        batch_size: int) -> tuple[dict, str]:
    """The first ``batch_size`` instances of the create-data output's evaluation files, or a
    random batch of valid ids."""
    import numpy as np

    d = cfg.data
    if data is not None:
        files = find_data_files(str(data))
        spec = feature_spec(d.max_seq_length, d.max_predictions_per_seq, token_boundary=False)
        batch = first_batch(files.eval[0], spec, batch_size)
        if batch is None:
            raise InputError(f"{data}: no instances to verify the export with")
        return batch, f"{batch['input_ids'].shape[0]} instances of {data}"
    rng = np.random.default_rng(0)
    n, seq, m = batch_size, min(d.max_seq_length, 64), min(d.max_predictions_per_seq, 8)
    ids = rng.integers(FIRST_ORDINARY_ID, cfg.model.vocab_size, size=(n, seq), dtype=np.int32)
    lengths = rng.integers(seq // 2, seq + 1, size=n)
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = special["[CLS]"]
    ids = np.where(mask == 1, ids, special["<pad>"]).astype(np.int32)
    segments = ((np.arange(seq)[None, :] >= (lengths // 2)[:, None]) & (mask == 1)).astype(np.int32)
    positions = np.stack([np.sort(rng.choice(np.arange(1, lengths[i]), m, replace=False))
                          for i in range(n)]).astype(np.int32)
    return ({"input_ids": ids, "input_mask": mask, "segment_ids": segments,
             "masked_lm_positions": positions}, f"a random batch of {n} (no --data given)")
