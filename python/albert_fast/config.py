"""One validated config for every stage: architecture, text normalization, tokenizer, corpus
preparation, data creation and pretraining. Field names are those of the original
google-research/albert tools so settings carry over unchanged; three file layouts load
(sections, the tutorial's ``albert_config`` + flat flags, a bare ``albert_config.json``;
docs/config.md). Every problem is a :class:`~albert_fast.errors.ConfigError` naming the file,
the field path and the offending value."""

from __future__ import annotations

import difflib
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from albert_fast.errors import ConfigError

# The tutorial's --user_defined_symbols for SentencePiece training.
DEFAULT_USER_DEFINED_SYMBOLS = ["(", ")", '"', "-", ".", "–", "£", "€"]

SECTIONS = ("model", "text", "tokenizer", "data", "pretraining", "corpus", "cluster")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic would read `ngram: yes` (YAML 1.1 for true) as 1.
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation is not bool:
            raise PydanticCustomError("bool_type", "expected a number or text, not true/false")
        return value


class ModelConfig(_Section):
    """The ``albert_config`` block (field order as in the original ``albert_config.json``);
    defaults are ALBERT-base v2."""

    attention_probs_dropout_prob: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout on attention probabilities (0 in ALBERT v2).")
    hidden_act: Literal["gelu", "relu", "tanh", "linear", "gelu_new", "gelu_pytorch_tanh",
                        "gelu_exact", "gelu_python", "swish", "silu"] = Field(
        "gelu", description="Activation of the feed-forward layers and the MLM head; 'gelu' is "
        "the tanh approximation, as in the original (Hugging Face calls it gelu_new; "
        "gelu_exact is the erf form). The original knows gelu, relu, tanh and linear.")
    hidden_dropout_prob: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout on embeddings and layer outputs (0 in ALBERT v2).")
    embedding_size: int = Field(
        128, gt=0, description="Width of the factorized token embeddings (E in the paper).")
    hidden_size: int = Field(768, gt=0, description="Width of the transformer layers (H).")
    initializer_range: float = Field(
        0.02, gt=0.0, description="Stddev of the truncated-normal weight initializer.")
    intermediate_size: int = Field(3072, gt=0, description="Width of the feed-forward layer.")
    max_position_embeddings: int = Field(
        512, gt=0, description="Rows of the position-embedding table: the longest sequence the "
        "model can take.")
    num_attention_heads: int = Field(12, gt=0, description="Attention heads per layer.")
    num_hidden_layers: int = Field(12, gt=0, description="Transformer layers (L).")
    num_hidden_groups: int = Field(
        1, gt=0, description="Groups of layers that share parameters (1: all layers share).")
    net_structure_type: int = Field(
        0, ge=0, description="Experimental variant of the original (0 in every published "
        "model; the trainer builds only 0).")
    gap_size: int = Field(
        0, ge=0, description="Experimental (0 in every published model; the trainer builds only 0).")
    num_memory_blocks: int = Field(
        0, ge=0, description="Experimental (0 in every published model; the trainer builds only 0).")
    inner_group_num: int = Field(
        1, gt=0, description="Attention+FFN blocks run in sequence inside each layer.")
    down_scale_factor: int = Field(
        1, gt=0, description="Experimental (1 in every published model; the trainer builds only 1).")
    type_vocab_size: int = Field(
        2, gt=0, description="Segment (token type) vocabulary; instances use ids 0 and 1.")
    vocab_size: int = Field(
        30000, gt=5, description="Word-embedding rows; must equal the tokenizer's piece count (Q5).")


class TextConfig(_Section):
    """The one text normalization, applied identically when the tokenizer is trained, when data
    is created and in the exported Hugging Face tokenizer (quirk Q1)."""

    lowercase: bool = Field(
        True, description="Lower-case the text (the original's do_lower_case).")
    strip_accents: bool = Field(
        False, description="Strip accents (NFKD, drop combining marks). The original always "
        "strips them (Q1); albert_fast keeps them unless this is set.")


class TokenizerConfig(_Section):
    """SentencePiece training. ``vocab_size`` counts every piece, specials included; ``None``
    means "the model's vocab_size" (quirk Q5: the two must agree)."""

    vocab_size: Optional[int] = Field(
        None, gt=5, description="SentencePiece vocabulary size, special pieces included; unset: "
        "model.vocab_size (Q5: the two must agree).")
    model_type: Literal["unigram", "bpe", "char", "word"] = Field(
        "unigram", description="SentencePiece model type.")
    character_coverage: float = Field(
        0.99995, gt=0.0, le=1.0, description="Share of characters the model must cover.")
    input_sentence_size: int = Field(
        10_000_000, gt=0, description="Most sentences SentencePiece loads for training (the "
        "tutorial's value; time, memory and quality per size: docs/tokenizer-training.md).")
    shuffle: bool = Field(
        True, description="Sample the training sentences at random (SentencePiece's "
        "shuffle_input_sentence).")
    user_defined_symbols: list[str] = Field(
        default_factory=lambda: list(DEFAULT_USER_DEFINED_SYMBOLS),
        description="Pieces that are always kept whole (on the command line: comma-separated).")


