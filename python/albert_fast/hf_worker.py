"""The Hugging Face side of ``export-hf``, run in its own interpreter (``python -m
albert_fast.hf_worker TASK RESULT``): writes the tokenizer files with transformers and verifies
the export with torch. Loading transformers' PyTorch models into a process that has TensorFlow
loaded aborts in LLVM ("Option ... registered more than once"), so this module never imports
TensorFlow and the TensorFlow side never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

from albert_fast.errors import ModelError
from albert_fast.tokenizer import MODEL_FILE, TOKENIZER_CONFIG

#: Tolerance of the logits parity check (float32).
LOGITS_TOLERANCE = 1e-4
#: What Python's ``str.split()`` treats as whitespace (includes U+001C..U+001F).
_PY_WHITESPACE = ("[\t\n\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029"
                  "\u202f\u205f\u3000]")


def run_hf_worker(task: dict) -> dict:
    """Runs :func:`hf_worker` in a fresh interpreter; raises its ModelError/ValueError here."""
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    env["USE_TF"] = "0"  # transformers need not load TensorFlow there...
    env["USE_TORCH"] = "1"  # ...but must load PyTorch, whatever the caller's process chose
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="albert-fast-hf-") as tmp:
        task_file, result_file = Path(tmp) / "task.json", Path(tmp) / "result.json"
        task_file.write_text(json.dumps(task), encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "albert_fast.hf_worker", str(task_file),
                               str(result_file)], env=env, capture_output=True, text=True)
        if not result_file.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
            raise ModelError(f"the Hugging Face check process failed (exit {proc.returncode}):"
                             f"\n{tail}")
        result = json.loads(result_file.read_text(encoding="utf-8"))
    if "error" in result:
        kind = ValueError if result.get("kind") == "ValueError" else ModelError
        raise kind(result["error"])
    return result


def hf_worker(task: dict) -> dict:
    """The HF side of an export: writes the tokenizer files, then (``verify``) compares HF's
    logits with ours, HF's slow and fast tokenizers with our ids, and runs fill-mask."""
    hf_dir, model_file = Path(task["dir"]), Path(task["model_file"])
    write_hf_tokenizer(model_file, hf_dir, task["lowercase"], task["strip_accents"],
                       task["max_length"])
    if not task["verify"]:
        return {}
    result: dict[str, Any] = {}
    if task.get("batch"):  # a tokenizer-only task has no model to check
        result["mlm_max_abs_diff"], result["sop_max_abs_diff"] = check_logits(hf_dir,
                                                                              task["batch"])
    result["tokenizer_texts"], result["tokenizer_ties"] = check_tokenizer(
        hf_dir, task["texts"], task["ids"], task["lowercase"], task["strip_accents"])
    if task.get("batch"):
        result["fill_mask_text"], result["fill_mask"] = check_fill_mask(
            hf_dir, task.get("fill_mask_text"))
    return result


# --------------------------------------------------------------------------------------------
# The tokenizer files

def write_hf_tokenizer(model_file: Path, out: Path, lowercase: bool, strip_accents: bool,
                       max_length: int) -> None:
    """``spiece.model``, ``tokenizer_config.json``, ``special_tokens_map.json`` and the fast
    tokenizer's ``tokenizer.json``, written by transformers itself (slow tokenizer built with the
    data's normalization, fast one converted from it) so the files are what HF expects."""
    from transformers import AlbertTokenizer, AlbertTokenizerFast

    slow = AlbertTokenizer(vocab_file=str(model_file), do_lower_case=lowercase,
                           keep_accents=not strip_accents, remove_space=True,
                           model_max_length=max_length)
    slow.save_pretrained(str(out))
    fast = AlbertTokenizerFast.from_pretrained(str(out), from_slow=True)
    fast.save_pretrained(str(out))
    _align_fast_whitespace(out / "tokenizer.json")
    _only_special_added_tokens(out / "tokenizer.json")
    cfg_path = out / TOKENIZER_CONFIG
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    # The converter registers SentencePiece's user_defined_symbols ("-", "(", ...) as added
    # tokens; loaded back, both tokenizers would then cut the text at them first and lose the
    # "▁" sentencepiece puts before them ("said -- in": "▁said", "▁", "-", "-"). They stay
    # ordinary vocabulary pieces (score 0, so Viterbi still keeps them whole).
    decoder = cfg.get("added_tokens_decoder", {})
    cfg["added_tokens_decoder"] = {k: v for k, v in decoder.items() if v.get("special")}
    cfg.pop("from_slow", None)  # else AutoTokenizer re-converts and ignores tokenizer.json
    cfg.update({"do_lower_case": lowercase, "keep_accents": not strip_accents,
                "remove_space": True, "tokenizer_class": "AlbertTokenizer"})
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _align_fast_whitespace(path: Path) -> None:
    """transformers' converter gives the fast tokenizer no equivalent of the slow one's
    ``" ".join(text.strip().split())``: trailing whitespace becomes an extra "▁" piece and
    U+001C..U+001F stay. Two normalizers in front (Python's whitespace -> " ", strip) make the
    fast tokenizer give the slow one's (and our) ids."""
    tok = json.loads(path.read_text(encoding="utf-8"))
    norm = tok.get("normalizer")
    steps = norm["normalizers"] if norm and norm.get("type") == "Sequence" else (
        [norm] if norm else [])
    front = [{"type": "Replace", "pattern": {"Regex": _PY_WHITESPACE}, "content": " "},
             {"type": "Strip", "strip_left": True, "strip_right": True}]
    tok["normalizer"] = {"type": "Sequence", "normalizers": front + steps}
    path.write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _only_special_added_tokens(path: Path) -> None:
    tok = json.loads(path.read_text(encoding="utf-8"))
    tok["added_tokens"] = [t for t in tok.get("added_tokens", []) if t.get("special")]
    path.write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The checks

