"""Plain-Python renderings of the two tokenization pipelines albert_fast must match, built on the
`sentencepiece` package (the independent implementation of SentencePiece itself).

* `reference_*`: ALBERT's `tokenization.preprocess_text` + `encode_pieces` + `FullTokenizer.
  convert_tokens_to_ids` as they run under Python 3 (google-research/albert, commit b772393),
  written from the spec (section 2), with accent stripping made optional (quirk Q1).
* `HFSlowAlbertTokenizer`: transformers 4.x's sentencepiece-based `AlbertTokenizer`, which
  transformers 5 no longer has; checked against the real class where 4.x is installed.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Sequence

# The original module defines the underline as UTF-8 *bytes*; comparing it with a `str` piece
# is what makes quirk Q2 happen under Python 3.
SPIECE_UNDERLINE = "\u2581".encode("utf-8")

# Lines that exercise every rule, added to the corpora in the parity tests.
TRICKY_LINES = [
    "",
    "   ",
    "In 1998, 9,9 and x19, then 1,000,000, and 12,5",
    "``quoted'' and ''double'' `single'",
    "[CLS] [SEP] [MASK] <pad> <unk> x[MASK]y [mask] <PAD> [CLS][SEP]",
    "Bäume Öl café naïve Ærø ŒUVRE İstanbul straße ẞ",
    "ΣΟΦΟΣ ΣΟΦΟΣ. Σ ὈΔΥΣΣΕΎΣ",
    "ﬁnance ﬂow ½ ² ³, x²,  ①, ٣, ۳, ๓,",
    "tab\tsep\u001cfile\u001dgroup\u001erecord\u001funit\u00a0nbsp\u3000ideo\u2028ls\u0085nel",
    "zero\u200bwidth\ufeffbom soft\u00adhyphen",
    "emoji 😀👍🏽 cjk 漢字かな 한국어 arabic العربية hebrew עברית",
    "(parens) \"quotes\" - dash – en — em £5 €10 ...",
    "e\u0301 o\u0308 combining marks, A\u030a",
    "\u00c5ngstr\u00f6m \u212b sign",
]


def read_lines(literature_dir: Path, prefixes: Sequence[str] = ("en-", "de-", "fr-")) -> list[str]:
    """Every line (blank ones included) of the shared corpora, in file-name order."""
    lines: list[str] = []
    for path in sorted(literature_dir.glob("*.txt")):
        if path.name.startswith(tuple(prefixes)):
            lines.extend(path.read_text(encoding="utf-8").split("\n"))
    return lines


def reference_preprocess(inputs: str, lower: bool, strip_accents: bool) -> str:
    """`tokenization.preprocess_text(inputs, remove_space=True, lower=lower)`; the original
    always strips accents (Q1), here it is the `strip_accents` switch."""
    outputs = " ".join(inputs.strip().split())
    if strip_accents:
        outputs = unicodedata.normalize("NFKD", outputs)
        outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
    if lower:
        outputs = outputs.lower()
    return outputs


def _printable(piece: str | bytes) -> str:
    return piece.decode("utf-8") if isinstance(piece, bytes) else piece


def reference_digit_comma(sp, pieces: Sequence[str]) -> list[str]:
    """The loop of `tokenization.encode_pieces` under Python 3."""
    new_pieces: list[str | bytes] = []
    for piece in pieces:
        piece = _printable(piece)
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            cur_pieces = sp.EncodeAsPieces(piece[:-1].encode("utf-8").replace(SPIECE_UNDERLINE, b""))
            # Q2: `str != bytes` is always true and `str == bytes` always false under Python 3,
            # so this branch never runs.
            if piece[0] != SPIECE_UNDERLINE and cur_pieces[0][0] == SPIECE_UNDERLINE:
                if len(cur_pieces[0]) == 1:
                    cur_pieces = cur_pieces[1:]
                else:
                    cur_pieces[0] = cur_pieces[0][1:]
            cur_pieces.append(piece[-1])
            new_pieces.extend(cur_pieces)
        else:
            new_pieces.append(piece)
    return [_printable(p) for p in new_pieces]


def reference_pieces_batch(sp, lines: Sequence[str], lower: bool, strip_accents: bool) -> list[list[str]]:
    """`FullTokenizer.tokenize(preprocess_text(line))` for every line. `EncodeAsPieces` is
    called through the package's batch form (`encode(..., out_type=str)`), which is the same
    function."""
    texts = [reference_preprocess(line, lower, strip_accents) for line in lines]
    all_pieces = sp.encode(texts, out_type=str)
    return [reference_digit_comma(sp, pieces) for pieces in all_pieces]


def reference_ids_batch(sp, lines: Sequence[str], lower: bool, strip_accents: bool) -> list[list[int]]:
    """`FullTokenizer.convert_tokens_to_ids(...)`: `PieceToId` of every piece."""
    return [sp.piece_to_id(pieces) if pieces else [] for pieces in reference_pieces_batch(sp, lines, lower, strip_accents)]


#: Hugging Face's special tokens of ALBERT, which its tokenizer keeps whole.
HF_SPECIAL_TOKENS = ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")


class HFSlowAlbertTokenizer:
    """transformers 4.x's SentencePiece-based ``AlbertTokenizer`` (``tokenize`` and
    ``encode(..., add_special_tokens=False)``), written from its behaviour on top of the
    `sentencepiece` package: transformers 5 has no such class any more (its ``AlbertTokenizer``
    is built on `tokenizers`), and our default pipeline is defined as this one. With
    transformers 4.x installed, `tests/test_tokenizer_parity.py` checks it against the real
    class.

    * ``tokenize``: with do_lower_case, every character outside a special token is lower-cased
      on its own (no final sigma); the text is split at the special tokens (kept whole);
    * each piece in between: ``" ".join(text.strip().split())``, "``"/"''" -> '"', NFKD and
      combining marks dropped unless keep_accents, ``lower()``, ``EncodeAsPieces``, then the
      digit-comma rule as intended (a mid-word piece loses the "▁" re-encoding adds);
    * ids: ``PieceToId`` of every piece.
    """

    def __init__(self, model_file: Path, lowercase: bool, strip_accents: bool) -> None:
        import re

        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.lowercase, self.strip_accents = lowercase, strip_accents
        self._specials = re.compile("|".join(re.escape(t) for t in HF_SPECIAL_TOKENS))

    def _preprocess(self, text: str) -> str:
        out = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
        if self.strip_accents:
            out = "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))
        return out.lower() if self.lowercase else out

    def _pieces(self, text: str) -> list[str]:
        out: list[str] = []
        for piece in self.sp.encode(self._preprocess(text), out_type=str):
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                cur = self.sp.encode(piece[:-1].replace("\u2581", ""), out_type=str)
                if piece[0] != "\u2581" and cur and cur[0][0] == "\u2581":
                    cur = cur[1:] if len(cur[0]) == 1 else [cur[0][1:], *cur[1:]]
                out.extend(cur + [","])
            else:
                out.append(piece)
        return out

    def tokenize(self, text: str) -> list[str]:
        if self.lowercase:
            text = "".join(m.group(0) if m.group(0) in HF_SPECIAL_TOKENS else m.group(0).lower()
                           for m in re_chars(self._specials, text))
        out: list[str] = []
        at = 0
        for m in self._specials.finditer(text):
            out += self._pieces(text[at:m.start()]) + [m.group(0)]
            at = m.end()
        return out + self._pieces(text[at:])

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        assert not add_special_tokens
        return [self.sp.piece_to_id(p) for p in self.tokenize(text)]


def re_chars(specials, text: str):
    """The text as special-token matches and single characters, in order."""
    import re

    return re.finditer(f"(?:{specials.pattern})|.", text, flags=re.DOTALL)


def hf_tokenizer(model_file: Path, lowercase: bool, strip_accents: bool) -> HFSlowAlbertTokenizer:
    """Hugging Face's sentencepiece-based `AlbertTokenizer` with the matching settings."""
    return HFSlowAlbertTokenizer(model_file, lowercase, strip_accents)


def transformers_slow_albert(model_file: Path, lowercase: bool, strip_accents: bool):
    """transformers 4.x's own SentencePiece `AlbertTokenizer`; None with transformers 5."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return None
    return transformers.AlbertTokenizer(str(model_file), do_lower_case=lowercase,
                                        keep_accents=not strip_accents)


def hf_ids(tok, lines: Sequence[str]) -> list[list[int]]:
    return [tok.encode(line, add_special_tokens=False) for line in lines]