class DataConfig(_Section):
    """``create_pretraining_data.py`` flags, defaults as in the original tool."""

    max_seq_length: int = Field(
        512, ge=8, description="Tokens per instance, [CLS] and [SEP]s included.")
    max_predictions_per_seq: int = Field(
        20, ge=1, description="Most masked positions per instance.")
    random_seed: int = Field(12345, description="Seed of every random choice.")
    dupe_factor: int = Field(
        40, ge=1, description="Passes over the corpus, each with different masks.")
    masked_lm_prob: float = Field(
        0.15, gt=0.0, lt=1.0, description="Share of tokens to mask.")
    short_seq_prob: float = Field(
        0.1, ge=0.0, le=1.0, description="Probability of a shorter target length for a document.")
    do_permutation: bool = Field(
        False, description="Also permute some uncovered tokens and predict them (up to twice "
        "max_predictions_per_seq predictions; the original's run_pretraining.py cannot read such "
        "data, Q14).")
    random_next_sentence: bool = Field(
        False, description="NSP-style negatives from other documents instead of sentence-order "
        "swaps (SOP).")
    do_whole_word_mask: bool = Field(
        True, description="Mask whole words rather than single pieces.")
    favor_shorter_ngram: bool = Field(
        True, description="n-gram length n drawn with probability proportional to 1/n.")
    ngram: int = Field(3, ge=1, description="Longest masked n-gram.")
    reference_compat: bool = Field(
        False, description="Reproduce the original tools' defects (the quirks Qn in docs) instead of "
        "the fixes; accent stripping (Q1) has its own switch, text.strip_accents.")


def _increasing_lengths(value: Optional[list[int]]) -> Optional[list[int]]:
    """``sequence_bins``: positive and strictly increasing (upper bounds of real length)."""
    if value is None:
        return value
    if any(b < 1 for b in value):
        raise ValueError(f"bin lengths must be positive, got {value}")
    if any(b >= c for b, c in zip(value, value[1:])):
        raise ValueError(f"bin lengths must be strictly increasing, got {value}")
    return value


class PhaseConfig(_Section):
    """One phase of a multi-phase schedule (``pretraining.phases``, as BERT recipes train most
    steps on short sequences): how long it runs and which data it reads. Unset fields take the
    run's values (``--data``, ``data.*``, ``pretraining.sequence_bins``)."""

    fraction: Optional[float] = Field(
        None, gt=0.0, le=1.0, description="Share of pretraining.num_train_steps this phase runs "
        "(or give steps; the last phase may give neither: it runs to the end).")
    steps: Optional[int] = Field(None, gt=0, description="Steps this phase runs.")
    data: Optional[str] = Field(
        None, description="Training data of the phase (as --data); unset: the run's --data.")
    max_seq_length: Optional[int] = Field(
        None, ge=8, description="The phase data's max_seq_length; unset: data.max_seq_length.")
    max_predictions_per_seq: Optional[int] = Field(
        None, ge=1, description="The phase data's max_predictions_per_seq; unset: "
        "data.max_predictions_per_seq.")
    sequence_bins: Optional[list[int]] = Field(
        None, description="Bins of the phase; unset: pretraining.sequence_bins without the "
        "lengths above the phase's max_seq_length.")

    @field_validator("sequence_bins")
    @classmethod
    def _check_bins(cls, value: Optional[list[int]]) -> Optional[list[int]]:
        return _increasing_lengths(value)


