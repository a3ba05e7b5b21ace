"""One validated config for every stage: architecture, text normalization, tokenizer, data
creation and pretraining.

Field names are those of the original google-research/albert tools (``albert_config`` fields,
``create_pretraining_data.py`` and ``run_pretraining.py`` flags) so that users can carry their
settings over unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field

# The tutorial's --user_defined_symbols for SentencePiece training.
DEFAULT_USER_DEFINED_SYMBOLS = ["(", ")", '"', "-", ".", "–", "£", "€"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    """The ``albert_config`` block; defaults are ALBERT-base v2."""

    vocab_size: int = Field(30000, gt=5)
    embedding_size: int = Field(128, gt=0)
    hidden_size: int = Field(768, gt=0)
    num_hidden_layers: int = Field(12, gt=0)
    num_hidden_groups: int = Field(1, gt=0)
    num_attention_heads: int = Field(12, gt=0)
    intermediate_size: int = Field(3072, gt=0)
    inner_group_num: int = Field(1, gt=0)
    down_scale_factor: int = Field(1, gt=0)
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = Field(0.0, ge=0.0, lt=1.0)
    attention_probs_dropout_prob: float = Field(0.0, ge=0.0, lt=1.0)
    max_position_embeddings: int = Field(512, gt=0)
    type_vocab_size: int = Field(2, gt=0)
    initializer_range: float = Field(0.02, gt=0.0)
    net_structure_type: int = Field(0, ge=0)
    gap_size: int = Field(0, ge=0)
    num_memory_blocks: int = Field(0, ge=0)


class TextConfig(_Section):
    """The one text normalization, applied identically when the tokenizer is trained, when data
    is created and in the exported Hugging Face tokenizer (quirk Q1)."""

    lowercase: bool = True
    strip_accents: bool = False


class TokenizerConfig(_Section):
    """SentencePiece training. ``vocab_size`` counts every piece, specials included; ``None``
    means "the model's vocab_size" (quirk Q5: the two must agree)."""

    vocab_size: Optional[int] = Field(None, gt=5)
    model_type: Literal["unigram", "bpe", "char", "word"] = "unigram"
    character_coverage: float = Field(0.99995, gt=0.0, le=1.0)
    input_sentence_size: int = Field(10_000_000, gt=0)
    shuffle: bool = True
    user_defined_symbols: list[str] = Field(default_factory=lambda: list(DEFAULT_USER_DEFINED_SYMBOLS))


class DataConfig(_Section):
    """``create_pretraining_data.py`` flags, defaults as in the original tool."""

    max_seq_length: int = Field(512, ge=8)
    max_predictions_per_seq: int = Field(20, ge=1)
    random_seed: int = 12345
    dupe_factor: int = Field(40, ge=1)
    masked_lm_prob: float = 0.15
    short_seq_prob: float = Field(0.1, ge=0.0, le=1.0)
    do_permutation: bool = False
    random_next_sentence: bool = False
    do_whole_word_mask: bool = True
    favor_shorter_ngram: bool = True
    ngram: int = 3
    reference_compat: bool = False


class PretrainingConfig(_Section):
    """``run_pretraining.py`` flags, defaults as in the ALBERT paper's recipe."""

    optimizer: Literal["lamb", "adamw"] = "lamb"
    learning_rate: float = Field(0.00176, gt=0.0)
    poly_power: float = Field(1.0, gt=0.0)
    num_train_steps: int = Field(125_000, gt=0)
    num_warmup_steps: int = Field(3125, ge=0)
    save_checkpoints_steps: int = Field(5000, gt=0)
    keep_checkpoint_max: int = Field(5, gt=0)
    train_batch_size: int = Field(4096, gt=0)
    eval_batch_size: int = Field(64, gt=0)
    max_eval_steps: int = Field(100, gt=0)
    iterations_per_loop: int = Field(1000, gt=0)
    init_checkpoint: Optional[str] = None
    # Fields beyond run_pretraining.py's flags (albert_fast's trainer).
    start_warmup_step: int = Field(0, ge=0, description="Step at which the warm-up starts.")
    init_from_group0: bool = Field(
        False, description="Copy layer group 0's weights from init_checkpoint into every group.")
    weight_decay_rate: float = Field(
        0.01, ge=0.0, description="Weight decay of LAMB/AdamW (LayerNorm and bias excluded).")
    gradient_accumulation_steps: int = Field(
        1, ge=1, description="Micro-batches per optimizer update (train_batch_size is split).")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="Compute precision: fp32, or mixed bf16/fp16 (fp16 scales the loss).")
    random_seed: Optional[int] = Field(
        12345, description="Seed of weight initialization, dropout and input shuffling.")


class Config(_Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    pretraining: PretrainingConfig = Field(default_factory=PretrainingConfig)


def load_config(path: str | Path) -> Config:
    """Loads a YAML or JSON config file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    raw: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return Config.model_validate(raw or {})
