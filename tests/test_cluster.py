"""The data verbs on Dask (docs/cluster.md): a real `dask scheduler` and two `dask worker`
processes (one thread each) on 127.0.0.1, started here. prepare-corpus, train-tokenizer's sample
and create-data give the same bytes as the single-process run, through the scheduler and on
`local:2`; a worker killed mid-run and a killed driver change nothing; bad input, an unreachable
scheduler and missing Dask are clear errors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import run_cli
from data_fixtures import corpus_dir, punkt_dir, spm_dir, write_corpus  # noqa: F401 (fixtures)

from albert_fast.cluster import ClusterError, DaskExecutor, ThreadExecutor, run_tasks
from albert_fast.create_data import create_pretraining_data
from albert_fast.prepare_corpus import prepare_corpus, train_punkt
from albert_fast.train_tokenizer import train_tokenizer

DASK = str(Path(sys.executable).parent / "dask")
DATA = {"data": {"max_seq_length": 128, "dupe_factor": 2}, "model": {"vocab_size": 4000}}
SHARD = 64 << 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskCluster:
    """A scheduler and two one-thread workers (no nanny: a worker's PID is the worker)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.scheduler = self._spawn("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port",
                                                   str(port), "--no-dashboard"])
        self.workers = [self.spawn_worker(i) for i in range(2)]
        self.wait_for_workers(2)

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        return subprocess.Popen(cmd, stdout=log, stderr=log, cwd=self.log_dir)

    def spawn_worker(self, i: int) -> subprocess.Popen:
        return self._spawn(f"worker{i}", [DASK, "worker", self.address, "--nthreads", "1", "--no-nanny",
                                          "--no-dashboard", "--memory-limit", "0", "--name", f"w{i}-{time.time()}"])

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(n, timeout=120)

    def respawn_dead(self) -> None:
        for i, w in enumerate(self.workers):
            if w.poll() is not None:
                self.workers[i] = self.spawn_worker(i)
        self.wait_for_workers(2)

    def close(self) -> None:
        for p in [*self.workers, self.scheduler]:
            p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def lit_corpus(tmp_path_factory, literature_dir) -> Path:
    """The shared literature (7.8 MB) in the reference format: ~120 create-data shards."""
    d = tmp_path_factory.mktemp("lit")
    write_corpus(sorted(literature_dir.glob("*.txt")), d)
    return d


@pytest.fixture(scope="module")
def local_data(tmp_path_factory, lit_corpus, spm_dir) -> Path:
    out = tmp_path_factory.mktemp("cd") / "local"
    create_pretraining_data(lit_corpus, spm_dir, out, config=DATA, shard_size_bytes=SHARD, eval_fraction=0.05)
    return out


def files_of(d: Path, pattern: str = "*") -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.glob(pattern)) if p.is_file()}


def same_data(a: Path, b: Path) -> None:
    fa, fb = files_of(a, "*.tfrecord"), files_of(b, "*.tfrecord")
    assert len(fa) > 100 and fa == fb
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma == mb
    assert not [p.name for p in b.rglob("*") if ".tmp-" in p.name], "no temporary file is left"


def test_create_data_through_a_scheduler_and_on_local2_is_byte_identical(dask_cluster, local_data, lit_corpus,
                                                                         spm_dir, tmp_path):
    for cluster in (dask_cluster.address, "local:2"):
        out = tmp_path / cluster.replace("/", "_").replace(":", "_")
        summary = create_pretraining_data(lit_corpus, spm_dir, out, config=DATA, shard_size_bytes=SHARD,
                                          eval_fraction=0.05, cluster=cluster)
        same_data(local_data, out)
        assert summary["resumed_files"] == 0


