"""Inputs and outputs in object storage (docs/cluster.md), against real servers on 127.0.0.1
started here: an S3-compatible one (moto's server mode, reached through ``AWS_ENDPOINT_URL`` as
boto reads it) and a GCS one (gcp-storage-emulator, reached through ``STORAGE_EMULATOR_HOST``
as gcsfs and Google's clients read it). The stages give the same bytes as on local disk, resume
there, and an unwritable bucket is a clear error that leaves nothing behind. The tests look at
the buckets through each server's own API (boto3; GCS's JSON API over HTTP), not through fsspec.

TensorFlow's own gs:// file system has no endpoint override, so pretrain reading TFRecords
from gs:// by TensorFlow itself is covered with its in-memory ram:// file system
(tests/test_fast_training.py); pretrain through a bucket end to end runs on S3."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from data_fixtures import corpus_dir, prep, punkt_dir, read_docs, spm_dir  # noqa: F401 (fixtures)

from albert_fast import _core, storage
from albert_fast.errors import InputError
from albert_fast.create_data import create_pretraining_data
from albert_fast.prepare_corpus import prepare_corpus, train_punkt

BUCKET = "albert-data"
READ_ONLY = "albert-read-only"


def _serve(argv: list[str], log_dir: Path) -> tuple[subprocess.Popen, int]:
    """A server process on a free 127.0.0.1 port (``{port}`` in argv), once it accepts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(log_dir / "server.log", "wb")
    server = subprocess.Popen([a.format(port=port) for a in argv], stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"{argv[0]} did not start: see {log_dir / 'server.log'}")
            time.sleep(0.1)


class S3:
    """The moto server seen through boto3."""

    scheme = "s3"

    def __init__(self, client) -> None:
        self.client = client

    def upload(self, local: Path, prefix: str) -> str:
        for p in sorted(local.rglob("*")):
            if p.is_file():
                self.client.upload_file(str(p), BUCKET, f"{prefix}/{p.relative_to(local).as_posix()}")
        return f"s3://{BUCKET}/{prefix}"

    def objects(self, prefix: str, bucket: str = BUCKET) -> dict[str, bytes]:
        """Every object under ``prefix``, read straight from the server."""
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for o in page.get("Contents", []):
                out[o["Key"][len(prefix) + 1:]] = self.client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        return out

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=BUCKET, Key=key)


