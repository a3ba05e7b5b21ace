"""``Tokenizer``: SentencePiece-compatible encoding with ALBERT's text pipeline, in Rust, exactly
like Hugging Face's ``AlbertTokenizer`` (default, so an exported model tokenizes as it was
trained) or the original ``FullTokenizer`` (``reference_compat``, quirk Q2); docs/tokenizer.md.
Also the one home of the tokenizer files' names, ALBERT's special symbols and the resolution of
a tokenizer path (a ``.model`` file or a tokenizer directory)."""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from albert_fast import _core, storage
from albert_fast._core import Tokenizer as _CoreTokenizer
from albert_fast.config import TextConfig
from albert_fast.errors import ConfigError, ModelError

__all__ = [
    "MODEL_FILE",
    "TOKENIZER_CONFIG",
    "ALBERT_SPECIAL_IDS",
    "ALBERT_SPECIAL_TOKENS",
    "FIRST_ORDINARY_ID",
    "Tokenizer",
    "load_tokenizer_config",
    "resolve_tokenizer_paths",
    "installed_sentencepiece",
    "sentencepiece_behaviour",
]

#: The config file of a tokenizer directory, written by ``albert-fast train-tokenizer``.
TOKENIZER_CONFIG = "tokenizer_config.json"
#: The SentencePiece model inside a tokenizer directory (Hugging Face's name for it too).
MODEL_FILE: str = _core.MODEL_FILE
#: ALBERT's special symbols and the ids they must have (docs/tokenizer.md); ordinary pieces follow.
#: Defined once, in the Rust core (``tokenizer::ALBERT_SPECIALS``).
ALBERT_SPECIAL_IDS: dict[str, int] = dict(_core.ALBERT_SPECIALS)
#: The same symbols by role, as SentencePiece's trainer flags name them (``pad_piece``, ...).
ALBERT_SPECIAL_TOKENS = dict(zip(("pad", "unk", "cls", "sep", "mask"), ALBERT_SPECIAL_IDS))
#: The first id after them.
FIRST_ORDINARY_ID = max(ALBERT_SPECIAL_IDS.values()) + 1

PathLike = Union[str, "os.PathLike[str]"]
Text = Union[str, bytes]

_BOOL_KEYS = ("lowercase", "strip_accents")


def installed_sentencepiece() -> Optional[str]:
    """The version of the installed ``sentencepiece`` package, or ``None`` when there is none."""
    try:
        return metadata.version("sentencepiece")
    except metadata.PackageNotFoundError:
        return None


def sentencepiece_behaviour(version: Optional[str] = None) -> str:
    """The ``sentencepiece`` release whose scoring and model checks albert_fast reproduces
    (docs/tokenizer.md): for ``version``, else for the installed package; the newest known
    (``"0.2.3"``) when none is installed. Releases after 0.2.3 get 0.2.3's behaviour."""
    if version is None:
        version = installed_sentencepiece()
    elif not isinstance(version, str):
        raise ConfigError(f"invalid value for sentencepiece_version: expected a version string, got {version!r}")
    return _core.sentencepiece_behaviour(version)


def load_tokenizer_config(path: PathLike) -> Optional[dict[str, Any]]:
    """Reads ``tokenizer_config.json`` from a tokenizer directory (or the directory holding a
    ``.model`` file). Returns ``None`` when there is none.

    Raises ``ConfigError`` naming the file and field when the file is not valid JSON, not an
    object, or holds a value of the wrong type for a key albert_fast uses.
    """
    p = Path(path)
    directory = p if p.is_dir() else p.parent
    cfg_path = directory / TOKENIZER_CONFIG
    if not cfg_path.is_file():
        return None
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{cfg_path}: not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{cfg_path}: expected a JSON object, got {type(cfg).__name__}")
    for key in _BOOL_KEYS:
        if key in cfg and not isinstance(cfg[key], bool):
            raise ConfigError(f"{cfg_path}: invalid value for {key}: expected true or false, got {cfg[key]!r}")
    for key in ("model_file", "spiece_sha256", "model_type"):
        if key in cfg and not isinstance(cfg[key], str):
            raise ConfigError(f"{cfg_path}: invalid value for {key}: expected a string, got {cfg[key]!r}")
    if "model_file" in cfg and (not cfg["model_file"] or Path(cfg["model_file"]).name != cfg["model_file"]):
        raise ConfigError(f"{cfg_path}: invalid value for model_file: {cfg['model_file']!r} is not a file name")
    return cfg