def run_killing_a_worker(dask_cluster: DaskCluster, call, done) -> tuple:
    """``call()`` on a thread; as soon as ``done()`` (outputs finished) is above 0, the first
    worker is killed (SIGKILL, by its PID). Returns ``call()``'s result and ``done()`` at the
    kill; the worker is started again afterwards."""
    box: dict = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as err:  # re-raised below
            box["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not done() and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.005)
        done_at_kill = done()
        os.kill(dask_cluster.workers[0].pid, signal.SIGKILL)
        thread.join(300)
        if "error" in box:
            raise box["error"]
        return box["result"], done_at_kill
    finally:
        thread.join(300)
        dask_cluster.respawn_dead()


@pytest.mark.slow
def test_a_worker_killed_mid_run_changes_nothing(dask_cluster, local_data, lit_corpus, spm_dir, tmp_path):
    out = tmp_path / "out"
    _, done_at_kill = run_killing_a_worker(
        dask_cluster, lambda: create_pretraining_data(lit_corpus, spm_dir, out, config=DATA, shard_size_bytes=SHARD,
                                                      eval_fraction=0.05, cluster=dask_cluster.address),
        lambda: len(list(out.glob(".progress/*.done"))))
    assert 0 < done_at_kill < len(files_of(local_data, "*.tfrecord")), "killed mid-run"
    same_data(local_data, out)


@pytest.mark.slow
def test_a_killed_driver_is_resumed_by_a_rerun(dask_cluster, local_data, lit_corpus, spm_dir, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(dict(DATA, cluster=dask_cluster.address)))
    out = tmp_path / "out"
    args = ["create-data", str(lit_corpus), "--tokenizer", str(spm_dir), "-o", str(out), "--config", str(cfg),
            "--shard-size-mb", str(SHARD / (1 << 20)), "--eval-fraction", "0.05", "--no-progress"]
    driver = subprocess.Popen([sys.executable, "-m", "albert_fast", *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob(".progress/*.done")) and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.01)
    driver.kill()
    driver.wait()
    assert not (out / "manifest.json").exists(), "killed before the end"
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    resumed = int(rerun.stderr.split(" resumed)")[0].rsplit("(", 1)[1])
    assert resumed > 0, rerun.stderr
    same_data(local_data, out)


def test_bad_input_in_one_shard_is_the_local_error(dask_cluster, lit_corpus, spm_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for i, f in enumerate(sorted(lit_corpus.glob("*.txt"))[:4]):
        (bad / f.name).write_bytes(f.read_bytes())
        if i == 2:  # one line of ~4000 tokens in the middle of the third file
            with open(bad / f.name, "a", encoding="utf-8") as fh:
                fh.write("\n" + " ".join(f"word{k}" for k in range(2000)) + "\n")
    common = [str(bad), "--tokenizer", str(spm_dir), "--max_seq_length", "128", "--dupe_factor", "2",
              "--shard-size-mb", "0.0625", "--no-progress"]
    local = run_cli("create-data", *common, "-o", str(tmp_path / "local"))
    remote = run_cli("create-data", *common, "-o", str(tmp_path / "cluster"), "--cluster", dask_cluster.address)
    assert local.returncode == remote.returncode == 2
    line = [ln for ln in local.stderr.splitlines() if "error:" in ln]
    assert line and "far longer than max_seq_length" in line[0] and str(bad) in line[0], local.stderr
    assert [ln for ln in remote.stderr.splitlines() if "error:" in ln] == line
    assert "Traceback" not in remote.stderr
    out = tmp_path / "cluster"
    assert not (out / "manifest.json").exists()
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    # What is there is complete: every shard file has its marker (a re-run keeps it).
    assert {p.name for p in out.glob("*.tfrecord")} == {p.name[:-5] for p in out.glob(".progress/*.done")}


def test_prepare_corpus_through_a_scheduler_and_on_local2_is_byte_identical(dask_cluster, literature_dir,
                                                                            examples_dir, tmp_path):
    punkt = tmp_path / "punkt"
    train_punkt((examples_dir / "en-twain4.txt").read_text(encoding="utf-8"), punkt)
    inputs = [literature_dir / n for n in ("en-twain1.txt", "de-HMann1.txt", "fr-Verne-2ans.txt")]
    inputs.append(examples_dir / "en-twain4.txt")
    dup = tmp_path / "dup.txt"  # whole documents that repeat ones of other files: global de-duplication
    dup.write_text((examples_dir / "en-twain4.txt").read_text(encoding="utf-8")[:20000] + "\n\nA new document.\n")
    inputs.append(dup)
    # Blank-line documents (paragraphs): many repeat across files; the literature files' layouts
    # bring layout warnings into stats.json.
    kw = dict(punkt_params=str(punkt), shard_size_mb=0.1, doc_boundary="blank-line")
    local = prepare_corpus(inputs, tmp_path / "local", **kw)
    assert len(local["shards"]) > 10 and local["dropped"]["duplicate_documents"] > 10
    for cluster in (dask_cluster.address, "local:2"):
        out = tmp_path / cluster.replace("/", "_").replace(":", "_")
        stats = prepare_corpus(inputs, out, cluster=cluster, **kw)
        assert files_of(out, "corpus-*.txt") == files_of(tmp_path / "local", "corpus-*.txt")
        assert {k: v for k, v in stats.items() if k != "output"} == {k: v for k, v in local.items() if k != "output"}
        written = json.loads((out / "stats.json").read_text())
        assert written == dict(stats, output=written["output"])
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith("corpus-")) == [
            ".prepare-state.json", "stats.json"]
        again = prepare_corpus(inputs, out, cluster=cluster, **kw)
        assert again["resumed"] == "already complete"


@pytest.mark.slow
def test_prepare_corpus_with_a_worker_killed_mid_run_changes_nothing(dask_cluster, literature_dir, examples_dir,
                                                                    tmp_path):
    punkt = tmp_path / "punkt"
    train_punkt((examples_dir / "en-twain4.txt").read_text(encoding="utf-8"), punkt)
    inputs = sorted(literature_dir.glob("*.txt"))
    kw = dict(punkt_params=str(punkt), shard_size_mb=0.05, doc_boundary="blank-line")
    local = prepare_corpus(inputs, tmp_path / "local", **kw)
    expected = files_of(tmp_path / "local", "corpus-*.txt")
    out = tmp_path / "out"
    stats, done_at_kill = run_killing_a_worker(
        dask_cluster, lambda: prepare_corpus(inputs, out, cluster=dask_cluster.address, **kw),
        lambda: len(list(out.glob("corpus-*.txt"))))
    assert 0 < done_at_kill < len(expected), "killed mid-run"
    assert files_of(out, "corpus-*.txt") == expected
    # (the task of the killed worker, run again, keeps the shards it had finished: resumed)
    same = lambda stats: {k: v for k, v in stats.items() if k not in ("output", "resumed_shards")}  # noqa: E731
    assert same(stats) == same(local)


def test_prepare_corpus_bad_input_on_a_cluster_is_the_local_error_and_leaves_nothing(dask_cluster, literature_dir,
                                                                                      punkt_dir, tmp_path):
    """A binary file (found before any task, as the local run finds it) and a compressed file cut
    short (found inside its index task, the heads all read fine): the local run's message,
    exit 2, and nothing left behind."""
    import gzip

    whole = gzip.compress((literature_dir / "en-twain1.txt").read_bytes())
    for name, data in (("a.bin", b"\x00\x01binary"), ("a.txt.gz", whole[: len(whole) // 2])):
        bad = tmp_path / name / "in"
        bad.mkdir(parents=True)
        (bad / name).write_bytes(data)
        (bad / "b.txt").write_bytes((literature_dir / "fr-Verne-2ans.txt").read_bytes())
        common = [str(bad), "--punkt-params", str(punkt_dir), "--no-progress"]
        local = run_cli("prepare-corpus", *common, "-o", str(tmp_path / name / "local"))
        out = tmp_path / name / "cluster"
        remote = run_cli("prepare-corpus", *common, "-o", str(out), "--cluster", dask_cluster.address)
        assert local.returncode == remote.returncode == 2, (local.stderr, remote.stderr)
        line = [ln for ln in local.stderr.splitlines() if "error:" in ln]
        assert line and str(bad / name) in line[0], local.stderr
        assert [ln for ln in remote.stderr.splitlines() if "error:" in ln] == line
        assert "Traceback" not in remote.stderr
        time.sleep(1)  # b.txt's index task, if it was running, has ended
        assert not out.exists() or not list(out.rglob("*")), sorted(out.rglob("*"))


def test_prepare_corpus_planned_run_reads_once_releases_its_staging_and_resumes(literature_dir, examples_dir,
                                                                                 tmp_path, monkeypatch):
    """The planned path (on threads here, as for an output in a bucket) reads, cleans and splits each
    input once (the shard step copies staged text); a staged text goes as soon as its shards are
    built; a run stopped mid-way resumes from its staging area without reading the inputs again,
    and a shard lost after its text was released is rebuilt from a restaged text."""
    import importlib

    module = importlib.import_module("albert_fast.prepare_corpus")
    cluster_module = importlib.import_module("albert_fast.cluster")
    core = module._core
    punkt = tmp_path / "punkt"
    train_punkt((examples_dir / "en-twain4.txt").read_text(encoding="utf-8"), punkt)
    inputs = [literature_dir / n for n in ("en-twain1.txt", "de-HMann1.txt", "fr-Verne-2ans.txt")]
    inputs.append(examples_dir / "en-twain4.txt")
    kw = dict(punkt_params=str(punkt), shard_size_mb=0.05, doc_boundary="blank-line")
    local = prepare_corpus(inputs, tmp_path / "local", **kw)
    indexed: list[int] = []
    built: list[str] = []
    stop_after = [None]
    real_index, real_build = core.prepare_index, core.prepare_build_shard

    def index(path, i, *args, **kwargs):
        indexed.append(i)
        return real_index(path, i, *args, **kwargs)

    def build(task, target, *args):
        if stop_after[0] is not None and len(built) >= stop_after[0]:
            raise RuntimeError("stopped")
        built.append(task["shard"]["file_name"])
        return real_build(task, target, *args)

    monkeypatch.setattr(core, "prepare_index", index)
    monkeypatch.setattr(core, "prepare_build_shard", build)
    # "threads": the planned path on this process's threads for a local output (as the bench's mode)
    monkeypatch.setattr(module, "parse_cluster", lambda c: c)
    monkeypatch.setattr(module, "open_executor", lambda c, *a: cluster_module.open_executor(None, *a))

    def run(out: Path, stop: int | None) -> dict:
        indexed.clear()
        built.clear()
        stop_after[0] = stop
        return prepare_corpus(inputs, out, threads=1, cluster="threads", **kw)

    def plan_of(out: Path) -> tuple[str, list[dict], set[str], set[int]]:
        """A stopped run's fingerprint, shards (from its own indexes), built shards and the
        files whose staged text is gone."""
        fp = json.loads((out / ".prepare-state.json").read_text())["fingerprint"]
        plan_dir = out / ".prepare-plan"
        names = {p.name for p in plan_dir.iterdir()}
        assert {f"index2-{fp[:16]}-{i:05d}.bin" for i in range(len(inputs))} <= names
        _, tasks = core.prepare_plan([str(plan_dir / f"index2-{fp[:16]}-{i:05d}.bin") for i in range(len(inputs))],
                                     [str(plan_dir / f"text-{fp[:16]}-{i:05d}.txt") for i in range(len(inputs))],
                                     fp, shard_size_mb=0.05)
        done = {n[:-len(".done")] for n in names if n.endswith(".done")}
        gone = {i for i in range(len(inputs)) if f"text-{fp[:16]}-{i:05d}.txt" not in names}
        return fp, tasks, done, gone

    def files(task: dict) -> set[int]:
        return set(range(task["shard"]["first"][0], task["shard"]["last"][0] + 1))

    out = tmp_path / "stopped"
    with pytest.raises(RuntimeError, match="stopped"):
        run(out, stop=12)
    assert sorted(indexed) == [0, 1, 2, 3] and len(built) == 12
    fp, tasks, done, gone = plan_of(out)
    assert len(tasks) > 20 and done == set(built)
    # A staged text is gone only once every shard that reads it is built; some are gone already.
    assert gone and all(t["shard"]["file_name"] in done for t in tasks if files(t) & gone)
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    # The re-run reads no input again and keeps the 12 shards.
    stats = run(out, stop=None)
    assert indexed == [] and sorted(built) == sorted(t["shard"]["file_name"] for t in tasks
                                                      if t["shard"]["file_name"] not in done)
    assert stats["resumed_shards"] == 12
    assert files_of(out, "corpus-*.txt") == files_of(tmp_path / "local", "corpus-*.txt")
    assert {k: v for k, v in stats.items() if k not in ("output", "resumed_shards")} == {
        k: v for k, v in local.items() if k not in ("output", "resumed_shards")}
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("corpus-")) == [
        ".prepare-state.json", "stats.json"]
    # Stopped again; then a built shard is lost after its staged text went: that text alone is
    # staged again, and the shard comes back the same.
    out = tmp_path / "lost"
    with pytest.raises(RuntimeError, match="stopped"):
        run(out, stop=12)
    _, tasks, done, gone = plan_of(out)
    lost = next(t for t in tasks if files(t) & gone)
    (out / lost["shard"]["file_name"]).unlink()
    run(out, stop=None)
    assert indexed == sorted(files(lost) & gone) and lost["shard"]["file_name"] in built
    assert files_of(out, "corpus-*.txt") == files_of(tmp_path / "local", "corpus-*.txt")
    assert not (out / ".prepare-plan").exists()


@pytest.mark.slow
def test_train_tokenizer_sample_on_a_cluster_is_the_local_sample(dask_cluster, lit_corpus, tmp_path):
    cfg = {"tokenizer": {"vocab_size": 1000, "input_sentence_size": 5000}, "model": {"vocab_size": 1000}}
    inputs = sorted(lit_corpus.glob("*.txt"))[:6]
    local = train_tokenizer(inputs, tmp_path / "local", config=cfg, progress=False)
    remote = train_tokenizer(inputs, tmp_path / "cluster", config=cfg, progress=False,
                             cluster=dask_cluster.address)
    assert remote["input"] == local["input"] and remote["sentences"] == local["sentences"] == 5000
    assert files_of(tmp_path / "cluster") == files_of(tmp_path / "local")
    assert sorted(p.name for p in (tmp_path / "cluster").iterdir()) == [
        "spiece.model", "spiece.vocab", "tokenizer_config.json"]


def test_an_unreachable_scheduler_is_a_clear_error_within_the_timeout(spm_dir, corpus_dir, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(tmp_path / "out"),
                "--cluster", address, "--connect-timeout", "2", "--no-progress")
    assert r.returncode == 2, r.stderr
    assert f"cannot reach the Dask scheduler at {address} within 2 s" in r.stderr
    assert "Traceback" not in r.stderr and time.monotonic() - start < 60
    assert not list((tmp_path / "out").glob("*.tfrecord"))
    # The config's cluster section is what the Python API uses by default.
    with pytest.raises(ClusterError, match="cannot reach"):
        create_pretraining_data(corpus_dir, spm_dir, tmp_path / "api",
                                config={"cluster": {"address": address, "connect_timeout": 1}})


def test_an_unreachable_scheduler_stops_the_plan_made_meanwhile(spm_dir, corpus_dir, tmp_path, monkeypatch):
    """The scheduler is reached while pass 1 reads: when it cannot be, pass 1 (here one that
    would take a minute) is stopped at the timeout and that error is raised."""
    import albert_fast.create_data as cd

    seen: dict = {}

    class SlowPlan:
        def __init__(self, **kw):
            self.started = time.monotonic()

        def poll(self, timeout):
            assert time.monotonic() - self.started < 60
            return 0, False

        def close(self):
            seen["closed"] = True

    monkeypatch.setattr(cd._core, "CreateDataPlan", SlowPlan)
    start = time.monotonic()
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        create_pretraining_data(corpus_dir, spm_dir, tmp_path / "out", dupe_factor=1,
                                cluster=f"tcp://127.0.0.1:{free_port()}", config={"cluster": {"connect_timeout": 1}})
    assert time.monotonic() - start < 20 and seen == {"closed": True}


def test_standard_input_with_workers_elsewhere_is_a_clear_error(spm_dir, punkt_dir, tmp_path):
    """'-' is copied to this machine: a cluster at an address may not reach the copy."""
    for verb, extra in (("create-data", ["--tokenizer", str(spm_dir)]),
                        ("prepare-corpus", ["--punkt-params", str(punkt_dir)])):
        r = subprocess.run([sys.executable, "-m", "albert_fast", verb, "-", *extra, "-o", str(tmp_path / verb),
                            "--cluster", f"tcp://127.0.0.1:{free_port()}"],
                           input="One sentence. Two.\n", capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and "'-' (standard input) is copied to this machine" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / verb).exists()


def test_missing_dask_says_what_to_install(spm_dir, corpus_dir, tmp_path):
    shim = tmp_path / "shim" / "distributed"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('No module named distributed')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shim.parent), os.environ.get("PYTHONPATH", "")])}
    r = run_cli("prepare-corpus", str(corpus_dir), "-o", str(tmp_path / "out"), "--cluster", "local:2", env=env)
    assert r.returncode == 2
    assert "pip install 'albert-fast[dask]'" in r.stderr and "Traceback" not in r.stderr
    # create-data starts a local cluster in the background while it plans: the same clear error
    out = tmp_path / "data"
    r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(out), "--dupe_factor", "1",
                "--cluster", "local:2", env=env)
    assert r.returncode == 2
    assert "pip install 'albert-fast[dask]'" in r.stderr and "Traceback" not in r.stderr
    assert not list(out.rglob("*")), "nothing left behind"