class GCS:
    """The GCS emulator seen through GCS's JSON API."""

    scheme = "gs"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def _call(self, method: str, path: str, data: bytes | None = None, **query: str) -> bytes:
        url = f"{self.endpoint}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(f"{self.endpoint}/storage/v1/b", data=json.dumps({"name": name}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=30).close()

    def upload(self, local: Path, prefix: str) -> str:
        for p in sorted(local.rglob("*")):
            if p.is_file():
                name = f"{prefix}/{p.relative_to(local).as_posix()}"
                self._call("POST", f"/upload/storage/v1/b/{BUCKET}/o", p.read_bytes(), uploadType="media", name=name)
        return f"gs://{BUCKET}/{prefix}"

    def objects(self, prefix: str, bucket: str = BUCKET) -> dict[str, bytes]:
        out, token = {}, None
        while True:
            query = {"prefix": prefix + "/", **({"pageToken": token} if token else {})}
            listing = json.loads(self._call("GET", f"/storage/v1/b/{bucket}/o", **query))
            for o in listing.get("items", []):
                name = urllib.parse.quote(o["name"], safe="")
                out[o["name"][len(prefix) + 1:]] = self._call("GET", f"/download/storage/v1/b/{bucket}/o/{name}",
                                                              alt="media")
            token = listing.get("nextPageToken")
            if not token:
                return out

    def delete(self, key: str) -> None:
        self._call("DELETE", f"/storage/v1/b/{BUCKET}/o/{urllib.parse.quote(key, safe='')}")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server; the environment points boto (and so s3fs, and the CLI subprocesses)
    at it. A second bucket denies writes."""
    server, port = _serve([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"],
                          tmp_path_factory.mktemp("moto"))
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("ALBERT_FAST_CACHE", str(tmp_path_factory.mktemp("cache")))
        import boto3

        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=READ_ONLY)
        client.put_bucket_policy(Bucket=READ_ONLY, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
                                                   "Action": ["s3:PutObject"],
                                                   "Resource": f"arn:aws:s3:::{READ_ONLY}/*"}]}))
        yield S3(client)
    server.terminate()
    server.wait(20)


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """A GCS emulator (in memory); ``STORAGE_EMULATOR_HOST`` points gcsfs (and the CLI
    subprocesses) at it."""
    emulator = Path(sys.executable).with_name("gcp-storage-emulator")
    server, port = _serve([str(emulator), "start", "-H", "127.0.0.1", "--port", "{port}", "--in-memory", "-q"],
                          tmp_path_factory.mktemp("gcs"))
    store = GCS(f"http://127.0.0.1:{port}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STORAGE_EMULATOR_HOST", store.endpoint)
        mp.setenv("ALBERT_FAST_CACHE", str(tmp_path_factory.mktemp("cache")))
        store.create_bucket(BUCKET)
        yield store
    server.terminate()
    server.wait(20)


@pytest.fixture(params=["s3", "gs"])
def store(request):
    """Each object store in turn."""
    return request.getfixturevalue({"s3": "s3", "gs": "gcs"}[request.param])


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}


def local_files(d: Path, pattern: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.glob(pattern))}


def tiny_run_config(tmp_path: Path) -> Path:
    """A config for a 4-step pretraining run of a tiny model, checkpoints every 2 steps."""
    cfg = {
        "model": dict(vocab_size=4000, embedding_size=16, hidden_size=32, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64),
        "text": {"lowercase": True},
        "data": dict(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=1),
        "pretraining": dict(train_batch_size=8, eval_batch_size=8, max_eval_steps=1, num_train_steps=4,
                            num_warmup_steps=1, save_checkpoints_steps=2, iterations_per_loop=2),
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_prepare_corpus_from_and_to_a_bucket_is_byte_identical_and_resumes(store, examples_dir, tmp_path):
    punkt = tmp_path / "punkt"
    train_punkt((examples_dir / "en-twain4.txt").read_text(encoding="utf-8"), punkt)
    raw = store.upload(examples_dir, "raw")
    local = prepare_corpus([examples_dir], tmp_path / "local", punkt_params=str(punkt), shard_size_mb=0.05)
    out = f"{store.scheme}://{BUCKET}/prepared"
    stats = prepare_corpus([raw], out, punkt_params=str(punkt), shard_size_mb=0.05)
    got = store.objects("prepared")
    shards = {k: v for k, v in got.items() if k.startswith("corpus-")}
    assert len(shards) > 3 and shards == local_files(tmp_path / "local", "corpus-*.txt")
    assert sorted(set(got) - set(shards)) == [".prepare-state.json", "stats.json"]
    # The tasks ran here: the staging area was a local cache directory, removed at the end.
    staging = Path(os.environ["ALBERT_FAST_CACHE"]) / "prepare-plan"
    assert staging.is_dir() and not list(staging.iterdir())
    same = {"output", "fingerprint"}  # the inputs' names differ (URLs), so does the fingerprint
    # The per-file report and the warnings name the inputs as given: URLs for the bucket's run.
    named = json.loads(json.dumps({k: v for k, v in local.items() if k not in same}).replace(str(examples_dir), raw))
    assert {k: v for k, v in stats.items() if k not in same} == named
    assert json.loads(got["stats.json"]) == stats
    # A lost stats.json: the journal lists every shard, nothing is rebuilt.
    store.delete("prepared/stats.json")
    again = prepare_corpus([raw], out, punkt_params=str(punkt), shard_size_mb=0.05)
    after = store.objects("prepared")
    assert again["resumed_shards"] == len(shards) and {k: after[k] for k in shards} == shards
    assert prepare_corpus([raw], out, punkt_params=str(punkt), shard_size_mb=0.05)["resumed"] == "already complete"


def test_parquet_arrow_and_datasets_inputs_in_a_bucket(store, punkt_dir, tmp_path):
    """Columnar inputs by URL: a Parquet file (read by ranged requests: footer, then the one
    column), an Arrow IPC file (seeks to its footer) and a `datasets` save_to_disk directory
    (Arrow streams) give the documents of the same files on local disk."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    datasets = pytest.importorskip("datasets")
    rows = ["Tom went home. He slept well.", None, "A second doc. It has\ntwo lines.", "Third one. Short."]
    local = tmp_path / "columnar"
    local.mkdir()
    pq.write_table(pa.table({"id": list(range(len(rows))), "content": rows}), local / "a.parquet", row_group_size=2)
    with pa.ipc.new_file(local / "b.arrow", pa.schema([("content", pa.string())])) as w:
        w.write_table(pa.table({"content": rows[::-1]}))
    datasets.Dataset.from_dict({"content": rows}).save_to_disk(str(tmp_path / "ds"), num_shards=2)
    inputs = [local / "a.parquet", local / "b.arrow", tmp_path / "ds"]
    expected = prep(inputs, tmp_path / "local", punkt_dir, text_column="content")
    prefix = f"columnar-{store.scheme}"
    remote = [f"{store.upload(local, prefix)}/a.parquet", f"{store.scheme}://{BUCKET}/{prefix}/b.arrow",
              store.upload(tmp_path / "ds", f"{prefix}-ds")]
    got = prep(remote, tmp_path / "remote", punkt_dir, text_column="content")
    assert read_docs(tmp_path / "remote") == read_docs(tmp_path / "local") and read_docs(tmp_path / "local")
    assert [f["mode"] for f in got["files"]] == [f["mode"] for f in expected["files"]] == ["row"] * 4
    assert [f["file"].rsplit("/", 1)[-1] for f in got["files"]] == [
        "a.parquet", "b.arrow", "data-00000-of-00002.arrow", "data-00001-of-00002.arrow"]
    # A DatasetDict in a bucket is refused as on disk: the split must be named.
    ds = datasets.Dataset.from_dict({"content": rows})
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dd"))
    dd = store.upload(tmp_path / "dd", f"{prefix}-dd")
    with pytest.raises(InputError, match=rf"{dd}: a datasets DatasetDict with splits; give the split to read: "
                                         rf"{dd}/train, {dd}/test"):
        prep([dd], tmp_path / "dd-out", punkt_dir, text_column="content")


