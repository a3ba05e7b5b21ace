"""albert_fast: fast, faithful ALBERT pretraining.

A Rust core does the heavy preprocessing (sentence splitting, SentencePiece encoding, MLM + SOP
instance creation, TFRecord writing) in parallel and streaming; thin Python on top holds the
config, the ``albert-fast`` CLI, a Keras 3 trainer and Hugging Face export.
"""

from albert_fast._core import __version__
from albert_fast.errors import AlbertFastError, ConfigError, InputError, ModelError
from albert_fast.config import Config, load_config
from albert_fast.tokenizer import Tokenizer
from albert_fast.train_tokenizer import train_tokenizer
from albert_fast.create_data import create_pretraining_data
from albert_fast.prepare_corpus import prepare_corpus

__all__ = [
    "__version__",
    "AlbertFastError",
    "ConfigError",
    "InputError",
    "ModelError",
    "Config",
    "load_config",
    "Tokenizer",
    "train_tokenizer",
    "create_pretraining_data",
    "prepare_corpus",
]