def test_run_tasks_keeps_order_shows_one_bar_and_raises_the_first_error(capsys):
    ex = ThreadExecutor(3)
    try:
        got = run_tasks(ex, lambda x: (time.sleep(0.01 * (5 - x)), x * x)[1], [(i,) for i in range(5)],
                        key="t", weights=[10] * 5, desc="squares", show=True)
        assert got == [0, 1, 4, 9, 16]
        err = capsys.readouterr().err
        assert err.count("squares") >= 1 and "tasks=5/5" in err and "50.0" in err

        def fail(x):
            if x == 2:
                raise ValueError(f"bad input {x}")
            return x

        with pytest.raises(ValueError, match="bad input 2"):
            run_tasks(ex, fail, [(i,) for i in range(4)], key="f")
    finally:
        ex.close()


class _ScriptedPlan:
    """Pass 1 as a script: each poll closes the next count of shards (a CreateDataPlan's face)."""

    def __init__(self, closed_per_poll, shard_bytes):
        self.script, self.shard_bytes, self.known = list(closed_per_poll), shard_bytes, 0
        self.total = sum(self.script)  # the estimate before pass 1 ends: right

    def poll(self, timeout):
        self.known += self.script.pop(0) if self.script else 0
        return self.known, not self.script

    @property
    def expected_shards(self):
        return self.total

    @property
    def expected_bytes(self):
        return self.expected_shards * self.shard_bytes

    @property
    def input_bytes(self):
        return self.known * self.shard_bytes

    def task(self, start, end):
        return {"shards": list(range(start, end)), "input_bytes": (end - start) * self.shard_bytes}


