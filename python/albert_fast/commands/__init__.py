"""One module per ``albert-fast`` verb; see :mod:`albert_fast.cli`."""