class PretrainingConfig(_Section):
    """``run_pretraining.py`` flags, defaults as in the original tool (the ALBERT paper's
    recipe). ``max_seq_length`` and ``max_predictions_per_seq`` live in ``data``: they must match
    the data, so there is one copy."""

    optimizer: Literal["lamb", "adamw"] = Field("lamb", description="Optimizer.")
    learning_rate: float = Field(0.00176, gt=0.0, description="Peak learning rate.")
    poly_power: float = Field(1.0, gt=0.0, description="Power of the polynomial decay to 0.")
    num_train_steps: int = Field(125_000, gt=0, description="Training steps.")
    num_warmup_steps: int = Field(3125, ge=0, description="Linear warm-up steps.")
    start_warmup_step: int = Field(0, ge=0, description="Step at which the warm-up starts.")
    save_checkpoints_steps: int = Field(5000, gt=0, description="Steps between checkpoints.")
    keep_checkpoint_max: int = Field(5, gt=0, description="Checkpoints kept.")
    train_batch_size: int = Field(4096, gt=0, description="Global training batch size.")
    eval_batch_size: int = Field(64, gt=0, description="Global evaluation batch size.")
    max_eval_steps: int = Field(100, gt=0, description="Most evaluation steps.")
    iterations_per_loop: int = Field(
        1000, gt=0, description="Steps per device loop between host syncs.")
    init_checkpoint: Optional[str] = Field(
        None, description="Checkpoint to warm-start the weights from (not the optimizer state).")
    init_from_group0: bool = Field(
        False, description="Copy layer group 0's weights from init_checkpoint into every group.")
    masked_lm_budget: float = Field(
        0.0, ge=0.0, lt=1.0, description="> 0: mask each training batch afresh at this rate from "
        "token_boundary (Q16), with the data section's ngram settings; 0: create-data's masks.")
    # albert_fast's trainer beyond run_pretraining.py's flags.
    weight_decay_rate: float = Field(
        0.01, ge=0.0, description="Weight decay of LAMB/AdamW (LayerNorm and bias excluded).")
    gradient_accumulation_steps: int = Field(
        1, ge=1, description="Micro-batches per optimizer update (train_batch_size is split).")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="Compute precision: fp32, or mixed bf16/fp16 (fp16 scales the loss).")
    random_seed: Optional[int] = Field(
        12345, description="Seed of weight initialization, dropout and input shuffling.")
    # Throughput (docs/pretraining.md, "Fast training").
    sequence_bins: list[int] = Field(
        default_factory=list, description="Sequence-length bins, e.g. [128, 256, 384, 512]: each "
        "training batch holds instances of one bin, padded only to its length (data.max_seq_length "
        "is always the last bin); empty: every batch padded to data.max_seq_length.")
    phases: list[PhaseConfig] = Field(
        default_factory=list, description="Training phases in order, each with its own data and "
        "length (e.g. 90% of the steps at 128, then 512); empty: one phase.")
    jit_compile: Literal["auto", "true", "false"] = Field(
        "auto", description="XLA-compile the training and evaluation steps: auto (on GPU/TPU, "
        "off on CPU), true, false.")

    @field_validator("sequence_bins")
    @classmethod
    def _check_bins(cls, value: Optional[list[int]]) -> Optional[list[int]]:
        return _increasing_lengths(value)

    @field_validator("jit_compile", mode="before")
    @classmethod
    def _bool_to_choice(cls, value: Any) -> Any:
        # YAML reads `jit_compile: true` as a boolean.
        return str(value).lower() if isinstance(value, bool) else value


class CorpusConfig(_Section):
    """``prepare-corpus``: raw text -> one sentence per line, a blank line between documents
    (docs/prepare-corpus.md explains every rule)."""

    doc_boundary: Literal["auto", "file", "line", "blank-line", "group", "row", "jsonl", "doc"] = Field(
        "auto", description="What a document is: auto (per file: .jsonl -> jsonl, <doc> files -> "
        "doc, Parquet/Arrow -> row unless the rows read like lines, else by the file's layout: one "
        "sentence per line -> blank-line, one document per line -> line, paragraph layouts -> "
        "group), file, line, blank-line (paragraph), group (consecutive paragraphs up to "
        "target_document_kb), row (one per Parquet/Arrow row), jsonl, doc (WikiExtractor).")
    target_document_kb: float = Field(
        16.0, ge=0.0, description="Paragraph layouts (group, and auto on such files): group "
        "consecutive paragraphs into documents of about this many KB (0: one paragraph per "
        "document).")
    jsonl_field: str = Field("text", description="The JSON Lines field or Parquet/Arrow/datasets column "
                             "holding the text (dots for nested fields); also --text-column.")
    clean: bool = Field(True, description="Clean the text; false turns every cleaning rule off.")
    nfc: bool = Field(True, description="Unicode NFC.")
    remove_control: bool = Field(True, description="Remove control characters (Cc that are not whitespace, U+FEFF).")
    collapse_whitespace: bool = Field(True, description="Strip lines and collapse whitespace runs to one space.")
    min_line_chars: int = Field(2, ge=0, description="Drop lines shorter than this many characters after cleaning (0 keeps all).")
    dedup: bool = Field(True, description="Drop exact-duplicate documents.")
    shard_size_mb: float = Field(64.0, gt=0.0, description="Size of each output shard in MB.")
    max_document_mb: float = Field(64.0, gt=0.0, description="Cut longer documents at a line boundary.")
    punkt_params: Optional[str] = Field(None, description="A punkt_tab directory with the Punkt parameters.")
    punkt_language: Optional[str] = Field(
        None, description="Use the installed nltk_data punkt_tab model of this language if there is one.")
    punkt_sample_mb: float = Field(10.0, gt=0.0, description="MB of input to train Punkt on (a sample from the start of each file, cut at whitespace: the bound holds for any line length).")