def test_a_directory_in_a_bucket_expands_as_on_disk(store, tmp_path):
    """A bucket "directory" gives the inputs a local directory gives, level by level: nested
    `datasets` and prepare-corpus directories contribute only their data, hidden entries are
    skipped, names in the core's order."""
    datasets = pytest.importorskip("datasets")
    from albert_fast import _core

    tree = tmp_path / "tree"
    (tree / "b-docs" / ".cache").mkdir(parents=True)
    (tree / "a.txt").write_text("One. Two.\n")
    (tree / "a-z.txt").write_text("Three.\n")
    (tree / "b-docs" / "c.txt").write_text("Four.\n")
    (tree / "b-docs" / ".cache" / "x.txt").write_text("not an input\n")
    (tree / ".hidden.txt").write_text("not an input\n")
    datasets.Dataset.from_dict({"text": ["Five. Six."]}).save_to_disk(str(tree / "b-docs" / "ds"))
    (tree / "prepared").mkdir()
    for name in (_core.PREPARED_STATE_FILE, "stats.json", "corpus-00000.txt"):
        (tree / "prepared" / name).write_text("{}\n" if name.endswith(".json") else "Seven.\n")
    local, local_hidden = _core.expand_inputs([str(tree)])
    url = store.upload(tree, f"tree-{store.scheme}")
    remote, remote_hidden = storage.expand_inputs([url])
    assert [r[len(url):] for r in remote] == [p[len(str(tree)):] for p in local]
    assert "/b-docs/ds/data-00000-of-00001.arrow" in [r[len(url):] for r in remote]
    assert remote_hidden == local_hidden == 2