def resolve_tokenizer_paths(path: PathLike) -> tuple[Path, Optional[dict[str, Any]]]:
    """The model file and the config (or ``None``) for a ``.model`` file or tokenizer directory.

    For a ``.model`` file, a ``tokenizer_config.json`` beside it applies only when it names that
    file as its ``model_file``.
    """
    if storage.is_url(path):
        path = _fetch_tokenizer(os.fspath(path))
    p = Path(storage.local_path(path))
    if p.is_dir():
        cfg = load_tokenizer_config(p)
        model = p / (cfg.get("model_file", MODEL_FILE) if cfg else MODEL_FILE)
        if not model.is_file():
            raise FileNotFoundError(2, f"tokenizer directory has no {model.name}", str(model))
        return model, cfg
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", str(p))
    cfg = load_tokenizer_config(p)
    if cfg is not None and cfg.get("model_file", MODEL_FILE) != p.name:
        cfg = None
    return p, cfg


def _fetch_tokenizer(url: str) -> Path:
    """A local copy of a tokenizer directory or ``.model`` file in object storage (its model and
    config only), cached by URL."""
    if url.endswith(".model"):
        base, name = url.rsplit("/", 1)
        return storage.fetch_dir(base, [name, TOKENIZER_CONFIG]) / name
    return storage.fetch_dir(url, [MODEL_FILE, TOKENIZER_CONFIG])


