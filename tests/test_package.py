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


# -- packaging: presets, py.typed, --version, completion, warnings, pipes ------------------------

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from data_fixtures import corpus_dir, spm_dir  # noqa: E402,F401 (fixtures)

PRESETS = ("albert_base", "albert_large", "albert_xlarge", "albert_xxlarge", "tiny", "demo",
           "tutorial")
REPO = Path(__file__).resolve().parent.parent


def test_version_flag():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"albert-fast {albert_fast.__version__}"


def test_presets_by_name_from_any_directory(tmp_path):
    listed = run_cli("config", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()[:len(PRESETS)]]
    assert sorted(names) == sorted(PRESETS)
    assert "ALBERT-base v2" in listed.stdout
    hidden = {"albert_base": 768, "albert_large": 1024, "albert_xlarge": 2048,
              "albert_xxlarge": 4096, "tiny": 64, "demo": 64, "tutorial": 1024}
    for name in PRESETS:
        for spelled in (name, f"{name}.yaml"):
            out = run_cli("config", "show", spelled, "--format", "json", cwd=tmp_path)
            assert out.returncode == 0, (spelled, out.stderr)
            assert json.loads(out.stdout)["model"]["hidden_size"] == hidden[name]
    # A file of that name in the current directory wins over the preset.
    (tmp_path / "tiny.yaml").write_text("model: {hidden_size: 96, num_attention_heads: 2}\n")
    out = run_cli("config", "show", "tiny.yaml", "--format", "json", cwd=tmp_path)
    assert json.loads(out.stdout)["model"]["hidden_size"] == 96
    out = run_cli("config", "validate", "albert_bsae", cwd=tmp_path)
    assert out.returncode == 2 and "did you mean 'albert_base'" in out.stderr


def test_presets_live_in_the_package_and_configs_links_there():
    from albert_fast.config import PRESET_DIR, presets

    assert PRESET_DIR == Path(albert_fast.__file__).resolve().parent / "configs"
    assert sorted(presets()) == sorted(PRESETS)
    assert (REPO / "configs").resolve() == PRESET_DIR
    assert (Path(albert_fast.__file__).parent / "py.typed").is_file()


def test_shell_completion(tmp_path):
    script = run_cli("completion", "bash")
    assert script.returncode == 0 and "albert-fast" in script.stdout and "complete" in script.stdout

    def complete(line: str) -> list[str]:
        out = tmp_path / "completions"
        env = dict(os.environ, _ARGCOMPLETE="1", _ARGCOMPLETE_IFS="\n", COMP_LINE=line,
                   COMP_POINT=str(len(line)), _ARGCOMPLETE_STDOUT_FILENAME=str(out),
                   COMP_TYPE="9")
        proc = subprocess.run([sys.executable, "-m", "albert_fast"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return out.read_text().split("\n")

    assert {"prepare-corpus", "pretrain"} <= set(complete("albert-fast pre"))
    flags = set(complete("albert-fast pretrain --do_"))
    assert {"--do_train", "--do_eval", "--do_whole_word_mask"} <= flags
    assert "--dupe_factor" not in set(complete("albert-fast pretrain --dup"))


@pytest.mark.parametrize("args", [("config", "show"), ("pretrain", "--help"), ("config", "list"),
                                  ("--help",)])
def test_closed_pipe_is_silent(args):
    """`albert-fast ... | head`: no BrokenPipeError traceback or error message."""
    proc = subprocess.Popen([sys.executable, "-m", "albert_fast", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert proc.returncode == 0 and err == "", err


def test_warnings_are_one_plain_line(tmp_path, spm_dir):  # noqa: F811
    text = "\n\n".join(f"This is document number {i} with one sentence only." for i in range(50))
    (tmp_path / "one.txt").write_text(text + "\n")
    proc = run_cli("create-data", str(tmp_path / "one.txt"), "--tokenizer", str(spm_dir), "-o",
                   str(tmp_path / "out"), "--max_seq_length", "64", "--dupe_factor", "1",
                   "--no-progress")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning:" in line.lower()]
    assert warnings and all(w.startswith("albert-fast create-data: warning: ") for w in warnings)
    assert "single sentence" in warnings[0]
    assert "warnings.warn" not in proc.stderr and "UserWarning" not in proc.stderr


@pytest.mark.slow
def test_wheel_carries_presets_and_py_typed(tmp_path):
    """`pip wheel .` (maturin) and the wheel installed into a fresh venv (its dependencies from
    the test environment's site-packages): the presets, py.typed and the entry point work from
    any directory."""
    import sysconfig
    import zipfile

    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
                            "--no-build-isolation", "-w", str(wheels), "-q"],
                           capture_output=True, text=True, timeout=1500)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob("albert_fast-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for preset in PRESETS:
        assert f"albert_fast/configs/{preset}.yaml" in names
    assert "albert_fast/py.typed" in names and not any(n.startswith("configs/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies come from this environment, after the venv's own packages.
    Path(site, "zz_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cli = venv / "bin" / "albert-fast"
    where = subprocess.run([str(py), "-c", "import albert_fast, pathlib; "
                            "p = pathlib.Path(albert_fast.__file__).parent; "
                            "print(p, (p / 'py.typed').is_file())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    package, typed = where.stdout.split()
    assert package.startswith(site) and typed == "True"
    for args in (["--version"], ["config", "list"], ["config", "show", "albert_base"],
                 ["config", "validate", "tutorial"]):
        proc = subprocess.run([str(cli), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
    assert "albert_xxlarge" in subprocess.run([str(cli), "config", "list"], cwd=tmp_path, env=env,
                                              capture_output=True, text=True).stdout