def test_create_data_reads_and_writes_a_bucket_with_the_local_bytes(store, corpus_dir, spm_dir, tmp_path):
    corpus, tok = store.upload(corpus_dir, "corpus"), store.upload(spm_dir, "tok")
    kw = dict(config={"data": {"max_seq_length": 64, "dupe_factor": 2}, "model": {"vocab_size": 4000}},
              shard_size_bytes=32 << 10, eval_fraction=0.1)
    create_pretraining_data(corpus_dir, spm_dir, tmp_path / "local", **kw)
    out = f"{store.scheme}://{BUCKET}/cd"
    summary = create_pretraining_data(corpus, tok, out, **kw)
    got = store.objects("cd")
    records = {k: v for k, v in got.items() if k.endswith(".tfrecord")}
    assert len(records) > 5 and records == local_files(tmp_path / "local", "*.tfrecord")
    manifest = json.loads(got["manifest.json"])
    expected = json.loads((tmp_path / "local" / "manifest.json").read_text())
    assert manifest["tokenizer"]["path"] == f"{tok}/spiece.model"
    assert [i["path"] for i in manifest["inputs"]] == [f"{corpus}/{p.name}" for p in sorted(corpus_dir.glob("*.txt"))]
    for m in (manifest, expected):
        m.pop("inputs"), m["tokenizer"].pop("path")
    assert manifest == expected
    assert summary["manifest"] == f"{out}/manifest.json"
    # A re-run finds every shard finished (markers, with each object's version).
    again = create_pretraining_data(corpus, tok, out, **kw)
    assert again["resumed_files"] == len(records)
    # Records read straight from the bucket (the core's RecordReader through the store, as
    # pretrain's start-up check reads gs:// data) and counted against the bucket's manifest.
    from albert_fast.data_check import count_mismatches, count_records

    first = manifest["files"]["train"][0]
    url = f"{out}/{first['file']}"
    assert count_records(url) == first["records"] > 0
    assert count_mismatches({url: first["records"]}) == []
    assert count_mismatches({url: first["records"] + 1}) == [
        f"{url}: {first['records'] + 1} records, but manifest.json lists {first['records']} "
        "(changed since create-data wrote it?)"]


def test_create_data_stopped_mid_run_into_a_bucket_resumes_from_its_hidden_objects(s3, corpus_dir, spm_dir, tmp_path,
                                                                                   monkeypatch):
    """Into a fresh bucket prefix the shards are uploaded under hidden provisional names as pass
    1 closes them and moved to their final names at the end. A run stopped mid-way (here: the
    fourth shard's build fails) leaves nothing under a final name; the re-run keeps the shards
    it finds under provisional names and the result is the local run's bytes."""
    import albert_fast.create_data as cd

    kw = dict(config={"data": {"max_seq_length": 64, "dupe_factor": 2}, "model": {"vocab_size": 4000}},
              shard_size_bytes=16 << 10, eval_fraction=0.1, threads=1)
    create_pretraining_data(corpus_dir, spm_dir, tmp_path / "local", **kw)
    expected = local_files(tmp_path / "local", "*.tfrecord")
    out = f"s3://{BUCKET}/stopped"
    build, calls = cd._build_to_url, []

    def stopping(builder, task, k, *args):
        calls.append(task["shards"][k]["file_name"])
        if len(calls) == 4:
            raise RuntimeError("stopped")
        return build(builder, task, k, *args)

    monkeypatch.setattr(cd, "_build_to_url", stopping)
    with pytest.raises(RuntimeError, match="stopped"):
        create_pretraining_data(corpus_dir, spm_dir, out, **kw)
    monkeypatch.undo()
    left = s3.objects("stopped")
    assert all(_core.is_provisional_file_name(c) for c in calls)
    kept = sorted(k for k in left if k.endswith(".tfrecord"))
    # (the three before it, and any other task that had started meanwhile)
    assert len(kept) >= 3 and all(_core.is_provisional_file_name(k) for k in kept), sorted(left)
    assert "manifest.json" not in left
    again = create_pretraining_data(corpus_dir, spm_dir, out, **kw)
    assert again["resumed_files"] == len(kept)
    got = s3.objects("stopped")
    assert {k: v for k, v in got.items() if k.endswith(".tfrecord")} == expected
    assert not [k for k in got if k.rsplit("/", 1)[-1].startswith(".")], sorted(got)  # no provisional object


