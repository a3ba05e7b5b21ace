from conftest import run_cli

import albert_fast


def test_version_and_error_hierarchy():
    assert albert_fast.__version__
    assert issubclass(albert_fast.InputError, albert_fast.AlbertFastError)
    assert issubclass(albert_fast.ConfigError, albert_fast.AlbertFastError)


def test_cli_help_lists_the_pipeline():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "create-data" in out.stdout and "config" in out.stdout


def test_cli_missing_config_is_a_clear_error():
    out = run_cli("config", "validate", "/no/such/config.yaml")
    assert out.returncode == 2
    assert "/no/such/config.yaml" in out.stderr
    assert "Traceback" not in out.stderr