def test_create_data_hands_out_tasks_while_pass_1_reads_and_gives_the_last_ones_more_threads():
    from albert_fast.create_data import _TASK_BYTES, _ShardTasks

    def hand_out(script, width, shard_bytes):
        tasks = _ShardTasks(_ScriptedPlan(script, shard_bytes), width, shard_bytes,
                            lambda task, threads: (task["shards"], threads))
        polls, over = [], False
        while not over:
            new, over = tasks.poll(0)
            polls.append((over, new))
        return polls

    # Two slots, 100 shards closed ten per poll: every task but the last two goes out while
    # pass 1 still reads, one thread each; the last two, held back, get two threads each.
    polls = hand_out([10] * 10 + [0], 2, 1 << 20)
    early = [args for over, new in polls if not over for args, _ in new]
    late = [args for over, new in polls if over for args, _ in new]
    assert early and early[0] == ([0], 1) and all(threads == 1 for _, threads in early)
    assert late == [([98], 2), ([99], 2)]
    assert [shards for shards, _ in early + late] == [[k] for k in range(100)]
    # Many small shards: several to a task, up to _TASK_BYTES of input, in closing order.
    polls = hand_out([1000] * 6, 2, 1 << 16)
    tasks = [args[0] for _, new in polls for args, _ in new]
    assert sum(tasks, []) == list(range(6000)) and max(map(len, tasks)) <= _TASK_BYTES // (1 << 16)
    assert len(tasks[0]) > 1 and [args[1] for _, new in polls for args, _ in new][-2:] == [2, 2]
    # Everything known at once (named output files, a resumable output): as before streaming.
    assert [args for _, new in hand_out([7], 3, 1 << 20) for args, _ in new] == [
        ([0], 1), ([1], 1), ([2], 1), ([3], 1), ([4], 3), ([5], 3), ([6], 3)]