class Tokenizer:
    """A SentencePiece unigram model plus ALBERT's text preprocessing, encoded in Rust.

    Args:
        path: a ``.model`` file or a tokenizer directory (``spiece.model`` +
            ``tokenizer_config.json``).
        lowercase: lower-case the text (``do_lower_case``). ``None``: the value recorded in
            ``tokenizer_config.json``, else albert_fast's default (``True``).
        strip_accents: NFKD + drop combining marks (quirk Q1; ``keep_accents=False`` in Hugging
            Face). ``None``: the recorded value, else the default (``False``).
        reference_compat: reproduce the original ``FullTokenizer`` exactly (quirk Q2, no Q3
            quote replacement, no special-token splitting) instead of Hugging Face's
            ``AlbertTokenizer``.
        sentencepiece_version: the ``sentencepiece`` release to agree with ("0.2.1"); ``None``:
            the installed one (see :func:`sentencepiece_behaviour`). Releases score user-defined
            symbols and long lines differently and check models differently.

    Raises:
        FileNotFoundError: the path does not exist.
        ModelError: the model is corrupt, not a unigram model, is refused by that
            ``sentencepiece`` release (e.g. an invalid ``precompiled_charsmap``), is a ``.vocab``
            file, or does not match the ``spiece_sha256`` recorded in the config.
        ConfigError: ``tokenizer_config.json`` is malformed.
    """

    def __init__(
        self,
        path: PathLike,
        lowercase: Optional[bool] = None,
        strip_accents: Optional[bool] = None,
        reference_compat: bool = False,
        sentencepiece_version: Optional[str] = None,
    ) -> None:
        model_path, cfg = resolve_tokenizer_paths(path)
        defaults = TextConfig()
        recorded = cfg or {}
        lowercase = _pick_bool("lowercase", lowercase, recorded, defaults.lowercase)
        strip_accents = _pick_bool("strip_accents", strip_accents, recorded, defaults.strip_accents)
        if not isinstance(reference_compat, bool):
            raise ConfigError(f"invalid value for reference_compat: expected True or False, got {reference_compat!r}")
        behaviour = sentencepiece_behaviour(sentencepiece_version)
        self._core = _CoreTokenizer(str(model_path), lowercase, strip_accents, reference_compat, behaviour)
        self._config = cfg
        self._path = model_path
        expected = recorded.get("spiece_sha256")
        if expected and expected.lower() != self._core.model_sha256:
            raise ModelError(
                f"{model_path}: SHA-256 {self._core.model_sha256} does not match spiece_sha256 "
                f"{expected} recorded in {model_path.parent / TOKENIZER_CONFIG}; the model was replaced "
                "after training"
            )

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, text: Text) -> list[int]:
        """Token ids of one text (no ``[CLS]``/``[SEP]`` added)."""
        return self._core.encode(text)

    def encode_batch(self, texts: Iterable[Text], threads: Optional[int] = None) -> list[list[int]]:
        """Token ids of many texts, encoded in parallel with the GIL released. The result is in
        input order and identical for every ``threads`` (default: all cores)."""
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"invalid value for threads: expected a positive integer, got {threads!r}")
        if isinstance(texts, (str, bytes)):
            raise TypeError("encode_batch expects a sequence of texts, not a single str/bytes; use encode()")
        return self._core.encode_batch(texts, threads)

    def tokenize(self, text: Text) -> list[str]:
        """The pieces ``encode`` returns ids of."""
        return self._core.tokenize(text)

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (a model's predictions, an instance's ``input_ids``), exactly as
        SentencePiece's ``decode_ids`` gives it: control symbols (``[CLS]``, ``[SEP]``,
        ``[MASK]``, ``<pad>``) vanish, ``<unk>`` reads " ⁇ ", "▁" is a space, byte pieces are
        joined into UTF-8. The lower-casing and accent stripping of encoding are not undone.
        ``IndexError`` for an id outside the vocabulary."""
        return self._core.decode([int(i) for i in ids])

    def decode_batch(self, batch: Iterable[Iterable[int]], threads: Optional[int] = None) -> list[str]:
        """:meth:`decode` of many id sequences, in parallel with the GIL released; in input order."""
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"invalid value for threads: expected a positive integer, got {threads!r}")
        return self._core.decode_batch([[int(i) for i in ids] for ids in batch], threads)

    # -- vocabulary -------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of pieces, specials included."""
        return self._core.vocab_size

    def id_to_piece(self, id: int) -> str:
        """The piece with this id; ``IndexError`` outside the vocabulary."""
        return self._core.id_to_piece(id)

    def piece_to_id(self, piece: str) -> Optional[int]:
        """The id of ``piece``, or ``None`` when it is not in the vocabulary (SentencePiece
        itself would return the ``<unk>`` id)."""
        return self._core.piece_to_id(piece)

    def piece_kind(self, id: int) -> str:
        """SentencePiece's type of the piece: ``normal``, ``unknown``, ``control``,
        ``user_defined``, ``unused`` or ``byte``."""
        return self._core.piece_kind(id)

    def pieces(self) -> list[str]:
        """All pieces in id order (``IdToPiece(i)`` for every id)."""
        return self._core.pieces()

    @property
    def unk_id(self) -> int:
        """The unknown piece's id (-1 in a byte-fallback model without one)."""
        return self._core.unk_id

    def special_ids(self) -> dict[str, int]:
        """Ids of the ALBERT special tokens present in the vocabulary, by token string."""
        return dict(self._core.special_ids())

    def check_albert_specials(self) -> None:
        """Raises ``ModelError`` naming what is wrong unless ``<pad>``=0, ``<unk>``=1 (the
        unknown piece), ``[CLS]``=2, ``[SEP]``=3, ``[MASK]``=4 (control symbols)."""
        self._core.check_albert_specials()

    # -- settings ---------------------------------------------------------------------------

    @property
    def model_sha256(self) -> str:
        """Hex SHA-256 of the ``.model`` bytes."""
        return self._core.model_sha256

    @property
    def model_path(self) -> Path:
        return self._path

    @property
    def config(self) -> Optional[dict[str, Any]]:
        """The ``tokenizer_config.json`` this tokenizer was loaded with, if any."""
        return None if self._config is None else dict(self._config)

    @property
    def lowercase(self) -> bool:
        return self._core.lowercase

    @property
    def strip_accents(self) -> bool:
        return self._core.strip_accents

    @property
    def reference_compat(self) -> bool:
        return self._core.reference_compat

    @property
    def sentencepiece_version(self) -> str:
        """The ``sentencepiece`` release whose behaviour is reproduced ("0.2.3")."""
        return self._core.sentencepiece_version

    def __len__(self) -> int:
        return self.vocab_size

    def __reduce__(self):
        # Pickled by reference to the model file (e.g. for multiprocessing or Dask workers that
        # see the same file system); the checksum check runs again on load.
        return (type(self), (str(self._path), self.lowercase, self.strip_accents, self.reference_compat,
                             self.sentencepiece_version))

    def __repr__(self) -> str:
        return (
            f"Tokenizer({str(self._path)!r}, vocab_size={self.vocab_size}, lowercase={self.lowercase}, "
            f"strip_accents={self.strip_accents}, reference_compat={self.reference_compat}, "
            f"sentencepiece_version={self.sentencepiece_version!r})"
        )


def _pick_bool(name: str, given: Optional[bool], recorded: dict[str, Any], default: bool) -> bool:
    """An explicit argument wins over the config, which wins over albert_fast's default."""
    if given is None:
        return bool(recorded.get(name, default))
    if not isinstance(given, bool):
        raise ConfigError(f"invalid value for {name}: expected True, False or None, got {given!r}")
    return given