def test_standard_input_into_a_bucket(s3, corpus_dir, spm_dir, punkt_dir, tmp_path):
    """'-' into an s3:// output: copied to the local cache, built as for a local output,
    named '-' in what is written, the copy removed, and a re-run with the same text resumes."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(corpus_dir.glob("*.txt")))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "albert_fast", *args, "--no-progress"], input=text,
                              capture_output=True, text=True, timeout=600)

    r = cli("prepare-corpus", "-", "-o", f"s3://{BUCKET}/stdin-prep", "--punkt-params", str(punkt_dir))
    assert r.returncode == 0, r.stderr
    got = s3.objects("stdin-prep")
    stats = json.loads(got["stats.json"])
    assert [f["file"] for f in stats["files"]] == ["-"] and ".stdin-" not in got["stats.json"].decode()
    assert any(k.startswith("corpus-") for k in got)
    r = cli("create-data", "-", "--tokenizer", str(spm_dir), "-o", f"s3://{BUCKET}/stdin-cd", "--max_seq_length", "64")
    assert r.returncode == 0, r.stderr
    manifest = json.loads(s3.objects("stdin-cd")["manifest.json"])
    assert [i["path"] for i in manifest["inputs"]] == ["-"] and manifest["files"]["train"]
    local = tmp_path / "local"
    r = subprocess.run([sys.executable, "-m", "albert_fast", "create-data", "-", "--tokenizer", str(spm_dir), "-o",
                        str(local), "--max_seq_length", "64", "--no-progress"], input=text, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert {k: v for k, v in s3.objects("stdin-cd").items() if k.endswith(".tfrecord")} == local_files(local, "*.tfrecord")
    assert not list((Path(os.environ["ALBERT_FAST_CACHE"]) / "stdin").rglob(".stdin-*")), "the copy is removed"
    # Each bucket output has its own place for the copy (runs into two outputs never share it),
    # the same on every run (so the same text resumes).
    spool = storage.stdin_spool_dir(f"s3://{BUCKET}/stdin-cd")
    assert spool == storage.stdin_spool_dir(f"s3://{BUCKET}/stdin-cd") != storage.stdin_spool_dir(f"s3://{BUCKET}/stdin-prep")
    assert spool.parent == Path(os.environ["ALBERT_FAST_CACHE"]) / "stdin"
    r = cli("create-data", "-", "--tokenizer", str(spm_dir), "-o", f"s3://{BUCKET}/stdin-cd", "--max_seq_length", "64")
    assert r.returncode == 0, r.stderr
    assert "resum" in (r.stdout + r.stderr).lower() or "already" in (r.stdout + r.stderr).lower(), r.stdout + r.stderr


def test_an_unwritable_bucket_is_a_clear_error_and_leaves_nothing(store, corpus_dir, spm_dir, tmp_path):
    cases = [("no-such-bucket-here", "does not exist")]
    if store.scheme == "s3":  # the emulator has no access control
        cases.append((READ_ONLY, "permission denied"))
    for bucket, why in cases:
        url = f"{store.scheme}://{bucket}/data"
        r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", url,
                    "--max_seq_length", "64", "--no-progress")
        assert r.returncode == 2, r.stderr
        assert url in r.stderr and why in r.stderr and "Traceback" not in r.stderr
    if store.scheme == "s3":
        assert store.objects("data", bucket=READ_ONLY) == {}


@pytest.mark.slow
def test_create_data_pretrain_export_hf_through_s3(s3, corpus_dir, spm_dir, tmp_path):
    """The whole data-to-model path against the bucket: create-data from s3:// into s3://,
    pretrain from it (TensorFlow has no S3 filesystem: the shards are staged through fsspec)
    into an s3:// run directory, export-hf from that into s3://."""
    corpus, tok = s3.upload(corpus_dir, "e2e/corpus"), s3.upload(spm_dir, "e2e/tok")
    cfg_path = tiny_run_config(tmp_path)
    base = f"s3://{BUCKET}/e2e"
    r = run_cli("create-data", corpus, "--tokenizer", tok, "-o", f"{base}/data", "--config", str(cfg_path),
                "--eval-fraction", "0.1", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = run_cli("pretrain", "--data", f"{base}/data", "-o", f"{base}/run", "--config", str(cfg_path), "--stop-at", "2")
    assert r.returncode == 0, r.stderr
    run = s3.objects("e2e/run")
    assert {"checkpoint", "config.yaml", "ckpt-2.index", "eval_results.json"} <= set(run), sorted(run)
    # Resumed from the bucket: the second run continues at step 2.
    r = run_cli("pretrain", "--data", f"{base}/data", "-o", f"{base}/run", "--config", str(cfg_path), "--no-eval")
    assert r.returncode == 0 and "at step 2" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "ckpt-4.index" in s3.objects("e2e/run")
    r = run_cli("export-hf", f"{base}/run", "-o", f"{base}/hf", "--tokenizer", tok, "--data", f"{base}/data",
                )
    assert r.returncode == 0, r.stderr
    hf = s3.objects("e2e/hf")
    assert {"config.json", "model.safetensors", "spiece.model", "albert_fast_export.json"} <= set(hf)
    assert json.loads(hf["albert_fast_export.json"])["verified"] is True
    assert json.loads(hf["config.json"])["vocab_size"] == 4000


@pytest.mark.slow
def test_pretrain_run_directory_and_export_hf_in_gcs(gcs, corpus_dir, spm_dir, tmp_path):
    """A Cloud TPU run's outputs: the run directory (checkpoints) and the export in a
    gs:// bucket. The TFRecords are local here (TensorFlow reads gs:// data itself, see the
    module docstring)."""
    cfg_path = tiny_run_config(tmp_path)
    data, base = tmp_path / "data", f"gs://{BUCKET}/tpu"
    r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(data), "--config",
                str(cfg_path), "--eval-fraction", "0.1", "--no-progress")
    assert r.returncode == 0, r.stderr
    # (Resuming from the bucket's latest checkpoint is the S3 test's; the mirror is the same code.)
    r = run_cli("pretrain", "--data", str(data), "-o", f"{base}/run", "--config", str(cfg_path), "--no-eval")
    assert r.returncode == 0, r.stderr
    assert {"checkpoint", "config.yaml", "ckpt-2.index", "ckpt-4.index"} <= set(gcs.objects("tpu/run"))
    r = run_cli("export-hf", f"{base}/run", "-o", f"{base}/hf", "--tokenizer", str(spm_dir), "--data", str(data))
    assert r.returncode == 0, r.stderr
    hf = gcs.objects("tpu/hf")
    assert {"config.json", "model.safetensors", "spiece.model", "albert_fast_export.json"} <= set(hf)
    assert json.loads(hf["albert_fast_export.json"])["verified"] is True