class ClusterConfig(_Section):
    """Where the data stages run (docs/cluster.md). Not part of any output: the same input,
    config and seed give the same bytes on one machine or many."""

    address: Optional[str] = Field(
        None, description="Dask cluster for prepare-corpus, train-tokenizer's sampling and "
        "create-data: local, local:N (N worker processes started for the run) or a scheduler "
        "address tcp://HOST:PORT; unset: this process only.")
    connect_timeout: float = Field(
        30.0, gt=0.0, description="Seconds to wait for the scheduler (and a first worker).")


SECTION_MODELS: dict[str, type[_Section]] = {
    "model": ModelConfig,
    "text": TextConfig,
    "tokenizer": TokenizerConfig,
    "data": DataConfig,
    "pretraining": PretrainingConfig,
    "corpus": CorpusConfig,
    "cluster": ClusterConfig,
}

# Original names that differ from ours. Used by the flat (tutorial) layout and as extra
# command-line spellings.
FIELD_ALIASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("text", "lowercase"): ("do_lower_case",),
    ("tokenizer", "shuffle"): ("shuffle_input_sentence",),
    ("corpus", "punkt_language"): ("language",),
    ("corpus", "jsonl_field"): ("text_column",),
}

# Command-line spellings that replace a field's own name (``--cluster``, not ``--address``).
FLAG_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("cluster", "address"): ("cluster",),
}

# Flags of the original tools with no field here: accepted in a tutorial-layout file, with a note
# saying where the setting went. (albert_config_file is handled separately: it is loaded.)
TOOL_ONLY_KEYS: dict[str, str] = {
    "input_file": "inputs are named on the command line (create-data INPUT... or --input_file, "
                  "pretrain --data or --input_file)",
    "output_file": "give create-data its output on the command line (--output_file or -o)",
    "vocab_file": "the vocabulary comes from the SentencePiece model; vocab_file is ignored (Q4)",
    "spm_model_file": "give the SentencePiece model to create-data with --spm_model_file/--tokenizer",
    "input_file_mode": "inputs are read as UTF-8 text (plain, .gz or .zst)",
    "output_dir": "give the run directory to pretrain with -o/--output_dir",
    "do_train": "run control is on the pretrain command line (--do_train, --do_eval)",
    "do_eval": "run control is on the pretrain command line (--do_train, --do_eval)",
    "use_tpu": "the TPU is chosen on the pretrain command line (--use_tpu --tpu_name NAME)",
    "tpu_name": "the TPU is chosen on the pretrain command line (--use_tpu --tpu_name NAME)",
    "tpu_zone": "the TPU is chosen on the pretrain command line (--use_tpu --tpu_zone ZONE)",
    "gcp_project": "the TPU is chosen on the pretrain command line (--use_tpu --gcp_project P)",
    "master": "the TPU is chosen on the pretrain command line (--use_tpu --master URL)",
    "num_tpu_cores": "the TPU strategy uses every core of the TPU",
}


def _flat_names() -> dict[str, tuple[str, str]]:
    """Top-level key of the flat layout -> (section, field). A name in several sections goes to
    the first of SECTIONS (``vocab_size`` -> model: a bare albert_config.json has it)."""
    names: dict[str, tuple[str, str]] = {}
    for section, cls in SECTION_MODELS.items():
        for name in cls.model_fields:
            names.setdefault(name, (section, name))
    for target, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            names[alias] = target
    return names


FLAT_NAMES: dict[str, tuple[str, str]] = _flat_names()


