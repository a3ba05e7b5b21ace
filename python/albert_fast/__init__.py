"""albert_fast: fast, faithful ALBERT pretraining.

A Rust core does the heavy preprocessing (sentence splitting, SentencePiece encoding, MLM + SOP
instance creation, TFRecord writing) in parallel and streaming; thin Python on top holds the
config, the ``albert-fast`` CLI, a Keras 3 trainer and Hugging Face export.
"""

import gc as _gc

# Importing pydantic and building the config models allocates some 100k objects and frees
# almost none: the cyclic collector's passes over them were ~8% of the import (start-up of
# every command). Collection resumes, as it was, once the package is imported.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from albert_fast._core import __version__
    from albert_fast.errors import AlbertFastError, ConfigError, InputError, ModelError
    from albert_fast.config import Config, load_config
    from albert_fast.tokenizer import Tokenizer
    from albert_fast.train_tokenizer import train_tokenizer
    from albert_fast.create_data import create_pretraining_data
    from albert_fast.prepare_corpus import prepare_corpus
finally:
    if _collecting:
        _gc.enable()
    del _collecting

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