def test_a_worker_with_another_environment_refuses_its_tasks(dask_cluster):
    """A worker whose package or Unicode tables differ from the driver's would write other
    bytes: its task fails with both values named instead. Here the driver claims another
    albert_fast version; the real workers compare it with their own."""
    from distributed import Client

    with Client(dask_cluster.address, timeout=60) as client:
        ex = DaskExecutor(client)
        assert run_tasks(ex, pow, [(2, 5)], key="env-same") == [32]
        ex.environment = {**ex.environment, "albert_fast": "0.0.0-other"}
        with pytest.raises(ClusterError, match=r"worker .*: albert_fast '.+', the driver's '0\.0\.0-other': "
                                               r"its output would not match"):
            run_tasks(ex, pow, [(2, 5)], key="env-other")


def _builder_options(corpus_dir: Path, spm_dir: Path, tmp_path: Path, monkeypatch) -> dict:
    """The options create-data hands the core (those a worker's builder is made with)."""
    import albert_fast.create_data as cd

    seen: dict = {}
    run = cd._core.create_data

    def capture(**kw):
        seen.update({k: v for k, v in kw.items() if k not in ("progress", "tokenizer")})
        return run(**kw)

    monkeypatch.setattr(cd._core, "create_data", capture)
    create_pretraining_data(corpus_dir, spm_dir, tmp_path / "seen", config=DATA)
    return seen