def check_logits(hf_dir: Path, batch_file: str) -> tuple[float, float]:
    """MLM and SOP logits of HF's ``AlbertForPreTraining`` vs ours (saved with the batch);
    ModelError beyond :data:`LOGITS_TOLERANCE`."""
    import numpy as np
    import torch
    from transformers import AlbertForPreTraining

    batch = dict(np.load(batch_file))
    hf = AlbertForPreTraining.from_pretrained(str(hf_dir))
    hf.eval()
    with torch.no_grad():
        out = hf(input_ids=torch.as_tensor(batch["input_ids"], dtype=torch.long),
                 attention_mask=torch.as_tensor(batch["input_mask"], dtype=torch.long),
                 token_type_ids=torch.as_tensor(batch["segment_ids"], dtype=torch.long))
    pred = out.prediction_logits.numpy()
    pos = batch["masked_lm_positions"].astype(np.int64)
    hf_mlm = np.take_along_axis(pred, pos[:, :, None], axis=1)
    mlm_diff = float(np.max(np.abs(hf_mlm - batch["mlm_logits"])))
    sop_diff = float(np.max(np.abs(out.sop_logits.numpy() - batch["sop_logits"])))
    if not (mlm_diff <= LOGITS_TOLERANCE and sop_diff <= LOGITS_TOLERANCE):
        raise ModelError(f"export check failed: Hugging Face's AlbertForPreTraining differs from "
                         f"our model by {mlm_diff:.3g} (MLM logits) and {sop_diff:.3g} (SOP "
                         f"logits), tolerance {LOGITS_TOLERANCE:g}; nothing was written")
    return mlm_diff, sop_diff


def check_tokenizer(hf_dir: Path, texts: Sequence[str], ids: Sequence[Sequence[int]],
                    lowercase: bool, strip_accents: bool) -> tuple[int, int]:
    """Slow and fast ``AutoTokenizer.from_pretrained(hf_dir)`` must give exactly our ``ids``
    for every text; ModelError naming the first text that differs. One allowance, for the fast
    tokenizer only: an exact Viterbi tie (the same pieces' text, the same total score, e.g.
    "▁"+"ken" vs "▁k"+"en"), which the ``tokenizers`` library breaks differently from
    sentencepiece. Returns (texts checked, ties seen)."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    sp = spm.SentencePieceProcessor(model_file=str(hf_dir / MODEL_FILE))
    ties = 0
    for use_fast in (False, True):
        hf = AutoTokenizer.from_pretrained(str(hf_dir), use_fast=use_fast)
        kind = "fast" if use_fast else "slow"
        theirs_all = hf(list(texts), add_special_tokens=False)["input_ids"]
        for text, ours, theirs in zip(texts, ids, theirs_all):
            ours, theirs = list(ours), list(theirs)
            if ours == theirs:
                continue
            if use_fast and _viterbi_tie(sp, ours, theirs):
                ties += 1
                continue
            at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                      min(len(ours), len(theirs)))
            lo = max(0, at - 3)
            raise ModelError(
                f"export check failed: the {kind} Hugging Face tokenizer gives other ids "
                f"than ours for {text[:200]!r} from token {at}: "
                f"{hf.convert_ids_to_tokens(theirs[lo:at + 5])} vs "
                f"{hf.convert_ids_to_tokens(ours[lo:at + 5])} "
                f"(do_lower_case={lowercase}, keep_accents={not strip_accents}); nothing "
                "was written")
    return len(texts), ties


def _viterbi_tie(sp: Any, ours: list[int], theirs: list[int]) -> bool:
    """True when two segmentations spell the same text with the same total piece score."""
    def spelled(ids: list[int]) -> str:
        return "".join(sp.id_to_piece(i) for i in ids)

    def score(ids: list[int]) -> float:
        return sum(sp.get_score(i) for i in ids)

    return spelled(ours) == spelled(theirs) and abs(score(ours) - score(theirs)) <= 1e-4


def check_fill_mask(hf_dir: Path, text: Optional[str] = None, top_k: int = 5
                    ) -> tuple[str, list]:
    """Runs ``pipeline("fill-mask", model=hf_dir)`` once; returns the text and its
    predictions."""
    from transformers import pipeline

    fill = pipeline("fill-mask", model=str(hf_dir), tokenizer=str(hf_dir), device="cpu")
    text = text or f"The capital of France is {fill.tokenizer.mask_token}."
    if fill.tokenizer.mask_token not in text:
        raise ValueError(f"fill-mask text {text!r} has no {fill.tokenizer.mask_token}")
    preds = fill(text, top_k=top_k)
    if not preds or not all("token_str" in p for p in preds):
        raise ModelError(f"export check failed: fill-mask returned {preds!r}")
    return text, [{"token_str": p["token_str"], "score": float(p["score"])} for p in preds]


def _worker_main(argv: Sequence[str]) -> int:
    task_file, result_file = argv
    task = json.loads(Path(task_file).read_text(encoding="utf-8"))
    try:
        result = hf_worker(task)
    except (ModelError, ValueError, OSError) as err:
        result = {"error": str(err), "kind": type(err).__name__}
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
