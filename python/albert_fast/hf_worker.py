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
from albert_fast.tokenizer import ALBERT_SPECIAL_IDS, MODEL_FILE, TOKENIZER_CONFIG

#: The fill-mask check's sentence when none is given.
DEFAULT_FILL_MASK_TEXT = "The capital of France is [MASK]."
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
    logits with ours, HF's tokenizers with our ids (:func:`check_tokenizer`), and runs fill-mask."""
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

#: ``tokenizer_class`` of the export. transformers 5's ``AlbertTokenizer`` rebuilds its pipeline
#: from the vocabulary and ignores ``tokenizer.json``'s normalizer and byte fallback; the
#: generic fast class (``TokenizersBackend`` in 5.x, of which this is the alias; 4.x has it under
#: this name) loads ``tokenizer.json`` as written, so ``AutoTokenizer`` gives the data's ids in
#: both majors.
TOKENIZER_CLASS = "PreTrainedTokenizerFast"
#: ALBERT's special symbols as Hugging Face names them; ``[MASK]`` swallows the space before it
#: (``lstrip``), as ``AlbertTokenizer`` defines it.
_HF_SPECIALS = {"pad_token": "<pad>", "unk_token": "<unk>", "cls_token": "[CLS]",
                "sep_token": "[SEP]", "mask_token": "[MASK]", "bos_token": "[CLS]",
                "eos_token": "[SEP]"}
#: Score added to pieces SentencePiece never produces from text (unused, byte), and to pieces
#: ending in digit + comma, which ALBERT's digit-comma rule re-splits (transformers' converter
#: does the same, -100): the Unigram model of ``tokenizers`` then avoids them.
_AVOID_SCORE = -100.0


def write_hf_tokenizer(model_file: Path, out: Path, lowercase: bool, strip_accents: bool,
                       max_length: int) -> None:
    """``spiece.model``, ``tokenizer.json``, ``tokenizer_config.json`` and
    ``special_tokens_map.json`` for the data's normalization. ``tokenizer.json`` is built with
    the ``tokenizers`` library directly from the SentencePiece model (docs/export.md), so the
    files are the same whichever transformers (4.x or 5.x) writes them, and load in both."""
    import shutil

    target = out / MODEL_FILE
    if not (target.exists() and os.path.samefile(model_file, target)):
        shutil.copyfile(model_file, target)
    (out / "tokenizer.json").write_text(
        build_tokenizer_json(model_file, lowercase, strip_accents), encoding="utf-8")
    added = {str(i): {"content": piece, "lstrip": piece == "[MASK]", "normalized": False,
                      "rstrip": False, "single_word": False, "special": True}
             for piece, i in ALBERT_SPECIAL_IDS.items()}
    config = {"tokenizer_class": TOKENIZER_CLASS, **_HF_SPECIALS,
              "do_lower_case": lowercase, "keep_accents": not strip_accents,
              "remove_space": True, "model_max_length": max_length,
              "clean_up_tokenization_spaces": False, "added_tokens_decoder": added,
              # ALBERT takes segment ids; transformers 5's generic class returns none unless
              # asked to.
              "model_input_names": ["input_ids", "token_type_ids", "attention_mask"]}
    (out / TOKENIZER_CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    special_map = {k: {"content": v, "lstrip": v == "[MASK]", "normalized": False,
                       "rstrip": False, "single_word": False} for k, v in _HF_SPECIALS.items()}
    (out / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n",
                                                 encoding="utf-8")


def build_tokenizer_json(model_file: Path, lowercase: bool, strip_accents: bool) -> str:
    """The fast tokenizer of the data's pipeline (our ``Tokenizer`` in its Hugging Face mode):
    Python's whitespace (U+001C..U+001F included) -> " " and strip (the slow tokenizer's
    ``" ".join(text.strip().split())``), "``"/"''" -> '"' (Q3), accents, case, the model's
    precompiled char map, collapsed spaces; Metaspace words; the model's Unigram pieces with
    its byte fallback; ``[CLS] A [SEP] B [SEP]`` with segment ids. Only the five special
    symbols are added tokens: SentencePiece's user-defined symbols stay vocabulary pieces, or
    both HF tokenizers would cut the text at them and lose their "▁"."""
    from sentencepiece import sentencepiece_model_pb2 as model_pb2
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers import processors
    from tokenizers.models import Unigram

    proto = model_pb2.ModelProto()
    proto.ParseFromString(Path(model_file).read_bytes())
    kinds = model_pb2.ModelProto.SentencePiece
    vocab = [(p.piece, p.score + _AVOID_SCORE
              if p.type in (kinds.UNUSED, kinds.BYTE) or _digit_comma(p.piece) else p.score)
             for p in proto.pieces]
    unk_id = next(i for i, p in enumerate(proto.pieces) if p.type == kinds.UNKNOWN)
    byte_fallback = proto.trainer_spec.byte_fallback
    spec = proto.normalizer_spec
    steps = [normalizers.Replace(Regex(_PY_WHITESPACE), " "), normalizers.Strip(),
             normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if strip_accents:
        steps += [normalizers.NFKD(), normalizers.StripAccents()]
    if lowercase:
        steps.append(normalizers.Lowercase())
    if spec.precompiled_charsmap:
        steps.append(normalizers.Precompiled(spec.precompiled_charsmap))
    if spec.remove_extra_whitespaces:
        steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok = Tokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=byte_fallback))
    tok.normalizer = normalizers.Sequence(steps)
    prepend = "always" if spec.add_dummy_prefix else "never"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme=prepend)
    if byte_fallback:
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    else:
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme=prepend)
    ids = dict(ALBERT_SPECIAL_IDS)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    tok.add_special_tokens([AddedToken(piece, lstrip=piece == "[MASK]", normalized=False,
                                       special=True) for piece in ids])
    return tok.to_str(pretty=True) + "\n"