def test_a_worker_loads_the_model_once_and_again_when_the_driver_has_another(corpus_dir, spm_dir, tmp_path,
                                                                              monkeypatch):
    """The builder (the loaded model) is kept per process by model and SHA-256: the tasks of a
    run share it; a driver whose model changed (another SHA-256) gets a fresh one, checked
    against the worker's file; only the last few are kept."""
    from sentencepiece import sentencepiece_model_pb2

    import albert_fast.create_data as cd
    from albert_fast.io_utils import file_sha256

    options = _builder_options(corpus_dir, spm_dir, tmp_path, monkeypatch)
    model = tmp_path / "tok" / "spiece.model"
    model.parent.mkdir()
    model.write_bytes((spm_dir / "spiece.model").read_bytes())
    monkeypatch.setattr(cd, "_BUILDERS", {})
    first = cd._worker_builder(str(model), file_sha256(model), options)
    assert cd._worker_builder(str(model), file_sha256(model), options) is first

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.read_bytes())
    proto.pieces[10].score -= 1.0  # another model under the same name
    old_sha = file_sha256(model)
    model.write_bytes(proto.SerializeToString())
    assert cd._worker_builder(str(model), old_sha, options) is first, "the run in progress keeps its model"
    again = cd._worker_builder(str(model), file_sha256(model), options)
    assert again is not first
    with pytest.raises(Exception, match="SHA-256 differs from the driver's model"):
        cd._worker_builder(str(model), "0" * 64, options)
    cd._worker_builder(str(spm_dir / "spiece.model"), file_sha256(spm_dir / "spiece.model"), options)
    assert len(cd._BUILDERS) == cd._BUILDERS_KEPT