class Config(_Section):
    """The whole config. Build it with :func:`load_config`, :func:`config_from_dict` or
    ``Config()`` (all defaults); the cross-field checks run whenever it is validated."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    pretraining: PretrainingConfig = Field(default_factory=PretrainingConfig)
    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)

    # Where it came from and what the loader has to say about it; not part of the dump.
    _source: str = PrivateAttr("<defaults>")
    _layout: str = PrivateAttr("defaults")
    _notes: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _cross_field_checks(self) -> "Config":
        problems = cross_field_problems(self)
        if problems:
            raise ValidationError.from_exception_data(
                "Config",
                [InitErrorDetails(type=PydanticCustomError("cross_field", "{problem}", {"problem": msg}),
                                  loc=loc, input=value)
                 for loc, value, msg in problems],
            )
        return self

    def __eq__(self, other: object) -> bool:
        # Equal settings are equal configs, wherever they were loaded from.
        return isinstance(other, Config) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    @property
    def source(self) -> str:
        """The file the config was loaded from, or ``<defaults>``/``<dict>``."""
        return self._source

    @property
    def layout(self) -> str:
        """The layout the file was written in: sections, tutorial, albert_config.json, mixed."""
        return self._layout

    @property
    def notes(self) -> list[str]:
        """What the loader did with keys that have no field here (original tools' flags)."""
        return list(self._notes)

    @property
    def tokenizer_vocab_size(self) -> int:
        """The SentencePiece vocabulary size to train: tokenizer.vocab_size or, unset, the
        model's (Q5)."""
        return self.tokenizer.vocab_size if self.tokenizer.vocab_size is not None else self.model.vocab_size

    def albert_config(self) -> dict[str, Any]:
        """The ``model`` section as the original ``albert_config.json`` dict."""
        return self.model.model_dump(mode="json")

    def to_dict(self) -> dict[str, Any]:
        """The resolved config in our sections layout (JSON-compatible)."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------------------------
# Checks


def cross_field_problems(cfg: Config) -> list[tuple[tuple[str, ...], Any, str]]:
    """Checks that involve more than one field: ``(loc, value, message)`` for each failure."""
    m, d, p, t = cfg.model, cfg.data, cfg.pretraining, cfg.tokenizer
    problems: list[tuple[tuple[str, ...], Any, str]] = []
    if d.max_seq_length > m.max_position_embeddings:
        problems.append((("data", "max_seq_length"), d.max_seq_length,
                         f"must not exceed model.max_position_embeddings = "
                         f"{m.max_position_embeddings} (the position embeddings cover only that "
                         f"many tokens)"))
    if m.hidden_size % m.num_attention_heads:
        problems.append((("model", "hidden_size"), m.hidden_size,
                         f"must be divisible by model.num_attention_heads = "
                         f"{m.num_attention_heads}"))
    if p.num_warmup_steps > p.num_train_steps:
        problems.append((("pretraining", "num_warmup_steps"), p.num_warmup_steps,
                         f"must not exceed pretraining.num_train_steps = {p.num_train_steps}"))
    if t.vocab_size is not None and t.vocab_size != m.vocab_size:
        problems.append((("tokenizer", "vocab_size"), t.vocab_size,
                         f"must equal model.vocab_size = {m.vocab_size} (Q5: the embedding table "
                         f"and the tokenizer must agree); leave it unset to use the model's"))
    problems.extend(_schedule_problems(cfg))
    if m.type_vocab_size < 2:
        problems.append((("model", "type_vocab_size"), m.type_vocab_size,
                         "must be at least 2: every instance uses segment ids 0 and 1"))
    return problems


def _schedule_problems(cfg: Config) -> list[tuple[tuple[str, ...], Any, str]]:
    """``sequence_bins`` and ``phases`` against the lengths and steps they refer to."""
    d, p, m = cfg.data, cfg.pretraining, cfg.model
    problems: list[tuple[tuple[str, ...], Any, str]] = []
    if p.sequence_bins and p.sequence_bins[-1] > d.max_seq_length:
        problems.append((("pretraining", "sequence_bins"), p.sequence_bins,
                         f"bin {p.sequence_bins[-1]} is above data.max_seq_length = "
                         f"{d.max_seq_length} (bins are lengths the data is cut to)"))
    for i, phase in enumerate(p.phases):
        loc = ("pretraining", "phases", str(i))
        last = i == len(p.phases) - 1
        if phase.fraction is not None and phase.steps is not None:
            problems.append((loc, phase.model_dump(), "give steps or fraction, not both"))
        elif phase.fraction is None and phase.steps is None and not last:
            problems.append((loc, phase.model_dump(), "give steps or fraction (only the last "
                             "phase may omit both: it runs to num_train_steps)"))
        length = phase.max_seq_length or d.max_seq_length
        if length > m.max_position_embeddings:
            problems.append((loc + ("max_seq_length",), length,
                             f"must not exceed model.max_position_embeddings = "
                             f"{m.max_position_embeddings}"))
        if phase.sequence_bins and phase.sequence_bins[-1] > length:
            problems.append((loc + ("sequence_bins",), phase.sequence_bins,
                             f"bin {phase.sequence_bins[-1]} is above the phase's "
                             f"max_seq_length = {length}"))
    if p.phases:
        ends = _phase_ends(p.phases, p.num_train_steps)
        if ends[-2] >= p.num_train_steps or any(a >= b for a, b in zip(ends, ends[1:])):
            problems.append((("pretraining", "phases"), [ph.model_dump() for ph in p.phases],
                             f"the phases before the last end at step {ends[-2]}: every phase "
                             f"needs at least one of the num_train_steps = {p.num_train_steps}"
                             " steps"))
        elif abs(ends[-1] - p.num_train_steps) > 1:
            problems.append((("pretraining", "phases"), [ph.model_dump() for ph in p.phases],
                             f"the phases add up to {ends[-1]} steps but num_train_steps is "
                             f"{p.num_train_steps}; leave the last phase's steps and fraction "
                             "unset to run it to the end"))
    return problems


def _phase_ends(phases: list[PhaseConfig], num_train_steps: int) -> list[int]:
    """Step 0, then the step each phase ends at as written (``fraction`` counted on the
    cumulative share, so 0.9 + 0.1 ends at num_train_steps exactly; the last phase without
    steps or fraction at num_train_steps)."""
    ends, share = [0], 0.0
    for phase in phases:
        if phase.fraction is not None:
            share += phase.fraction
            ends.append(round(share * num_train_steps))
        elif phase.steps is not None:
            ends.append(ends[-1] + phase.steps)
            share = ends[-1] / num_train_steps
        else:
            ends.append(num_train_steps)
    return ends


def phase_ranges(pretraining: PretrainingConfig) -> list[tuple[int, int]]:
    """``[start, end)`` steps of every phase (one phase over the whole run when ``phases`` is
    empty); the last phase always ends at ``num_train_steps``."""
    if not pretraining.phases:
        return [(0, pretraining.num_train_steps)]
    ends = _phase_ends(pretraining.phases, pretraining.num_train_steps)
    ends[-1] = pretraining.num_train_steps
    return list(zip(ends, ends[1:]))


# model field -> the only value the trainer builds
_TRAINER_ONLY_SUPPORTS = (
    ("net_structure_type", 0),
    ("gap_size", 0),
    ("num_memory_blocks", 0),
    ("down_scale_factor", 1),
)


def unsupported_settings(cfg: Config) -> list[str]:
    """Values the config accepts (they load from original files) but the trainer refuses: the
    original's experimental architecture variants, unused by every published model."""
    out = []
    for name, supported in _TRAINER_ONLY_SUPPORTS:
        value = getattr(cfg.model, name)
        if value != supported:
            out.append(f"model.{name} = {value}: accepted for compatibility, but the trainer "
                       f"builds only {name} = {supported} (every published ALBERT model)")
    m = cfg.model
    if m.num_hidden_groups > m.num_hidden_layers:
        out.append(f"model.num_hidden_groups = {m.num_hidden_groups}: more groups than "
                   f"num_hidden_layers = {m.num_hidden_layers}; the extra groups would never be "
                   f"used, and the trainer refuses this")
    return out


def check_vocab_size(config: Config, tokenizer_vocab_size: int) -> None:
    """Raises :class:`ConfigError` unless the tokenizer's piece count (``tokenizer_vocab_size``)
    equals ``model.vocab_size`` and, when set, ``tokenizer.vocab_size`` (Q5: the original
    tutorial trains a vocabulary 3 pieces smaller than the embedding table)."""
    problems = []
    if config.model.vocab_size != tokenizer_vocab_size:
        problems.append(f"model.vocab_size = {config.model.vocab_size} but the tokenizer has "
                        f"{tokenizer_vocab_size} pieces")
    if config.tokenizer.vocab_size is not None and config.tokenizer.vocab_size != tokenizer_vocab_size:
        problems.append(f"tokenizer.vocab_size = {config.tokenizer.vocab_size} but the tokenizer "
                        f"has {tokenizer_vocab_size} pieces")
    if problems:
        raise ConfigError(
            f"{config.source}: {'; '.join(problems)}. The model's vocabulary and the tokenizer's "
            f"must agree (Q5): set model.vocab_size to {tokenizer_vocab_size} or train the "
            f"tokenizer with vocab_size {config.model.vocab_size}")


# --------------------------------------------------------------------------------------------
# Reading files


@functools.cache
def _unique_key_loader() -> type:
    """A SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last).
    Made on first use: a run without a YAML file never imports yaml (start-up)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", mark)
            seen[key] = True
        return loader.construct_mapping(node, deep=deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_unique_mapping)
    return UniqueKeyLoader


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} is given twice")
        out[key] = value
    return out


#: The presets shipped with the package (``configs/`` in a checkout links here).
PRESET_DIR = Path(__file__).resolve().parent / "configs"


def presets() -> dict[str, Path]:
    """The shipped presets by name (``albert_base``, ``tiny``, ...), in name order."""
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.yaml"))}


def preset_description(path: Path) -> str:
    """The first sentence of a preset's leading comment (what it is)."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words += line.lstrip("#").split()
        text = " ".join(words)
        if ". " in text or text.endswith("."):
            return text.split(". ", 1)[0].rstrip(".") + "."
    return " ".join(words)


def resolve_config_path(path: str | os.PathLike) -> Path:
    """A config file path, or the name of a shipped preset (``albert_base``,
    ``albert_base.yaml``) when no such file exists: ``--config albert_base`` works from any
    directory. An existing file always wins."""
    p = Path(path)
    if p.exists() or p.parent != Path("."):
        return p
    name = p.stem if p.suffix in (".yaml", ".yml") else p.name
    return presets().get(name, p)


def read_config_file(path: str | Path) -> Any:
    """Parses a YAML or JSON file (``.json`` as JSON, anything else as YAML, which also reads
    JSON), or a shipped preset by name (:func:`resolve_config_path`), into plain Python data;
    every failure is a :class:`ConfigError` naming the file."""
    path = resolve_config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = ""
        if path.parent == Path("."):
            hint = (f" (nor a preset: {', '.join(presets())}; `albert-fast config list`)"
                    f"{_did_you_mean(path.stem, presets())}")
        raise ConfigError(f"{path}: config file not found{hint}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); is this a config file?") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror or err}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_json_pairs)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: "
                              f"{err.msg}") from None
        except ValueError as err:
            raise ConfigError(f"{path}: invalid JSON: {err}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None


# --------------------------------------------------------------------------------------------
# Layouts


@dataclass
class _Resolved:
    """A raw config brought to the sections layout, plus how each value was written."""

    sections: dict[str, dict[str, Any]] = field(default_factory=lambda: {s: {} for s in SECTIONS})
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    layout: str = "sections"

    def put(self, section: str, name: str, value: Any, origin: str) -> None:
        earlier = self.origins.get((section, name))
        if earlier is not None and name in self.sections[section]:
            self.problems.append(f"{section}.{name} is given twice (as {earlier} and as {origin})")
            return
        self.sections[section][name] = value
        self.origins[(section, name)] = origin


def _did_you_mean(key: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(candidates), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _section_home(key: str) -> str:
    """A hint when a key belongs to another section."""
    homes = [s for s, cls in SECTION_MODELS.items() if key in cls.model_fields]
    if key in FLAT_NAMES and not homes:
        homes = [FLAT_NAMES[key][0]]
    return f" (it belongs in section {' or '.join(repr(h) for h in homes)})" if homes else ""


def _put_section(res: _Resolved, section: str, block: Any, prefix: str) -> None:
    if block is None:
        return
    if not isinstance(block, Mapping):
        res.problems.append(f"{prefix} must be a mapping of settings, not {_fmt(block)}")
        return
    fields = SECTION_MODELS[section].model_fields
    for key, value in block.items():
        name = str(key)
        if name in fields:
            res.put(section, name, value, f"{prefix}.{name}")
            continue
        alias = next((f for (s, f), al in FIELD_ALIASES.items() if s == section and name in al), None)
        if alias is not None:
            res.put(section, alias, value, f"{prefix}.{name}")
            continue
        hint = _did_you_mean(name, fields) or _section_home(name)
        res.problems.append(f"{prefix}.{name}: unknown setting in section {section!r}{hint}")


def resolve_layout(raw: Any, base_dir: Path | None = None) -> _Resolved:
    """Brings any of the three layouts (mixed freely) to the sections layout, collecting notes
    and problems instead of raising."""
    res = _Resolved()
    if raw is None:
        res.layout = "empty"
        return res
    if not isinstance(raw, Mapping):
        res.problems.append(f"the top level must be a mapping of settings, not {_fmt(raw)}")
        return res
    kinds = set()
    for key, value in raw.items():
        name = str(key)
        if name in SECTIONS:
            kinds.add("sections")
            if name == "cluster" and isinstance(value, str):
                value = {"address": value}  # `cluster: local:4`, the short form
            _put_section(res, name, value, name)
        elif name == "albert_config":
            kinds.add("albert_config")
            _put_section(res, "model", value, "albert_config")
        elif name == "albert_config_file":
            kinds.add("flat")
            _load_albert_config_file(res, value, base_dir)
        elif name in FLAT_NAMES:
            section, target = FLAT_NAMES[name]
            kinds.add("model-flat" if section == "model" else "flat")
            res.put(section, target, value, name)
        elif name == "run":
            # The `albert-fast run` section (paths, stage options): the run config is also the
            # config of every stage, so the other verbs read the same file and skip it.
            res.notes.append("run: the section of `albert-fast run` (docs/run.md); ignored here")
        elif name in TOOL_ONLY_KEYS:
            kinds.add("flat")
            res.notes.append(f"{name}: {TOOL_ONLY_KEYS[name]}")
        else:
            candidates = [*SECTIONS, "albert_config", *FLAT_NAMES, *TOOL_ONLY_KEYS]
            res.problems.append(f"{name}: unknown setting{_did_you_mean(name, candidates)}")
    res.layout = _layout_name(kinds)
    if res.layout in ("tutorial", "mixed") and not res.sections["text"].get("strip_accents"):
        res.notes.append("text.strip_accents is false: accents are kept, unlike the original "
                         "tools, which always strip them (Q1); set strip_accents: true to match")
    return res


def _layout_name(kinds: set[str]) -> str:
    if not kinds:
        return "empty"
    if kinds == {"sections"}:
        return "sections"
    if kinds == {"model-flat"}:
        return "albert_config.json"
    if "sections" not in kinds:
        return "tutorial"
    return "mixed"


def _load_albert_config_file(res: _Resolved, value: Any, base_dir: Path | None) -> None:
    """``albert_config_file`` (run_pretraining.py's flag) names the architecture file: load it,
    relative to the config file's directory."""
    if not isinstance(value, str) or not value:
        res.problems.append(f"albert_config_file = {_fmt(value)}: must be the path of an "
                            f"albert_config.json")
        return
    path = Path(value)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        block = read_config_file(path)
    except ConfigError as err:
        res.problems.append(f"albert_config_file = {_fmt(value)}: {err}")
        return
    _put_section(res, "model", block, f"albert_config_file({value})")


# --------------------------------------------------------------------------------------------
# Building


def _fmt(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def format_validation_error(err: ValidationError,
                            origins: Mapping[tuple[str, str], str] | None = None) -> list[str]:
    """One line per pydantic error: ``field.path = value: message``, plus how the user wrote the
    key when that differs from the field path."""
    lines = []
    for e in err.errors(include_url=False):
        loc = tuple(e.get("loc", ()))
        path = _loc_text(loc)
        written = (origins or {}).get(tuple(loc[:2])) if len(loc) >= 2 else None
        label = f"{path} (given as {written})" if written and written != path else path
        msg = e.get("msg", "invalid")
        if e.get("type") == "value_error" and msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        lines.append(f"{label} = {_fmt(e.get('input'))}: {msg}" if loc else msg)
    return lines


def _problems_error(source: str, problems: list[str]) -> ConfigError:
    if len(problems) == 1:
        return ConfigError(f"{source}: {problems[0]}")
    body = "\n".join(f"  - {p}" for p in problems)
    return ConfigError(f"{source}: {len(problems)} problems:\n{body}")


def diagnose(raw: Any, *, source: str = "<dict>", base_dir: Path | None = None,
             overrides: Mapping[str, Any] | None = None,
             override_origins: Mapping[str, str] | None = None,
             ) -> tuple[Optional[Config], list[str], list[str]]:
    """Validates without raising: ``(config or None, problems, notes)``. ``overrides`` maps
    ``section.field`` to a value applied on top of the file (command-line flags);
    ``override_origins`` maps the same keys to how the user gave them (``--max_seq_length``)."""
    res = resolve_layout(raw, base_dir)
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        if section not in SECTION_MODELS or name not in SECTION_MODELS[section].model_fields:
            all_paths = [f"{s}.{f}" for s, c in SECTION_MODELS.items() for f in c.model_fields]
            res.problems.append(f"{key}: unknown setting{_did_you_mean(key, all_paths)}")
            continue
        res.sections[section][name] = value
        res.origins[(section, name)] = (override_origins or {}).get(key, f"override {key}")
    try:
        cfg = Config.model_validate(res.sections)
    except ValidationError as err:
        return None, res.problems + format_validation_error(err, res.origins), res.notes
    if res.problems:
        return None, res.problems, res.notes
    cfg._source = source
    cfg._layout = res.layout
    cfg._notes = list(res.notes)
    return cfg, [], res.notes


def config_from_dict(raw: Any, *, source: str = "<dict>",
                     overrides: Mapping[str, Any] | None = None,
                     base_dir: Path | None = None) -> Config:
    """Builds a :class:`Config` from already-parsed data in any layout; raises
    :class:`ConfigError` listing every problem."""
    cfg, problems, _ = diagnose(raw, source=source, overrides=overrides, base_dir=base_dir)
    if cfg is None:
        raise _problems_error(source, problems)
    return cfg


def load_config(path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None,
                override_origins: Mapping[str, str] | None = None) -> Config:
    """Loads a YAML or JSON config in any layout (``None``: the defaults), applies
    ``overrides`` (``{"data.max_seq_length": 128}``) and validates; raises
    :class:`ConfigError` naming the file, each field path and value at fault."""
    if path is None:
        raw, source, base_dir = None, "<defaults>", None
    else:
        path = resolve_config_path(path)
        raw, source, base_dir = read_config_file(path), str(path), path.parent
    cfg, problems, _ = diagnose(raw, source=source, base_dir=base_dir, overrides=overrides,
                                override_origins=override_origins)
    if cfg is None:
        raise _problems_error(source, problems)
    return cfg


def as_config(config: "Config | str | Path | Mapping[str, Any] | None",
              overrides: Mapping[str, Any] | None = None) -> Config:
    """The one way every stage accepts its ``config`` argument: a :class:`Config`, a config file
    path, an already-parsed dict (any layout) or ``None`` (the defaults), with ``overrides``
    (``{"data.max_seq_length": 128}``) applied and validated. Raises :class:`ConfigError`."""
    if isinstance(config, Config):
        if not overrides:
            return config
        return config_from_dict(config.to_dict(), source=config.source, overrides=overrides)
    if config is None or isinstance(config, (str, os.PathLike)):
        return load_config(config, overrides=overrides)
    if isinstance(config, Mapping):
        return config_from_dict(dict(config), overrides=overrides)
    raise TypeError(f"config must be a Config, a config file path or a dict, not {type(config).__name__}")


def dump_config(cfg: Config, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """The resolved config as YAML or JSON text (sections layout; loads back unchanged)."""
    data = cfg.to_dict()
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