def _digit_comma(piece: str) -> bool:
    """A piece ALBERT's digit-comma rule re-splits: "1998," (``piece[-2].isdigit()``)."""
    return len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()


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
    """``AutoTokenizer.from_pretrained(hf_dir)`` (``tokenizer.json``) and, with transformers
    4.x, the SentencePiece-based ``AlbertTokenizer`` must give exactly our ``ids`` for every
    text; ModelError naming the first text that differs. One allowance, for the ``tokenizers``
    one only: an exact Viterbi tie (the same pieces' text, the same total score, e.g.
    "▁"+"ken" vs "▁k"+"en"), which the ``tokenizers`` library breaks differently from
    sentencepiece. (transformers 5's ``AlbertTokenizer`` rebuilds its own pipeline from the
    vocabulary and is not what ``AutoTokenizer`` loads; docs/export.md.) Returns (texts
    checked, ties seen)."""
    import sentencepiece as spm
    from transformers import AlbertTokenizer, AutoTokenizer

    sp = spm.SentencePieceProcessor(model_file=str(hf_dir / MODEL_FILE))
    candidates = [("AutoTokenizer", AutoTokenizer, True)]
    if transformers_major() < 5:
        candidates.append(("SentencePiece AlbertTokenizer", AlbertTokenizer, False))
    ties = 0
    for kind, cls, tie_allowed in candidates:
        hf = cls.from_pretrained(str(hf_dir))
        theirs_all = hf(list(texts), add_special_tokens=False)["input_ids"]
        for text, ours, theirs in zip(texts, ids, theirs_all):
            ours, theirs = list(ours), list(theirs)
            if ours == theirs:
                continue
            if tie_allowed and _viterbi_tie(sp, ours, theirs):
                ties += 1
                continue
            at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                      min(len(ours), len(theirs)))
            lo = max(0, at - 3)
            raise ModelError(
                f"export check failed: Hugging Face's {kind} ({type(hf).__name__}) gives other "
                f"ids than ours for {text[:200]!r} from token {at}: "
                f"{hf.convert_ids_to_tokens(theirs[lo:at + 5])} vs "
                f"{hf.convert_ids_to_tokens(ours[lo:at + 5])} "
                f"(do_lower_case={lowercase}, keep_accents={not strip_accents}); nothing "
                "was written")
    return len(texts), ties


def transformers_major() -> int:
    """The installed transformers' major version (4 or 5)."""
    import transformers

    return int(transformers.__version__.split(".", 1)[0])


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
    text = text or DEFAULT_FILL_MASK_TEXT
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
