"""A plain-Python oracle of create-data (spec §5–§6): slow, simple, and written to follow the
reference's steps and RNG-call order one by one, so that its output *distributions* can be
compared with the Rust pipeline's on real text. It also implements albert_fast's fixes of the
quirks (Q7, Q9, Q10, Q11, Q13) so both modes can be checked; n-gram lengths come from a seeded
NumPy stream (the reference's unseeded global RNG, Q6, is not reproducible by definition).

Used by ``tests/test_create_data_distributions.py`` and by ``benches/bench_create_data.py``.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

SPACE = "\u2581"
# The reference's list: '"' appears twice and "'" not at all; "€"/"£" are bytes, never matched.
REFERENCE_SPECIAL_CHARS = set('!"#$%&"()*+,-./:;?@[\\]^_`{|}~')
ENGLISH = set("abcdefghijklmnopqrstuvwxyz")

# SentencePiece piece types (ModelProto.SentencePiece.Type).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def is_start_piece_reference(piece: str) -> bool:
    """``_is_start_piece_sp`` of the reference (Q10)."""
    return (piece.startswith(SPACE) or piece.startswith("<") or piece in REFERENCE_SPECIAL_CHARS
            or not all(c.lower() in ENGLISH | REFERENCE_SPECIAL_CHARS for c in piece))


def is_start_piece_fixed(piece: str, kind: int) -> bool:
    """The intended rule: "▁" prefix, a special/user-defined/unknown symbol, or punctuation."""
    if kind in (CONTROL, USER_DEFINED, UNKNOWN):
        return True
    if kind == BYTE:
        return False
    return piece.startswith(SPACE) or (bool(piece) and all(unicodedata.category(c)[0] in "PS" for c in piece))


@dataclass
class OracleConfig:
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    random_seed: int = 12345
    dupe_factor: int = 2
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    do_whole_word_mask: bool = True
    favor_shorter_ngram: bool = True
    ngram: int = 3
    do_permutation: bool = False
    random_next_sentence: bool = False
    reference_compat: bool = False


@dataclass
class Instance:
    tokens: list[int]
    segment_ids: list[int]
    token_boundary: list[int]
    positions: list[int]
    labels: list[int]
    label: int


@dataclass
class Oracle:
    """``pieces[i]``/``kinds[i]``: the vocabulary; ``cls``, ``sep``, ``mask``: their ids."""

    pieces: list[str]
    kinds: list[int]
    cfg: OracleConfig
    cls: int = 2
    sep: int = 3
    mask: int = 4
    rng: random.Random = field(init=False)
    np_rng: np.random.RandomState = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.cfg.random_seed)
        self.np_rng = np.random.RandomState(self.cfg.random_seed)
        compat = self.cfg.reference_compat
        self.start = [is_start_piece_reference(p) if compat else is_start_piece_fixed(p, k)
                      for p, k in zip(self.pieces, self.kinds)]
        self.ordinary = [i for i, k in enumerate(self.kinds) if k in (NORMAL, USER_DEFINED, BYTE)]

    # -- reading -----------------------------------------------------------------------------

    @staticmethod
    def read_documents(files: Iterable[list[str]], encode, merge_across_files: bool) -> list[list[list[int]]]:
        """Lines -> documents of token-id sentences; a blank line ends a document, and (unless
        ``merge_across_files``, the reference's Q7) so does the end of a file."""
        docs: list[list[list[int]]] = [[]]
        for lines in files:
            for line in lines:
                if not line.strip():
                    docs.append([])
                    continue
                ids = encode(line)
                if ids:
                    docs[-1].append(ids)
            if not merge_across_files:
                docs.append([])
        return [d for d in docs if d]

    # -- instances ---------------------------------------------------------------------------

    def create_instances(self, documents: list[list[list[int]]]) -> list[Instance]:
        documents = list(documents)
        self.rng.shuffle(documents)
        out: list[Instance] = []
        for _ in range(self.cfg.dupe_factor):
            for i in range(len(documents)):
                out.extend(self.from_document(documents, i))
        self.rng.shuffle(out)
        return out

    def _random_b(self, docs, doc_index, target_b) -> list[int]:
        rng = self.rng
        if self.cfg.reference_compat:
            r = doc_index
            for _ in range(10):
                r = rng.randint(0, len(docs) - 1)
                if r != doc_index:
                    break
        elif len(docs) >= 2:
            r = rng.randint(0, len(docs) - 2)
            r = r + 1 if r >= doc_index else r
        else:
            r = doc_index
        rd = docs[r]
        b: list[int] = []
        for j in range(rng.randint(0, len(rd) - 1), len(rd)):
            b.extend(rd[j])
            if len(b) >= target_b:
                break
        return b

    def from_document(self, docs, doc_index) -> list[Instance]:
        cfg, rng = self.cfg, self.rng
        doc = docs[doc_index]
        max_num_tokens = cfg.max_seq_length - 3
        target = max_num_tokens
        if rng.random() < cfg.short_seq_prob:
            target = rng.randint(2, max_num_tokens)
        compat, rns = cfg.reference_compat, cfg.random_next_sentence
        out = []
        chunk: list[list[int]] = []
        length = 0
        i = 0
        while i < len(doc):
            chunk.append(doc[i])
            length += len(doc[i])
            if i == len(doc) - 1 or length >= target:
                if not compat and len(chunk) == 1 and i + 1 < len(doc):
                    i += 1  # Q9 fix: pair a lone sentence with the next one
                    chunk.append(doc[i])
                a: list[int] = []
                b: list[int] = []
                label = 0
                emit = True
                if len(chunk) >= 2:
                    a_end = rng.randint(1, len(chunk) - 1)
                    for s in chunk[:a_end]:
                        a.extend(s)
                    if compat and len(chunk) == 1:
                        raise AssertionError("unreachable")
                    if rns and rng.random() < 0.5:
                        label = 1
                        b = self._random_b(docs, doc_index, target - len(a))
                        i -= len(chunk) - a_end
                    elif not rns and rng.random() < 0.5:
                        label = 1
                        for s in chunk[a_end:]:
                            b.extend(s)
                        a, b = b, a
                    else:
                        for s in chunk[a_end:]:
                            b.extend(s)
                elif compat:
                    a = list(chunk[0])  # Q9: a lone sentence always gets a random-document B
                    label = 1
                    b = self._random_b(docs, doc_index, target - len(a))
                else:
                    sentence = chunk[0]
                    if rns and rng.random() < 0.5:
                        a, label = list(sentence), 1
                        b = self._random_b(docs, doc_index, target - len(a))
                    elif len(sentence) >= 2:
                        starts = [k for k in range(1, len(sentence)) if self.start[sentence[k]]]
                        cut = starts[rng.randrange(len(starts))] if starts else rng.randint(1, len(sentence) - 1)
                        a, b = list(sentence[:cut]), list(sentence[cut:])
                        if not rns and rng.random() < 0.5:
                            label = 1
                            a, b = b, a
                    else:
                        emit = False
                if emit:
                    self.truncate(a, b, max_num_tokens)
                    tokens = [self.cls] + a + [self.sep] + b + [self.sep]
                    segment_ids = [0] * (len(a) + 2) + [1] * (len(b) + 1)
                    tokens, positions, labels, boundary = self.mask_tokens(tokens)
                    out.append(Instance(tokens, segment_ids, boundary, positions, labels, label))
                chunk = []
                length = 0
            i += 1
        return out

    def truncate(self, a: list[int], b: list[int], max_num_tokens: int) -> None:
        while len(a) + len(b) > max_num_tokens:
            t = a if len(a) > len(b) else b
            if self.rng.random() < 0.5:
                del t[0]
            else:
                t.pop()

    # -- masking -----------------------------------------------------------------------------

    def mask_tokens(self, tokens: list[int]):
        cfg, rng = self.cfg, self.rng
        compat = cfg.reference_compat
        cand: list[list[int]] = []
        boundary = [0] * len(tokens)
        seg_of_group: list[int] = []
        segment = 0
        after_special = True
        for i, t in enumerate(tokens):
            if t in (self.cls, self.sep):
                boundary[i] = 1
                after_special = True
                if t == self.sep:
                    segment += 1
                continue
            start = self.start[t]
            if cfg.do_whole_word_mask and cand and not start and (compat or not after_special):
                cand[-1].append(i)
            else:
                cand.append([i])
                seg_of_group.append(segment)
                if start:
                    boundary[i] = 1
            after_special = False
        output = list(tokens)
        if cfg.masked_lm_prob == 0:
            return output, [], [], boundary
        num_to_predict = min(cfg.max_predictions_per_seq, max(1, int(round(len(tokens) * cfg.masked_lm_prob))))
        ngrams = np.arange(1, cfg.ngram + 1, dtype=np.int64)
        pvals = 1.0 / np.arange(1, cfg.ngram + 1)
        pvals /= pvals.sum(keepdims=True)
        if not cfg.favor_shorter_ngram:
            pvals = pvals[::-1]
        ngram_indexes = []
        for idx in range(len(cand)):
            if compat:
                limit = len(cand)
            else:  # Q11 fix: n-grams stop at the segment boundary
                limit = idx
                while limit < len(cand) and seg_of_group[limit] == seg_of_group[idx]:
                    limit += 1
            ngram_indexes.append([cand[idx:min(idx + n, limit)] for n in ngrams])
        rng.shuffle(ngram_indexes)

        masked: list[tuple[int, int]] = []
        covered: set[int] = set()
        for cand_set in ngram_indexes:
            if len(masked) >= num_to_predict:
                break
            index_set = self._span(cand_set, len(masked), num_to_predict, ngrams, pvals)
            if index_set is None or any(i in covered for i in index_set):
                continue
            for index in index_set:
                covered.add(index)
                if rng.random() < 0.8:
                    tok = self.mask
                elif rng.random() < 0.5:
                    tok = tokens[index]
                elif compat:
                    tok = rng.randint(0, len(self.pieces) - 1)  # Q13: any id
                else:
                    tok = self.ordinary[rng.randint(0, len(self.ordinary) - 1)]
                output[index] = tok
                masked.append((index, tokens[index]))
        rng.shuffle(ngram_indexes)
        if cfg.do_permutation:
            selected: set[int] = set()
            for cand_set in ngram_indexes:
                if len(selected) >= num_to_predict:
                    break
                index_set = self._span(cand_set, len(selected), num_to_predict, ngrams, pvals)
                if index_set is None or any(i in covered or i in selected for i in index_set):
                    continue
                selected.update(index_set)
            select = sorted(selected)
            permuted = list(select)
            rng.shuffle(permuted)
            orig = list(output)
            for src, tgt in zip(select, permuted):
                output[src] = orig[tgt]
                masked.append((src, orig[src]))
        masked.sort()
        return output, [p for p, _ in masked], [l for _, l in masked], boundary

    def _span(self, cand_set, already, num_to_predict, ngrams, pvals) -> Optional[list[int]]:
        n = int(self.np_rng.choice(ngrams, p=pvals))
        index_set = sum(cand_set[n - 1], [])
        n -= 1
        while already + len(index_set) > num_to_predict:
            if n == 0:
                break
            index_set = sum(cand_set[n - 1], [])
            n -= 1
        if already + len(index_set) > num_to_predict:
            return None
        return index_set


# -- statistics shared by the oracle's and the pipeline's output --------------------------------


def statistics(instances: Iterable[dict], *, mask_id: int, special_ids: set[int], max_seq_length: int) -> dict[str, float]:
    """Distribution summary of instances given as dicts of unpadded lists: ``input_ids``,
    ``token_boundary``, ``positions``, ``labels`` (original ids), ``label``."""
    n = 0
    lengths = []
    masked = kept = rand = rand_special = 0
    per_instance = []
    spans = {1: 0, 2: 0, 3: 0, "more": 0}
    boundary_ones = real = 0
    labels = 0
    for inst in instances:
        n += 1
        ids, tb, pos, orig = inst["input_ids"], inst["token_boundary"], inst["positions"], inst["labels"]
        lengths.append(len(ids))
        per_instance.append(len(pos))
        labels += inst["label"]
        boundary_ones += sum(tb)
        real += len(ids)
        for p, o in zip(pos, orig):
            t = ids[p]
            if t == mask_id:
                masked += 1
            elif t == o:
                kept += 1
            else:
                rand += 1
                rand_special += t in special_ids
        # Runs of consecutive masked positions, measured in words (token_boundary starts).
        run: list[int] = []
        for p in pos + [None]:
            if run and (p is None or p != run[-1] + 1):
                words = max(1, sum(tb[q] for q in run))
                spans[words if words <= 3 else "more"] += 1
                run = []
            if p is not None:
                run.append(p)
    total_masked = max(masked + kept + rand, 1)
    total_spans = max(sum(spans.values()), 1)
    return {
        "instances": n,
        "mean_length": float(np.mean(lengths)),
        "short_share": float(np.mean([l < max_seq_length for l in lengths])),
        "masked_per_instance": float(np.mean(per_instance)),
        "mask_share": masked / total_masked,
        "keep_share": kept / total_masked,
        "random_share": rand / total_masked,
        "random_special_share": rand_special / max(rand, 1),
        "span1": spans[1] / total_spans,
        "span2": spans[2] / total_spans,
        "span3": spans[3] / total_spans,
        "sop_label1": labels / max(n, 1),
        "boundary_rate": boundary_ones / max(real, 1),
    }
