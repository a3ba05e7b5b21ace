"""The exceptions albert_fast raises. They are defined in the Rust extension so that errors from
the core and from Python share one hierarchy; this module is their one public home."""

from albert_fast._core import AlbertFastError, ConfigError, InputError, ModelError

__all__ = ["AlbertFastError", "ConfigError", "InputError", "ModelError"]
