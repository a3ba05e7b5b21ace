"""Inputs and outputs in object storage (docs/cluster.md): a real S3-compatible server (moto's
server mode) on 127.0.0.1, started here, reached through ``AWS_ENDPOINT_URL`` as boto reads it.
The stages give the same bytes as on local disk, resume there, and an unwritable bucket is a
clear error that leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from data_fixtures import corpus_dir, spm_dir  # noqa: F401 (fixtures)

from albert_fast import storage
from albert_fast.create_data import create_pretraining_data
from albert_fast.prepare_corpus import prepare_corpus, train_punkt

BUCKET = "albert-data"
READ_ONLY = "albert-read-only"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on a free port; the environment points boto (and so s3fs, and the CLI
    subprocesses) at it. Yields a boto3 client."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)
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
        yield client
    server.terminate()
    server.wait(20)


def upload(client, local: Path, prefix: str) -> str:
    for p in sorted(local.rglob("*")):
        if p.is_file():
            client.upload_file(str(p), BUCKET, f"{prefix}/{p.relative_to(local).as_posix()}")
    return f"s3://{BUCKET}/{prefix}"


def objects(client, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix``, read straight from the server."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) + 1:]] = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}


def local_files(d: Path, pattern: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.glob(pattern))}


@pytest.mark.slow
def test_prepare_corpus_from_and_to_s3_is_byte_identical_and_resumes(s3, examples_dir, tmp_path):
    punkt = tmp_path / "punkt"
    train_punkt((examples_dir / "en-twain4.txt").read_text(encoding="utf-8"), punkt)
    raw = upload(s3, examples_dir, "raw")
    local = prepare_corpus([examples_dir], tmp_path / "local", punkt_params=str(punkt), shard_size_mb=0.05)
    out = f"s3://{BUCKET}/prepared"
    stats = prepare_corpus([raw], out, punkt_params=str(punkt), shard_size_mb=0.05)
    got = objects(s3, BUCKET, "prepared")
    shards = {k: v for k, v in got.items() if k.startswith("corpus-")}
    assert len(shards) > 3 and shards == local_files(tmp_path / "local", "corpus-*.txt")
    assert sorted(set(got) - set(shards)) == [".prepare-state.json", "stats.json"]
    same = {"output", "fingerprint"}  # the inputs' names differ (s3:// URLs), so does the fingerprint
    # The per-file report and the warnings name the inputs as given: URLs for the bucket's run.
    named = json.loads(json.dumps({k: v for k, v in local.items() if k not in same}).replace(str(examples_dir), raw))
    assert {k: v for k, v in stats.items() if k not in same} == named
    assert json.loads(got["stats.json"]) == stats
    # A lost stats.json: the journal lists every shard, nothing is rebuilt.
    s3.delete_object(Bucket=BUCKET, Key="prepared/stats.json")
    again = prepare_corpus([raw], out, punkt_params=str(punkt), shard_size_mb=0.05)
    after = objects(s3, BUCKET, "prepared")
    assert again["resumed_shards"] == len(shards) and {k: after[k] for k in shards} == shards
    assert prepare_corpus([raw], out, punkt_params=str(punkt), shard_size_mb=0.05)["resumed"] == "already complete"


def test_create_data_reads_and_writes_s3_with_the_local_bytes(s3, corpus_dir, spm_dir, tmp_path):
    corpus, tok = upload(s3, corpus_dir, "corpus"), upload(s3, spm_dir, "tok")
    kw = dict(config={"data": {"max_seq_length": 64, "dupe_factor": 2}, "model": {"vocab_size": 4000}},
              shard_size_bytes=32 << 10, eval_fraction=0.1)
    create_pretraining_data(corpus_dir, spm_dir, tmp_path / "local", **kw)
    out = f"s3://{BUCKET}/cd"
    summary = create_pretraining_data(corpus, tok, out, **kw)
    got = objects(s3, BUCKET, "cd")
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


def test_an_unwritable_bucket_is_a_clear_error_and_leaves_nothing(s3, corpus_dir, spm_dir, tmp_path):
    for bucket, why in ((READ_ONLY, "permission denied"), ("no-such-bucket-here", "does not exist")):
        r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", f"s3://{bucket}/data",
                    "--max_seq_length", "64", "--no-progress")
        assert r.returncode == 2, r.stderr
        assert f"s3://{bucket}/data" in r.stderr and why in r.stderr and "Traceback" not in r.stderr
    assert objects(s3, READ_ONLY, "data") == {}


@pytest.mark.slow
def test_create_data_pretrain_export_hf_through_s3(s3, corpus_dir, spm_dir, tmp_path):
    """The whole data-to-model path against the bucket: create-data from s3:// into s3://,
    pretrain from it (TensorFlow has no S3 filesystem: the shards are staged through fsspec)
    into an s3:// run directory, export-hf from that into s3://."""
    corpus, tok = upload(s3, corpus_dir, "e2e/corpus"), upload(s3, spm_dir, "e2e/tok")
    cfg = {
        "model": dict(vocab_size=4000, embedding_size=16, hidden_size=32, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64),
        "text": {"lowercase": True},
        "data": dict(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=1),
        "pretraining": dict(train_batch_size=8, eval_batch_size=8, max_eval_steps=1, num_train_steps=4,
                            num_warmup_steps=1, save_checkpoints_steps=2, iterations_per_loop=2),
    }
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    base = f"s3://{BUCKET}/e2e"
    r = run_cli("create-data", corpus, "--tokenizer", tok, "-o", f"{base}/data", "--config", str(cfg_path),
                "--eval-fraction", "0.1", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = run_cli("pretrain", "--data", f"{base}/data", "-o", f"{base}/run", "--config", str(cfg_path), "--stop-at", "2")
    assert r.returncode == 0, r.stderr
    run = objects(s3, BUCKET, "e2e/run")
    assert {"checkpoint", "config.yaml", "ckpt-2.index", "eval_results.json"} <= set(run), sorted(run)
    # Resumed from the bucket: the second run continues at step 2.
    r = run_cli("pretrain", "--data", f"{base}/data", "-o", f"{base}/run", "--config", str(cfg_path), "--no-eval")
    assert r.returncode == 0 and "at step 2" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "ckpt-4.index" in objects(s3, BUCKET, "e2e/run")
    r = run_cli("export-hf", f"{base}/run", "-o", f"{base}/hf", "--tokenizer", tok, "--data", f"{base}/data",
                )
    assert r.returncode == 0, r.stderr
    hf = objects(s3, BUCKET, "e2e/hf")
    assert {"config.json", "model.safetensors", "spiece.model", "albert_fast_export.json"} <= set(hf)
    assert json.loads(hf["albert_fast_export.json"])["verified"] is True
    assert json.loads(hf["config.json"])["vocab_size"] == 4000