def test_a_local_cluster_is_warmed_while_the_driver_works_and_stopped_after_an_error():
    """starting_executor: the local cluster starts in the background, the warm-up runs on
    each of its workers before the tasks, its workers run with the quieter housekeeping
    (LOCAL_CLUSTER_CONFIG); an error in the caller's work stops the cluster all the same."""
    import psutil

    from albert_fast.cluster import LOCAL_CLUSTER_CONFIG, starting_executor

    def read(_: int) -> tuple:
        import dask

        import albert_fast.create_data as cd

        return (os.getpid(), cd._MARK, *(dask.config.get(k) for k in LOCAL_CLUSTER_CONFIG))

    with starting_executor("local:2", warm=(setattr, (sys.modules["albert_fast.create_data"], "_MARK", "warm"))) \
            as executor:
        ex = executor()
        assert ex.width == 2
        got = run_tasks(ex, read, [(i,) for i in range(8)], key="warmed")
    assert len({g[0] for g in got}) == 2 and {g[1:] for g in got} == {("warm", *LOCAL_CLUSTER_CONFIG.values())}
    assert not any(psutil.pid_exists(g[0]) for g in got), "the workers are stopped"

    def local_workers() -> list:  # (not the fixture's `dask worker`s nor multiprocessing's tracker)
        return [p for p in psutil.Process().children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]

    with pytest.raises(ValueError, match="the plan failed"):
        with starting_executor("local:1"):
            raise ValueError("the plan failed")
    assert not local_workers(), "the workers are stopped"
